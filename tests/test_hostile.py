"""A hostile-input catalogue for the read API (issue 8, point 2).

Cases are generated from tables (endpoint x parameter x payload). Each is answered by a clear
4xx problem (application/problem+json with status, title, detail, and `errors[].field`
naming the parameter when one parameter is at fault), never a 5xx, and the module writes
nothing: the row count of every table is the same before and after, on each backend.

Two kinds of hostile input are legitimate and answered 200 on purpose:
- free text (`q`, `publisher`): an injection string is a search like any other; it finds
  few or no rows, and never every row;
- Vietnamese written in NFD, or with zero-width characters: the search folds them away and
  still finds the place (`q=Kh\u200béo Lẹng` finds Chi bộ thôn Khéo Lẹng).
"""

import base64
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, inspect, select, table

from app.errors import PROBLEM_JSON
from app.middleware import MAX_QUERY_BYTES
from tests.servers import say

# -- The read API, as tables ------------------------------------------------------------
# Parameter kinds decide what a bad value must get.
ID, COUNT, DATE, ENUM, BOOL, CODE, TEXT, EXACT, LIMIT, CURSOR = (
    "id", "count", "date", "enum", "bool", "code", "text", "exact", "limit", "cursor"
)  # fmt: skip
PAGING = {"limit": LIMIT, "cursor": CURSOR, "format": ENUM, "bom": BOOL}
LISTS: dict[str, dict[str, str]] = {
    "/localities": {
        "kind": ENUM, "parent": ID, "code": CODE, "q": TEXT, "current": BOOL, "within": ID,
        "sort": ENUM, **PAGING,
    },
    "/branches": {
        "locality": ID, "province": ID, "kind": ENUM, "parent": ID, "q": TEXT,
        "min_members": COUNT, "max_members": COUNT, "risk": ENUM, "risk_level": ENUM,
        "as_of": DATE, "sort": ENUM, **PAGING,
    },
    "/membership-counts": {
        "branch": ID, "locality": ID, "source": ID, "from": DATE, "to": DATE, "status": ENUM,
        "sort": ENUM, **PAGING,
    },
    "/admissions": {
        "kind": ENUM, "branch": ID, "locality": ID, "source": ID, "from": DATE, "to": DATE,
        "sort": ENUM, **PAGING,
    },
    "/facts": {
        "metric": ENUM, "branch": ID, "locality": ID, "source": ID, "from": DATE, "to": DATE,
        "sort": ENUM, **PAGING,
    },
    "/sources": {"q": TEXT, "publisher": EXACT, "sort": ENUM, **PAGING},
    "/risk/evidence": {
        "locality": ID, "province": ID, "kind": ENUM, "risk_level": ENUM, "as_of": DATE,
        **PAGING,
    },
}  # fmt: skip
# Endpoints with a path id: (template, path parameter, query parameters).
DETAILS: list[tuple[str, str, dict[str, str]]] = [
    ("/localities/{}", "locality_id", {}),
    ("/localities/{}/stats", "locality_id", {}),
    ("/branches/{}", "branch_id", {"as_of": DATE}),
    ("/branches/{}/risk", "branch_id", {"as_of": DATE}),
    ("/sources/{}", "source_id", {}),
    ("/sources/{}/text", "source_id", {}),
]
OTHERS: dict[str, dict[str, str]] = {"/risk/summary": {"as_of": DATE}, "/risk/rules": {}}
# A sample URL of every strict read endpoint (ids of seed rows).
STRICT_URLS = [*LISTS, *(t.format(1) for t, _, _ in DETAILS), *OTHERS]
ALL_URLS = [*STRICT_URLS, "/health", "/ready"]

