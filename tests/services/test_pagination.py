"""Cursors: signed, of one sort and filters, refused once their values mean other things."""

import base64
import hashlib
import hmac

import orjson
import pytest
from sqlalchemy import column

from app.errors import ApiError
from app.services.pagination import PageRequest, SortKey, decode_cursor, encode_cursor

SECRET = b"test secret"
KEYS = [SortKey(column("name_order"), str), SortKey(column("id"), int)]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _cursor_of_version(values: list[object], page: PageRequest, version: int) -> str:
    """A cursor as a server of another version signed it."""
    payload = orjson.dumps({"v": values, "s": page.sort, "f": page.filters_digest, "k": version})
    signature = hmac.new(SECRET, payload, hashlib.sha256).digest()[:12]
    return f"{_b64(payload)}.{_b64(signature)}"


@pytest.mark.parametrize("sort", ["name", "-name"])
def test_a_cursor_of_names_from_before_0026_is_refused(sort: str) -> None:
    """Its name_order was of a place's official name: read against the keys of its name,
    it would skip or repeat rows without a word. Refused, it says start again."""
    page = PageRequest(limit=5, cursor=None, sort=sort, filters_digest="f")
    current = encode_cursor(["ab", 7], page, SECRET)
    assert decode_cursor(current, KEYS, page, SECRET) == ["ab", 7]
    with pytest.raises(ApiError) as refused:
        decode_cursor(_cursor_of_version(["ab", 7], page, 2), KEYS, page, SECRET)
    assert refused.value.status == 400 and "earlier version" in refused.value.detail


def test_a_cursor_of_another_sort_keeps_its_version() -> None:
    page = PageRequest(limit=5, cursor=None, sort="id", filters_digest="f")
    assert decode_cursor(_cursor_of_version([7], page, 2), KEYS[1:], page, SECRET) == [7]


@pytest.mark.parametrize(
    "values",
    [
        ["ab", 7, 8],  # more values than keys
        ["ab"],  # fewer
        ["ab", True],  # a boolean is no id, though Python counts it an int
        [7, "ab"],  # each of the other key's kind
    ],
)
def test_a_signed_cursor_whose_values_do_not_fit_the_keys_is_a_400(values: list[object]) -> None:
    """From a mutation audit: signed with the secret (public until CURSOR_SECRET is set),
    a cursor's values are input like any other; too many of them reached zip(strict=True)
    as a ValueError (a 500), and `true` an id's bound. Each is the 400 naming the cursor."""
    page = PageRequest(limit=5, cursor=None, sort="name", filters_digest="f")
    with pytest.raises(ApiError) as refused:
        decode_cursor(encode_cursor(values, page, SECRET), KEYS, page, SECRET)
    assert refused.value.status == 400
    assert refused.value.errors is not None
    assert [e.field for e in refused.value.errors] == ["query.cursor"]
