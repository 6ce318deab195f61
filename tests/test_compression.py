"""Who is sent gzip: Accept-Encoding read with its weights (RFC 9110 12.5.3)."""

import pytest
from fastapi.testclient import TestClient
from starlette.datastructures import Headers

from app.compression import accepts_gzip


@pytest.mark.parametrize(
    ("accept_encoding", "gzip"),
    [
        ("gzip", True),
        ("gzip, deflate, br", True),
        ("br;q=1.0, GZIP;q=0.5", True),
        ("x-gzip", True),
        ("gzip; q=0.001", True),
        ("gzip;q=0", False),
        ("gzip;q=0.0, identity", False),
        ("gzip;q=nonsense", False),
        ("identity", False),
        ("deflate, br", False),
        ("", False),
        ("gzipped", False),
    ],
)
def test_accept_encoding_is_read_with_its_weights(accept_encoding: str, gzip: bool) -> None:
    assert accepts_gzip(Headers({"accept-encoding": accept_encoding})) is gzip


@pytest.mark.parametrize("url", ["/branches?limit=500", "/membership-counts?format=csv"])
def test_gzip_refused_by_weight_is_not_sent(api: TestClient, url: str) -> None:
    """A kept answer and a streamed export alike: the body as it is."""
    plain = api.get(url, headers={"accept-encoding": "identity"})
    refused = api.get(url, headers={"accept-encoding": "gzip;q=0, identity"})
    assert refused.status_code == 200
    assert "content-encoding" not in refused.headers
    assert refused.content == plain.content