# -- Payloads -----------------------------------------------------------------------------
INJECTIONS = {
    "or-1-1": "' OR 1=1 --",
    "drop-table": "1; DROP TABLE branches",
    "union": "%' UNION SELECT key, name, quote FROM sources --",
    "stacked-sleep": "1'); SELECT pg_sleep(5); --",
    "traversal": "../../etc/passwd",
    "encoded-traversal": "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
}
BAD_LIMITS = {
    "huge": "1000000000",
    "2-pow-63": str(2**63),
    "negative": "-1",
    "zero": "0",
    "above-max": "501",
    "word": "ten",
    "float": "1.5",
    "exponent": "1e3",
    "hex": "0x10",
    "empty": "",
    # Python's int() reads these; a URL's number has one spelling (app/api/numbers.py).
    "underscore": "1_0",
    "plus": "+5",
    "padded": " 5 ",
    "whole-float": "10.0",
    "arabic-indic": "\u0661",
    "leading-zero": "010",
}
BAD_DATES = {
    "feb-30": "2023-02-30",
    "month-13": "2023-13-01",
    "year-0": "0000-01-01",
    "year-99999": "99999-01-01",
    "before-1900": "1899-12-31",
    "after-2100": "2101-01-01",
    "unpadded": "2023-2-3",
    "unix-time": "1700000000",
    "word": "yesterday",
}
BAD_ENUMS = {"unknown": "bogus", "upper-case": "ID", "empty": ""}
BAD_IDS = {
    "zero": "0",
    "negative": "-1",
    "above-int32": "2147483648",
    "2-pow-63": str(2**63),
    "word": "abc",
    "float": "1.5",
    "exponent": "1e3",
    "blank": "%20",
    "nul": "1%00",
    "dot-dot": "%2e%2e",
    # Percent-encoded, as a path segment or a query value is sent.
    "underscore": "1_0",
    "plus": "%2B1",
    "padded": "%201%20",
    "whole-float": "1.0",
    "fullwidth": "%EF%BC%91",
    "leading-zero": "01",
}
# Read by pydantic as an integer, refused by the service: one spelling per number.
LAX_IDS = ("underscore", "plus", "padded", "whole-float", "fullwidth", "leading-zero")
# Path traversal in a path segment: an encoded `/` makes it another path, which no route has.
TRAVERSALS = {"slashes": "..%2F..%2Fetc%2Fpasswd", "dots-slashes": "%2e%2e%2f%2e%2e%2fetc%2fpasswd"}
UNKNOWN_PARAMS = {
    "unknown": "foo=1",
    "typo": "limt=5",
    "case": "KIND=village",
    "brackets": "q%5B%5D=x",
}
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
READ_ONLY = ("/risk/summary", "/risk/rules", "/health", "/ready", "/localities/1/stats",
             "/branches/1/risk", "/sources/1/text")  # fmt: skip
# Collections and items issue 6 writes to: without a key, 401 (or 405 where no write exists).
WRITABLE = ("/branches", "/sources", "/localities", "/membership-counts", "/admissions",
            "/branches/1", "/sources/1", "/localities/1")  # fmt: skip
KHEO_LENG = "Chi bộ thôn Khéo Lẹng"


@dataclass(frozen=True)
class Case:
    """One hostile request and what it must get."""

    id: str
    url: str  # path and percent-encoded query; `{cursor}` is replaced by a real cursor
    status: int | tuple[int, ...]
    field: str | None = None  # the problem's errors[].field must name it
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    search: bool = False  # a 200 search: few rows, never all
    finds: str | None = None  # a 200 search that must find this name
    cursor: Callable[[str], str] | None = None  # how to spoil the real cursor


def _url(path: str, params: list[tuple[str, str]] | str = "") -> str:
    query = params if isinstance(params, str) else urlencode(params, quote_via=quote)
    return f"{path}?{query}" if query else path


def _bad_value(path: str, name: str, kind: str, value: str, label: str) -> Case:
    """What a value that is wrong for a parameter of this kind must get."""
    url = _url(path, [(name, value)])
    case_id = f"{path} {name}={label}"
    if kind in (TEXT, EXACT):
        return Case(case_id, url, 200, search=True)
    # Paging mistakes are a 400; any other invalid parameter a 422 (app/errors.py).
    status = 400 if kind in (LIMIT, CURSOR) else 422
    return Case(case_id, url, status, field=f"query.{name}")


