"""API keys never appear in logs, error bodies or the audit log (issue 8, point 6).

Keys are made as an operator makes them (`branchstats keys create`), then used for writes
that succeed and writes that are refused (a wrong, malformed, revoked or read-only key,
the token in the wrong place), with every log record captured at DEBUG (the app's,
SQLAlchemy's statements and rows, uvicorn's). No log line, response body or header and no
audit entry may contain a token, the secret part of one, or its SHA-256 (what the database
keeps). The key's prefix (`bs_` and 8 characters) is not a secret: it names the key in
`branchstats keys list`, as GitHub's token prefixes do.

Once in process (pytest's caplog over a TestClient), once against the real server (uvicorn
at log level trace, with access logs and a root logger at DEBUG, written to a file).
"""

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.cli import main
from app.services.auth import PREFIX_LENGTH, token_hash
from tests.conftest import make_client
from tests.servers import Server, say

CLIENT_LOGGERS = ("httpx", "httpcore")
# SQLAlchemy keeps its loggers at WARNING unless told otherwise; INFO logs every statement
# with its parameters (what `echo=True` does, what an operator turns on to see the SQL).
# DEBUG would add every row of every result: a dump of the data, key hashes included,
# that no one runs in production; the check stops at INFO.
SQL_LOG_LEVEL = logging.INFO
TEXT = "Chi bộ thôn Bí Mật hiện có 12 đảng viên. Năm 2023, chi bộ kết nạp 2 đảng viên mới."
# Every logger to stderr at DEBUG (SQLAlchemy logs statements at INFO and rows at DEBUG);
# uvicorn's own loggers as the command line sets them (trace, access log on).
LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"level": "DEBUG", "handlers": ["stderr"]},
    "loggers": {"sqlalchemy": {"level": logging.getLevelName(SQL_LOG_LEVEL)}},
}


@dataclass
class Keys:
    """Tokens made with the CLI, by name."""

    tokens: dict[str, str]

    def secrets(self) -> dict[str, str]:
        """What must never be shown: each token, its secret part, its SHA-256."""
        found = {}
        for name, token in self.tokens.items():
            found[f"{name} token"] = token
            found[f"{name} secret part"] = token[PREFIX_LENGTH:]
            found[f"{name} sha256"] = token_hash(token)
        return found

    def bearer(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}


@dataclass
class Exchange:
    """What the API answered, as one text to search."""

    statuses: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    def add(self, response: httpx.Response) -> httpx.Response:
        self.statuses.append(response.status_code)
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        self.texts.append(f"{response.status_code}\n{headers}\n{response.text}")
        return response


def make_keys(database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Keys:
    monkeypatch.setenv("DATABASE_URL", database_url)
    tokens = {}
    for name, scope in (("editor", "write"), ("reader", "read"), ("leaving", "write")):
        assert main(["keys", "create", name, "--scope", scope]) == 0
        tokens[name] = capsys.readouterr().out.strip().splitlines()[-1]  # shown once, here
    assert main(["keys", "revoke", "leaving"]) == 0
    assert main(["keys", "list"]) == 0
    listing = capsys.readouterr().out
    assert all(token not in listing for token in tokens.values())
    return Keys(tokens)


def exercise(client: httpx.Client, keys: Keys, tag: str, *, token_in_url: bool = True) -> Exchange:
    """Writes that succeed, writes refused for their key, and the audit log.

    `token_in_url`: also send the token in a query string (refused with 400, never
    echoed). Not against the real server: an access log records every URL as sent, and
    a token a client put in a URL is in it, as in any proxy's log on the way.
    """
    seen = Exchange()
    editor = keys.bearer("editor")
    token = keys.tokens["editor"]
    source = seen.add(
        client.request(
            "POST", "/sources", json={"key": f"test-secret-{tag}", "text": TEXT}, headers=editor
        )
    )
    assert source.status_code == 201, source.text
    source_id = source.json()["id"]
    branches = client.request("GET", "/branches", params={"limit": 1}).json()["items"]
    count = {
        "source_id": source_id,
        "branch_id": branches[0]["id"],
        "value": 12,
        "quote": "hiện có 12 đảng viên",
        "figure": "12",
    }
    created = seen.add(
        client.request(
            "POST", "/membership-counts", json=count, headers={**editor, "Idempotency-Key": tag}
        )
    )
    assert created.status_code == 201, created.text
    path = f"/membership-counts/{created.json()['id']}"
    etag = client.request("GET", path).headers["etag"]
    changed = seen.add(
        client.request(
            "PATCH", path, json={"qualifier": "approximate"}, headers={**editor, "If-Match": etag}
        )
    )
    assert changed.status_code == 200, changed.text
    wrong = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")  # the prefix is right
    refused = {
        "a wrong token": {"Authorization": f"Bearer {wrong}"},
        "a malformed token": {"Authorization": f"Bearer {token}x"},
        "a revoked key": keys.bearer("leaving"),
        "a read-only key": keys.bearer("reader"),
        "another scheme": {"Authorization": f"Token {token}"},
        "basic auth": {"Authorization": f"Basic {token}"},
        "no scheme": {"Authorization": token},
        "an API key header": {"X-API-Key": token},
    }
    body = {"key": f"test-secret-{tag}-refused", "text": TEXT}
    for what, headers in refused.items():
        response = seen.add(client.request("POST", "/sources", json=body, headers=headers))
        assert response.status_code in (401, 403), (what, response.text)
    # The token where no token belongs: the query string, a JSON field, a bad If-Match.
    misplaced: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/sources", {"json": {**body, "token": token}, "headers": editor}),
        ("PATCH", path, {"json": {"value": token}, "headers": {**editor, "If-Match": etag}}),
        ("PATCH", path, {"json": {"note": "x"}, "headers": {**editor, "If-Match": token}}),
    ]
    if token_in_url:
        misplaced += [
            ("POST", f"/sources?api_key={token}", {"json": body, "headers": editor}),
            ("GET", f"/branches?token={token}", {}),
        ]
    for method, url, kwargs in misplaced:
        response = seen.add(client.request(method, url, **kwargs))
        assert 400 <= response.status_code < 500, (url, response.text)
    audit = seen.add(client.request("GET", "/audit", params={"limit": 100}, headers=editor))
    assert audit.status_code == 200 and audit.json()["items"], audit.text
    return seen