def _query_params() -> Iterator[tuple[str, str, str]]:
    """(path, parameter, kind) for every query parameter of every read endpoint."""
    for path, params in LISTS.items():
        for name, kind in params.items():
            yield path, name, kind
    for template, _, params in DETAILS:
        for name, kind in params.items():
            yield template.format(1), name, kind
    for path, params in OTHERS.items():
        for name, kind in params.items():
            yield path, name, kind


def injections() -> Iterator[Case]:
    """SQL injection and path traversal in every query parameter."""
    for path, name, kind in _query_params():
        for label, payload in INJECTIONS.items():
            yield _bad_value(path, name, kind, payload, label)


def bad_limits() -> Iterator[Case]:
    for path in LISTS:
        for label, value in BAD_LIMITS.items():
            yield _bad_value(path, "limit", LIMIT, value, label)


def bad_dates() -> Iterator[Case]:
    for path, name, kind in _query_params():
        if kind == DATE:
            for label, value in BAD_DATES.items():
                yield _bad_value(path, name, kind, value, label)
    for path in ("/membership-counts", "/admissions", "/facts"):
        url = _url(path, [("from", "2023-12-31"), ("to", "2023-01-01")])
        yield Case(f"{path} reversed from-to", url, 422, field="query.from")
    url = _url("/branches", [("min_members", "10"), ("max_members", "2")])
    yield Case("/branches reversed min-max members", url, 422, field="query.min_members")


def bad_codes() -> Iterator[Case]:
    # An official code is ASCII digits; `\d` would also take these for the code "04".
    for label, code in {"arabic-indic": "\u0660\u0664", "fullwidth": "\uff10\uff14"}.items():
        yield _bad_value("/localities", "code", CODE, code, f"code-{label}")


def bad_enums() -> Iterator[Case]:
    for path, name, kind in _query_params():
        if kind == ENUM:
            for label, value in BAD_ENUMS.items():
                yield _bad_value(path, name, kind, value, label)
    for path, name, kind in _query_params():
        if kind == BOOL:
            yield _bad_value(path, name, kind, "maybe", "not-a-bool")
            # Pydantic reads these as booleans; risk= takes only true and false, so do these.
            for lax in ("1", "yes", "on", "TRUE"):
                yield _bad_value(path, name, kind, lax, f"lax-bool-{lax}")
    # Relevance needs something to be relevant to.
    yield Case("/branches sort=relevance without q", "/branches?sort=relevance", 422, "query.sort")
    yield Case(
        "/localities sort=relevance without q", "/localities?sort=relevance", 422, "query.sort"
    )


def bad_ids() -> Iterator[Case]:
    """Ids in paths and in filters: zero, negative, huge, not numbers, traversal."""
    for template, name, _ in DETAILS:
        for label, value in BAD_IDS.items():
            url = template.format(value)
            yield Case(f"{template} id={label}", url, 422, field=f"path.{name}")
        for label, value in TRAVERSALS.items():
            yield Case(f"{template} id=traversal-{label}", template.format(value), 404)
        yield Case(f"{template} id=missing", template.format(99_999_999), 404)
    for path, name, kind in _query_params():
        if kind != ID:
            continue
        for label in ("zero", "negative", "2-pow-63", "word", "float"):
            yield _bad_value(path, name, kind, BAD_IDS[label], label)
        for label in LAX_IDS:
            url = _url(path, f"{name}={BAD_IDS[label]}")
            yield Case(f"{path} {name}={label}", url, 422, field=f"query.{name}")
        # A record that does not exist: named, not an empty page read as "none reported".
        missing = _url(path, [(name, "99999999")])
        yield Case(f"{path} {name}=missing", missing, 404, field=f"query.{name}")


def bad_names() -> Iterator[Case]:
    """Unknown, mistyped and repeated parameters; NUL in text; wrong formats."""
    for url in STRICT_URLS:
        for label, query in UNKNOWN_PARAMS.items():
            name = query.split("=", 1)[0].replace("%5B%5D", "[]")
            yield Case(f"{url} {label} parameter", _url(url, query), 400, field=f"query.{name}")
    for path, params in LISTS.items():
        yield Case(f"{path} limit twice", _url(path, "limit=1&limit=2"), 400, "query.limit")
        yield Case(f"{path} sort twice", _url(path, "sort=id&sort=-id"), 400, "query.sort")
        first = next(iter(params))
        query = f"{first}=1&{first}=2"
        yield Case(f"{path} {first} twice", _url(path, query), 400, f"query.{first}")
    for url in ("/branches/1", "/branches/1/risk", "/risk/summary"):
        query = "as_of=2020-01-01&as_of=2021-01-01"
        yield Case(f"{url} as_of twice", _url(url, query), 400, "query.as_of")
    for path, name in (("/branches", "q"), ("/localities", "q"), ("/sources", "q"),
                       ("/sources", "publisher"), ("/branches", "cursor")):  # fmt: skip
        yield Case(f"{path} {name} with NUL", _url(path, f"{name}=a%00b"), 422, f"query.{name}")
    # Not percent-encoded UTF-8: read with U+FFFD or as typed, a search found nothing.
    not_utf8 = {"lone-lead": "%C3", "latin-1": "l%FCc", "stray-percent": "50%", "bad-hex": "%ZZ"}
    for path, name in (("/branches", "q"), ("/localities", "q"), ("/sources", "publisher")):
        for label, value in not_utf8.items():
            query = f"{name}={value}"
            yield Case(f"{path} {name} {label}", _url(path, query), 400, f"query.{name}")
    for path in LISTS:
        for label, value in {"xml": "xml", "upper-case": "CSV", "traversal": "../csv"}.items():
            yield _bad_value(path, "format", ENUM, value, f"format-{label}")
    # A place's stats are JSON or CSV: neither NDJSON nor a list's other spellings.
    for label, value in {"xml": "xml", "upper-case": "CSV", "ndjson": "ndjson"}.items():
        yield _bad_value("/localities/1/stats", "format", ENUM, value, f"format-{label}")
    for url in ("/branches/1", "/risk/summary", "/sources/1/text"):
        yield Case(f"{url} format=csv (no exports)", _url(url, "format=csv"), 400, "query.format")


def oversized() -> Iterator[Case]:
    """Query strings past the documented limit: 414, before any routing or parsing."""
    for url in ALL_URLS:
        yield Case(f"{url} query of {MAX_QUERY_BYTES + 1} bytes",
                   _url(url, "q=" + "a" * (MAX_QUERY_BYTES - 1)), 414)  # fmt: skip
        yield Case(
            f"{url} query of 3x the limit, encoded", _url(url, "x=" + "%41" * MAX_QUERY_BYTES), 414
        )
    # At the limit: not a 414, but still refused for what it says.
    at_limit = _url("/branches", "q=" + "a" * (MAX_QUERY_BYTES - 2))
    yield Case(f"/branches query of {MAX_QUERY_BYTES} bytes", at_limit, 422, "query.q")
    yield Case("/branches q of 201 characters", _url("/branches", "q=" + "a" * 201), 422, "query.q")


def _flip(text: str, index: int) -> str:
    return text[:index] + ("B" if text[index] == "A" else "A") + text[index + 1 :]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


FORGED = _b64(b'{"v":[1],"s":"id","f":"0000000000000000"}') + "." + _b64(bytes(12))