def leaks(keys: Keys, where: dict[str, str]) -> list[str]:
    return [
        f"{secret} in {place}"
        for secret, value in keys.secrets().items()
        for place, text in where.items()
        if value in text
    ]


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)  # the root logger: every logger's records
    caplog.set_level(SQL_LOG_LEVEL, logger="sqlalchemy")
    yield caplog


def test_no_secret_in_logs_or_answers_in_process(
    backend: str,
    seeded_url: str,
    debug_logs: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    keys = make_keys(seeded_url, monkeypatch, capsys)
    with make_client(seeded_url) as client:
        seen = exercise(client, keys, "in-process")
    # The test's own HTTP client logs the URLs it requests, the token in a query string
    # included: that is the caller's log, not the service's.
    records = [r for r in debug_logs.records if not r.name.startswith(CLIENT_LOGGERS)]
    logged = "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''} {r.stack_info or ''}" for r in records
    )
    out, err = capsys.readouterr()
    where = {
        "log records": logged,
        "stdout/stderr": out + err,
        "responses": "\n".join(seen.texts),
    }
    assert not leaks(keys, where)
    sql_records = sum(r.name.startswith("sqlalchemy") for r in records)
    assert sql_records > 0, "SQLAlchemy's logging was not captured"
    say(
        request.config,
        f"secrets [{backend}, in process]: {len(keys.tokens)} keys, {len(seen.statuses)} "
        f"requests (statuses {sorted(set(seen.statuses))}), {len(records)} log records at "
        f"DEBUG ({sql_records} SQLAlchemy): no token, secret part or hash in logs, "
        f"bodies, headers or the audit log",
    )


def test_no_secret_in_the_real_servers_logs(
    backend: str,
    seeded_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    keys = make_keys(seeded_url, monkeypatch, capsys)
    log_config = tmp_path / "logging.json"
    log_config.write_text(json.dumps(LOG_CONFIG))
    server = Server(
        seeded_url,
        tmp_path / "uvicorn.log",
        log_level="trace",
        access_log=True,
        extra_args=("--log-config", str(log_config)),
    )
    with server, httpx.Client(base_url=server.base, timeout=30) as client:
        seen = exercise(client, keys, "server", token_in_url=False)
    log = server.log_text()
    assert not leaks(keys, {"the server's log": log, "responses": "\n".join(seen.texts)})
    # The log did record these requests, at every level that could have leaked.
    assert '"POST /sources HTTP/1.1" 201' in log and '"POST /sources HTTP/1.1" 401' in log
    assert "ASGI [" in log and "sqlalchemy.engine" in log, log[-2000:]
    say(
        request.config,
        f"secrets [{backend}, real server]: {len(seen.statuses)} requests; uvicorn at trace "
        f"with access log and every logger at DEBUG wrote {len(log.splitlines())} lines: "
        f"no token, secret part or hash",
    )