def bad_cursors() -> Iterator[Case]:
    """Forged, truncated, tampered cursors, and real ones replayed with other filters."""
    spoilers: dict[str, Callable[[str], str]] = {
        "truncated-3": lambda c: c[:-3],
        "truncated-half": lambda c: c[: len(c) // 2],
        "payload-char-changed": lambda c: _flip(c, 5),
        "signature-char-changed": lambda c: _flip(c, len(c) - 2),
        "no-signature": lambda c: c.split(".")[0],
        "signature-only": lambda c: "." + c.split(".")[1],
        "parts-swapped": lambda c: ".".join(reversed(c.split("."))),
        "doubled": lambda c: c + c,
        "trailing-dot": lambda c: c + ".",
        "lower-cased": lambda c: c.lower(),
    }
    for label, spoil in spoilers.items():
        yield Case(f"/branches cursor {label}", "/branches?limit=2&cursor={cursor}", 400,
                   "query.cursor", cursor=spoil)  # fmt: skip
    replays = {
        "kind": "kind=village_branch&",
        "sort": "sort=-id&",
        "q": "q=chi&",
        "risk": "risk=true&",
        "as_of": "as_of=2020-01-01&",
    }
    for label, extra in replays.items():
        url = "/branches?limit=2&" + extra + "cursor={cursor}"
        yield Case(f"/branches cursor replayed with {label}", url, 400, "query.cursor",
                   cursor=lambda c: c)  # fmt: skip
    for path in ("/localities", "/sources", "/membership-counts", "/admissions", "/facts"):
        yield Case(f"{path} cursor from /branches", path + "?cursor={cursor}", 400,
                   "query.cursor", cursor=lambda c: c)  # fmt: skip
    forged = {
        "forged-signature": FORGED,
        "not-base64": "!!!.!!!",
        "no-dot": "abc",
        "dot-only": ".",
        "non-ascii": quote("é.é"),
        "json-not-object": _b64(b"[1,2,3]") + "." + _b64(bytes(12)),
        "too-long": "A" * 1001,
    }
    for label, value in forged.items():
        yield Case(f"/branches cursor {label}", f"/branches?cursor={value}", 400, "query.cursor")
    # As an empty q or filter is refused: `cursor=` is a client's missing next, not page 1.
    for path in LISTS:
        yield Case(f"{path} cursor empty", _url(path, "cursor="), 400, "query.cursor")


THANH_CHUONG_TITLE = "Thanh Chương: Tín hiệu vui tại 6 chi bộ có nguy cơ 'trắng' đảng viên"


def searches() -> Iterator[Case]:
    """Vietnamese in NFD or with invisible characters still finds the place."""
    for label, q in {
        "NFD": unicodedata.normalize("NFD", "Khéo Lẹng"),
        "zero-width-space": "Kh\u200béo Lẹng",
        "zero-width-joiner": "Khéo\u200d Lẹng",
        "byte-order-mark": "\ufeffKhéo Lẹng",
        "soft-hyphen": "Khé\u00ado Lẹng",
        "no-break-space": "Khéo\u00a0Lẹng",
        "NFD-and-zero-width": unicodedata.normalize("NFD", "Kh\u200béo Lẹng"),
        "upper-case": "KHÉO LẸNG",
        "no-diacritics": "kheo leng",
    }.items():
        yield Case(f"/branches q={label}", _url("/branches", [("q", q)]), 200, finds=KHEO_LENG)
    for label, q in {
        "NFD": unicodedata.normalize("NFD", "Lâm Thượng"),
        "zero-width-space": "Lâm\u200b Thượng",
    }.items():
        url = _url("/localities", [("q", q)])
        yield Case(f"/localities q={label}", url, 200, finds="Lâm Thượng")
    for label, q in {
        "NFD": unicodedata.normalize("NFD", "Lục Yên"),
        "full-stop": "Lục Yên.",
    }.items():
        url = _url("/sources", [("q", q)])
        yield Case(
            f"/sources q={label}", url, 200, finds="Giải pháp phát triển đảng viên mới ở Lục Yên"
        )
    for label, q in {"comma": "Lâm Thượng,", "quotes": '"Lâm Thượng"'}.items():
        url = _url("/localities", [("q", q)])
        yield Case(f"/localities q={label}", url, 200, finds="Lâm Thượng")
    # A search for nothing once folded would match every row: refused, naming q.
    for label, q in {
        "space": " ",
        "no-break-spaces": "\u00a0\u00a0",
        "zero-width-space": "\u200b",
        "byte-order-mark": "\ufeff",
        "combining-acute": "\u0301",
        "tab-and-soft-hyphen": "\t\u00ad",
        "punctuation": ",.-",
    }.items():
        for path in ("/branches", "/localities", "/sources"):
            yield Case(f"{path} q={label} only", _url(path, [("q", q)]), 422, "query.q")
    # An exact publisher of nothing matched no row: an empty page that read as "none".
    for label, publisher in {"empty": "", "space": " ", "zero-width-space": "\u200b"}.items():
        url = _url("/sources", [("publisher", publisher)])
        yield Case(f"/sources publisher={label}", url, 422, "query.publisher")
    # Stored in NFC, it is found as typed in NFD.
    url = _url(
        "/sources", [("publisher", unicodedata.normalize("NFD", "Baonghean.vn (Báo Nghệ An)"))]
    )
    yield Case("/sources publisher in NFD", url, 200, finds=THANH_CHUONG_TITLE)


def encoded_slashes() -> Iterator[Case]:
    """A path's "/" sent as %2F routed as a "/": a second URL of the same resource."""
    for url in ("/branches%2F5", "/localities%2F1%2Fstats", "/sources/1%2Ftext",
                "/branches/5%2f", "/risk%2Fsummary"):  # fmt: skip
        yield Case(f"GET {url}", url, 404)


def bad_methods() -> Iterator[Case]:
    for url in READ_ONLY:
        for method in WRITE_METHODS:
            yield Case(f"{method} {url}", url, 405, method=method)
        # Answered with what the path allows (RFC 9110 9.3.7), as its 405 says it.
        yield Case(f"OPTIONS {url} without CORS preflight", url, 204, method="OPTIONS")
    body = b'{"name": "\' OR 1=1 --", "key": "../../etc/passwd"}'
    json_type = (("content-type", "application/json"),)
    for url in WRITABLE:
        for method in WRITE_METHODS:
            yield Case(f"{method} {url} without a key", url, (401, 405), method=method,
                       headers=json_type, body=body)  # fmt: skip
    forged_key = (("authorization", "Bearer ' OR 1=1 --"), *json_type)
    yield Case("POST /branches with an injected key", "/branches", 401, method="POST",
               headers=forged_key, body=body)  # fmt: skip


CATALOGUE: list[Case] = [
    *injections(),
    *bad_limits(),
    *bad_dates(),
    *bad_enums(),
    *bad_codes(),
    *bad_ids(),
    *bad_names(),
    *oversized(),
    *bad_cursors(),
    *searches(),
    *bad_methods(),
    *encoded_slashes(),
]


# -- Fixtures: the cursor to spoil, the row counts, the tally -----------------------------
@dataclass
class Tally:
    backend: str
    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    slowest: float = 0.0
    totals: dict[str, int] = field(default_factory=dict)


def _row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            name: conn.execute(select(func.count()).select_from(table(name))).scalar_one()
            for name in sorted(inspect(conn).get_table_names())
        }


@pytest.fixture(scope="module")
def tally(api: TestClient, backend: str, request: pytest.FixtureRequest) -> Iterator[Tally]:
    """Counts statuses; checks that the whole catalogue wrote nothing on this backend."""
    engine: Engine = api.app.state.engine  # type: ignore[attr-defined]
    before = _row_counts(engine)
    found = Tally(backend)
    # The unfiltered size of each list: an injected search must never return it all.
    for path in LISTS:
        found.totals[path] = api.get(path, params={"limit": 1}).json()["total"]
    started = time.monotonic()
    yield found
    elapsed = time.monotonic() - started
    after = _row_counts(engine)
    statuses = ", ".join(f"{code}: {n}" for code, n in sorted(found.statuses.items()))
    say(
        request.config,
        f"hostile [{backend}]: {found.cases} cases in {elapsed:.1f}s "
        f"(slowest {found.slowest * 1000:.0f} ms); statuses {statuses}; "
        f"{len(after)} tables, {sum(after.values())} rows, unchanged: {before == after}",
    )
    assert after == before, "the hostile catalogue changed rows"


@pytest.fixture(scope="module")
def real_cursor(api: TestClient) -> str:
    body = api.get("/branches", params={"limit": 2}).json()
    assert body["next_cursor"], body
    return str(body["next_cursor"])


# -- The tests ----------------------------------------------------------------------------
def test_the_catalogue_has_at_least_300_distinct_cases() -> None:
    assert len(CATALOGUE) >= 300
    assert len({c.id for c in CATALOGUE}) == len(CATALOGUE), "case ids must be unique"


@pytest.mark.parametrize("case", CATALOGUE, ids=[c.id for c in CATALOGUE])
def test_hostile_input(api: TestClient, tally: Tally, real_cursor: str, case: Case) -> None:
    url = case.url.replace("{cursor}", quote(case.cursor(real_cursor))) if case.cursor else case.url
    started = time.monotonic()
    response = api.request(case.method, url, headers=dict(case.headers), content=case.body)
    tally.slowest = max(tally.slowest, time.monotonic() - started)
    tally.cases += 1
    tally.statuses[response.status_code] += 1

    expected = case.status if isinstance(case.status, tuple) else (case.status,)
    assert response.status_code in expected, response.text[:500]
    if response.status_code == 200:
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        if case.finds:
            assert case.finds in [i.get("name") or i.get("title") for i in body["items"]]
        if case.search:
            path = url.split("?", 1)[0]
            assert body["total"] <= 3 and len(body["items"]) <= 3, body["total"]
            assert body["total"] < tally.totals[path]
        return
    if response.status_code == 204:  # an OPTIONS
        assert response.content == b"" and "OPTIONS" in response.headers["allow"]
        return
    _assert_problem(response, case)


def _assert_problem(response: Any, case: Case) -> None:
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["status"] == response.status_code
    assert problem["title"] and problem["detail"]
    if case.field:
        fields = [e["field"] for e in problem.get("errors", [])]
        assert case.field in fields, problem
    if response.status_code == 405:
        assert "GET" in response.headers["allow"]
    if response.status_code == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")


# Not hostile, but the other side of the cursor rules: what a cursor may be replayed with.
@pytest.mark.parametrize("extra", ["limit=5", "format=ndjson", "format=csv&bom=true"])
def test_a_cursor_may_change_page_size_and_format(
    api: TestClient, real_cursor: str, extra: str
) -> None:
    response = api.get(f"/branches?{extra}&cursor={quote(real_cursor)}")
    assert response.status_code == 200, response.text


# HEAD is GET without a body; a wrong Accept falls back to JSON rather than failing.
@pytest.mark.parametrize(
    "url", [*ALL_URLS, "/branches/99999999", "/branches?limit=0", "/branches?format=csv&limit=3"]
)
def test_head_is_get_without_a_body(api: TestClient, url: str) -> None:
    got, head = api.get(url), api.head(url)
    assert head.status_code == got.status_code
    assert head.content == b""
    for name in ("content-type", "etag", "cache-control"):
        assert head.headers.get(name) == got.headers.get(name)


@pytest.mark.parametrize("accept", ["application/xml", "text/html", "*/*", "image/png;q=0.9"])
def test_an_unsupported_accept_falls_back_to_json(api: TestClient, accept: str) -> None:
    # RFC 9110 lets a server ignore Accept; JSON is the documented default.
    response = api.get("/branches?limit=1", headers={"accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
