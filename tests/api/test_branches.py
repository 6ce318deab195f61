"""/branches: what a front-end and a journalist ask, answered with sources."""

import base64
import csv
import hashlib
import hmac
import io
import json
import unicodedata
from collections import Counter

import orjson
import pytest
from fastapi.testclient import TestClient

from app.models.vocab import LEVEL_RANK
from app.schemas.branches import BranchDetail, BranchOut
from app.schemas.common import Page
from app.services.listing import KeptCounts
from app.services.text import fold, lower_exact
from tests.api.helpers import branch, group, locality, walk
from tests.conftest import StatementCounter


def names(response) -> list[str | None]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    return [b["name"] or b["description"] for b in response.json()["items"]]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("Thao Chu Phin", "Đảng bộ xã Thào Chư Phìn"),
        ("thào chư phìn", "Đảng bộ xã Thào Chư Phìn"),
        ("LAM THUONG", "Đảng bộ xã Lâm Thượng"),
        ("dang bo luc yen", "Đảng bộ huyện Lục Yên"),
        (unicodedata.normalize("NFD", "Khéo Lẹng"), "Chi bộ thôn Khéo Lẹng"),
        ("Kh\u200béo Lẹng", "Chi bộ thôn Khéo Lẹng"),
        ("\u00d0ảng bộ huyện Lục Yên", "Đảng bộ huyện Lục Yên"),  # Ð, a legacy look-alike
        # Punctuation pasted with a name from an article is no part of its words.
        ("Khéo Lẹng,", "Chi bộ thôn Khéo Lẹng"),
        ("Lục Yên.", "Đảng bộ huyện Lục Yên"),
        ("Thào-Chư-Phìn", "Đảng bộ xã Thào Chư Phìn"),
        ('"Chi bộ thôn Khéo Lẹng"', "Chi bộ thôn Khéo Lẹng"),
    ],
)
def test_search_folds_vietnamese_both_ways(api: TestClient, q: str, expected: str) -> None:
    assert expected in names(api.get("/branches", params={"q": q}))


def test_exact_diacritics_rank_first(api: TestClient) -> None:
    # "Mai" matches Mai Hạ and Mai Sơn; "Mải" would not be exact for either.
    found = names(api.get("/branches", params={"q": "Mai Sơn"}))
    assert found[0] == "Đảng bộ huyện Mai Sơn"


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        # As the articles print them (000, 001, 003): the committee for its organization.
        ("Đảng ủy xã Mai Hạ", "Đảng bộ xã Mai Hạ"),
        ("Đảng ủy xã Lâm Thượng", "Đảng bộ xã Lâm Thượng"),
        ("Huyện ủy Mai Sơn", "Đảng bộ huyện Mai Sơn"),
        ("huyen uy luc yen", "Đảng bộ huyện Lục Yên"),
        ("HUYỆN UỶ Lục Yên", "Đảng bộ huyện Lục Yên"),  # the older accent placement
        ("chi uy Khéo Lẹng", "Chi bộ thôn Khéo Lẹng"),
    ],
)
def test_a_committees_name_finds_its_organization_first(
    api: TestClient, q: str, expected: str
) -> None:
    assert names(api.get("/branches", params={"q": q}))[:1] == [expected]


def test_a_committee_word_elsewhere_is_searched_as_typed(api: TestClient) -> None:
    """An "ủy" after no organization's word is no committee: a word to find like any other."""
    assert names(api.get("/branches", params={"q": "ủy Mai Hạ"})) == []
    assert names(api.get("/branches", params={"q": "Mai Hạ"})) != []


def _search_rank(q: str, label: str) -> int:
    """How `q` matches a label, as SEARCH_RANKS say: whole words with their exact
    diacritics, whole words folded, parts of words with their diacritics, the rest."""
    exact, folded = lower_exact(q).split(), fold(q).split()
    exact_words, folded_words = lower_exact(label).split(), fold(label).split()
    if all(word in exact_words for word in exact):
        return 0
    if all(word in folded_words for word in folded):
        return 1
    if all(word in lower_exact(label) for word in exact):
        return 2
    return 3


def _walk(api: TestClient, params: dict[str, str | int]) -> list[dict[str, object]]:
    """Every item of a list, following its cursors."""
    items: list[dict[str, object]] = []
    cursor = None
    while True:
        page = api.get("/branches", params={**params, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


@pytest.mark.parametrize(
    ("params", "mixed"),
    [
        ({"q": "bó"}, True),  # "Chi bộ bản Bó" has its diacritics; "... bộ" fold to "bo"
        ({"q": "chi bộ"}, False),
        ({"q": "chi bo"}, False),
        ({"q": "chi bộ", "risk": "true"}, False),
        ({"q": "dang", "kind": "commune_committee"}, False),
    ],
)
def test_search_pages_follow_the_ranked_order(
    api: TestClient, params: dict[str, str | int], mixed: bool
) -> None:
    """A search's pages are sorted from the matches' keys before their items are read
    (app.services.listing.LateRows): two at a time, they list what one page lists, the
    names with the query's exact diacritics first; its CSV lists them in that order."""
    whole = api.get("/branches", params={**params, "limit": 500}).json()["items"]
    assert len(whole) >= 2
    assert _walk(api, {**params, "limit": 2}) == whole
    labels = [" ".join(filter(None, (b["name"], b["description"]))) for b in whole]
    ranks = [_search_rank(str(params["q"]), label) for label in labels]
    assert ranks == sorted(ranks)
    assert (len(set(ranks)) > 1) == mixed
    lines = api.get("/branches", params={**params, "limit": 500, "format": "csv"}).text
    ids = [int(row["id"]) for row in csv.DictReader(io.StringIO(lines.lstrip("\ufeff")))]
    assert ids == [b["id"] for b in whole]


def test_todays_lao_cai_includes_old_yen_bai_and_old_lao_cai(api: TestClient) -> None:
    lao_cai = locality(api, "15", current=True)
    response = api.get("/branches", params={"province": lao_cai["id"], "limit": 100})
    items = response.json()["items"]
    found = {b["name"] for b in items}
    assert {"Đảng bộ huyện Lục Yên", "Chi bộ thôn Khéo Lẹng", "Đảng bộ xã Thào Chư Phìn"} <= found
    assert "Chi bộ bản Bó" not in found  # Sơn La
    reported_under = {b["locality"]["official_name"] for b in items}
    assert "Huyện Lục Yên" in reported_under and "Xã Thào Chư Phìn" in reported_under
    assert {b["today"]["province"]["official_name"] for b in items} == {"Tỉnh Lào Cai"}
    thao_chu_phin = next(b for b in items if b["name"] == "Đảng bộ xã Thào Chư Phìn")
    assert thao_chu_phin["today"]["commune"]["official_name"] == "Xã Sín Chéng"


def test_old_yen_bai_does_not_include_old_lao_cai(api: TestClient) -> None:
    yen_bai = locality(api, "15", current=False)
    found = set(names(api.get("/branches", params={"province": yen_bai["id"]})))
    assert "Đảng bộ huyện Lục Yên" in found
    assert "Đảng bộ xã Thào Chư Phìn" not in found


def test_latest_count_carries_its_source_and_sentence(api: TestClient) -> None:
    luc_yen = branch(api, "Đảng bộ huyện Lục Yên")
    latest = luc_yen["latest_count"]
    assert latest["value"] == 6799 and latest["figure"] == "6.799"
    assert "6.799" in latest["quote"]
    assert latest["source"]["published_on"] == "2023-12-18"
    text = api.get(f"/sources/{latest['source']['id']}/text").text
    assert latest["quote"] in " ".join(text.split())


def test_member_bounds_filter_respects_qualifiers(api: TestClient) -> None:
    small = names(api.get("/branches", params={"max_members": 4}))
    assert small == ["6 chi bộ thuộc 4 xã có nguy cơ không còn chi bộ"]  # "dưới 5" each
    big = names(api.get("/branches", params={"min_members": 300, "sort": "-members"}))
    assert big == ["Đảng bộ huyện Lục Yên", "Đảng bộ xã Mường Bằng"]  # 6,799 then 316


def test_detail_has_history_events_and_sources(api: TestClient) -> None:
    tien_phong = branch(api, "Chi bộ xóm Tiền Phong")
    detail = api.get(f"/branches/{tien_phong['id']}").json()
    BranchDetail.model_validate(detail)
    assert [c["value"] for c in detail["counts"]] == [13, 15]
    kinds = sorted(e["kind"] for e in detail["events"])
    assert kinds == ["admission", "departure", "transfer_in"]
    assert [o["person"] for o in detail["officeholders"]] == ["Nguyễn Văn Khương"]
    assert detail["parent"]["name"] == "Đảng bộ xã Mai Hạ"
    assert all(e["quote"] and e["source"]["id"] for e in detail["events"])


def test_pages_walk_every_row_once_with_link_headers(api: TestClient) -> None:
    all_ids = [b["id"] for b in api.get("/branches", params={"limit": 500}).json()["items"]]
    seen: list[int] = []
    url: str | None = "/branches?limit=5&sort=name"
    while url:
        response = api.get(url)
        body = response.json()
        Page[BranchOut].model_validate(body)
        seen += [b["id"] for b in body["items"]]
        url = body["next"]
        if url:
            assert response.headers["link"] == f'<{url}>; rel="next"'
    assert sorted(seen) == sorted(all_ids) and len(seen) == len(set(seen))


@pytest.mark.parametrize("sort", ["risk", "members", "-members"])
def test_a_places_pages_by_a_status_column_keep_their_order(api: TestClient, sort: str) -> None:
    """Within a place these orders are sorted from the place's rows (an expression, not
    the status's index: app.services.branches._sort_keys); the cursor follows it."""
    every = api.get("/branches", params={"limit": 500}).json()["items"]
    provinces = Counter(b["today"]["province"]["id"] for b in every if b["today"]["province"])
    query = f"province={provinces.most_common(1)[0][0]}&sort={sort}"
    whole = api.get(f"/branches?{query}&limit=500").json()["items"]
    assert len(whole) > 2
    seen = [b["id"] for b in walk(api, f"/branches?{query}&limit=2")]
    assert seen == [b["id"] for b in whole]
    if sort == "risk":
        ranks = [LEVEL_RANK[b["risk"]["level"]] for b in whole]
        assert ranks == sorted(ranks, reverse=True)
    else:
        lows = [-1 if b["members"]["low"] is None else b["members"]["low"] for b in whole]
        assert lows == sorted(lows, reverse=sort.startswith("-"))


def test_a_provinces_branches_at_risk_are_its_branches_at_risk(api: TestClient) -> None:
    """Read through the status's copy of the province (migration 0009): the same rows as
    the province's list filtered on risk, in the same order, page after page."""
    provinces = api.get("/localities", params={"kind": "province", "limit": 500}).json()
    found = 0
    for province in provinces["items"]:
        query = {"province": province["id"], "limit": 500}
        listed = api.get("/branches", params=query).json()["items"]
        at_risk = api.get("/branches", params={**query, "risk": "true"}).json()
        expected = [b["id"] for b in listed if b["risk"]["at_risk"]]
        assert [b["id"] for b in at_risk["items"]] == expected, province["name"]
        assert at_risk["total"] == len(expected)
        walked = walk(api, f"/branches?province={province['id']}&risk=true&limit=1")
        assert [b["id"] for b in walked] == expected
        found += len(expected)
    assert found > 1


def test_total_is_given_and_pages_are_capped(api: TestClient) -> None:
    body = api.get("/branches", params={"limit": 2}).json()
    assert body["total"] == 12 and len(body["items"]) == 2
    response = api.get("/branches", params={"limit": 501})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "query.limit"


def test_csv_opens_in_excel_with_vietnamese_and_quotes(api: TestClient) -> None:
    response = api.get("/branches", params={"format": "csv", "bom": "true"})
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == 12
    luc_yen = next(r for r in rows if r["name"] == "Đảng bộ huyện Lục Yên")
    assert luc_yen["latest_count_value"] == "6799"
    assert "6.799" in luc_yen["latest_count_quote"]
    assert luc_yen["today_province_name"] == "Lào Cai"


def test_accept_header_chooses_csv_and_ndjson(api: TestClient) -> None:
    csv_response = api.get("/branches", headers={"Accept": "text/csv"})
    assert csv_response.text.splitlines()[0].startswith("id,key,kind,name")
    nd = api.get("/branches", headers={"Accept": "application/x-ndjson"})
    lines = nd.text.strip().split("\n")
    assert len(lines) == 12 and all(line.startswith("{") for line in lines)


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        ("application/json, text/csv;q=0.1", "application/json"),  # by quality
        ("text/csv;q=0", "application/json"),  # not acceptable at all
        ("application/json;q=1, application/x-ndjson;q=0.001", "application/json"),
        ("text/csv;q=0.5, */*", "application/json"),  # */* is JSON's, and preferred here
        ("text/csv, application/json", "text/csv"),  # equal: the first listed
        ("text/*", "text/csv"),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "application/json"),
        ("application/ndjson;q=0.9, text/csv;q=0.8", "application/x-ndjson"),
        ("text/csv;q=x", "application/json"),  # an unreadable quality accepts nothing
    ],
)
def test_accept_is_read_with_its_qualities(api: TestClient, accept: str, media_type: str) -> None:
    response = api.get("/branches", headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == media_type


@pytest.mark.parametrize(
    "params",
    [
        {"q": "bộ", "risk": "false"},
        {"q": "đảng", "risk": "unknown"},
        {"q": "bộ", "min_members": 0},
    ],
)
def test_a_search_filtered_on_the_status_walks_every_match_once(
    api: TestClient, params: dict[str, str | int]
) -> None:
    """With a filter on the status, the relevance order (rank, name, id) keeps the id's
    bound on the status row too (SortKey.same_as), so its keyset condition is spelled out
    key by key: a row of the cursor's rank comes after it by id only when its name is the
    same. From a mutation audit: without the name in the id's condition, the walk listed
    again the rows of that rank named before the cursor but with a larger id. These
    matches tie in rank and their names are not in the order of their ids."""
    whole = api.get("/branches", params={**params, "limit": 500}).json()["items"]
    ids = [b["id"] for b in whole]
    assert len(ids) >= 3 and ids != sorted(ids)
    walked: list[int] = []
    cursor = None
    for _ in ids:  # bounded: a walk that repeats rows may never end
        query = {**params, "limit": 1, **({"cursor": cursor} if cursor else {})}
        page = api.get("/branches", params=query).json()
        walked += [b["id"] for b in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == ids and cursor is None


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"q": "chi"}, {"q": "xa"}),
        ({"q": "bộ"}, {"q": "bộ", "risk": "false"}),
        ({"risk": "unknown"}, {"risk": "false"}),
        ({"min_members": "0"}, {"min_members": "1"}),
    ],
)
def test_a_cursor_replayed_with_other_filters_in_the_same_sort_is_a_400(
    api: TestClient, first: dict[str, str], second: dict[str, str]
) -> None:
    """A cursor is a position among the rows its filters chose: read among others it
    would skip or repeat rows without a word. The sort held (a search otherwise switches
    to relevance, refused for its sort), so only the filters' digest can tell; from a
    mutation audit, which found `q` left out of it unnoticed."""
    cursor = api.get("/branches", params={**first, "sort": "id", "limit": 1}).json()["next_cursor"]
    assert cursor is not None
    assert api.get("/branches", params={**second, "sort": "id"}).status_code == 200
    response = api.get("/branches", params={**second, "sort": "id", "limit": 1, "cursor": cursor})
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["field"] == "query.cursor"


def test_a_mistyped_filter_is_refused_not_ignored(api: TestClient) -> None:
    response = api.get("/branches", params={"provnce": 1})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "query.provnce"


def test_a_tampered_cursor_is_a_400(api: TestClient) -> None:
    cursor = api.get("/branches", params={"limit": 2}).json()["next_cursor"]
    tampered = cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1]
    for params in (
        {"limit": 2, "cursor": tampered},
        {"limit": 2, "cursor": cursor, "kind": "other"},
    ):
        response = api.get("/branches", params=params)
        assert response.status_code == 400, params
        assert response.json()["errors"][0]["field"] == "query.cursor"


@pytest.mark.parametrize(
    ("path", "first", "second"),
    [
        ("/branches", {}, {"sort": "id"}),
        ("/branches", {"sort": "id"}, {}),
        ("/branches", {"q": "bo"}, {"q": "bo", "sort": "relevance"}),
        ("/branches", {"risk": "true"}, {"risk": "true", "sort": "id"}),
        ("/branches", {"risk": "true"}, {"risk": "true", "risk_level": "watch"}),
        ("/admissions", {}, {"kind": "admission"}),
        ("/admissions", {"kind": "admission"}, {}),
        ("/membership-counts", {}, {"sort": "id"}),
        ("/risk/evidence", {}, {"risk_level": "watch"}),
    ],
)
def test_a_cursor_follows_a_query_that_spells_its_defaults_out(
    api: TestClient, path: str, first: dict[str, str], second: dict[str, str]
) -> None:
    """A front end that writes its whole state into the second page's URL (sort=id, the
    default kind), or leaves a default out there, asks for the same rows: the cursor of
    the first page reads there as on its `next` link."""
    cursor = api.get(path, params={"limit": "1", **first}).json()["next_cursor"]
    following = api.get(path, params={"limit": "1", **first, "cursor": cursor})
    assert following.status_code == 200, following.text
    spelled = api.get(path, params={"limit": "1", **second, "cursor": cursor})
    assert spelled.status_code == 200, spelled.text
    assert spelled.json()["items"] == following.json()["items"] != []


@pytest.mark.parametrize(
    ("path", "params", "version"),
    [
        # Before migration 0019 a cursor by name held the name's name_lower: compared
        # with name_order it would end a walk silently.
        ("/branches", {"sort": "name"}, None),
        # A relevance rank was 0 or 1 (exact diacritics or not) before whole words
        # ranked first: read as the ranks of today it would skip or repeat rows.
        ("/branches", {"sort": "relevance", "q": "bo"}, 2),
        ("/localities", {"sort": "relevance", "q": "ha"}, 2),
    ],
)
def test_a_cursor_of_an_earlier_version_is_a_400(
    api: TestClient, path: str, params: dict[str, str], version: int | None
) -> None:
    """Signed by the same secret, a cursor whose values were of another meaning is
    refused."""
    query = {"limit": 2, **params}
    cursor = api.get(path, params=query).json()["next_cursor"]
    payload = orjson.loads(base64.urlsafe_b64decode(cursor.split(".")[0] + "=="))
    assert api.get(path, params={**query, "cursor": cursor}).status_code == 200
    if version is None:
        del payload["k"]
    else:
        payload["k"] = version
    secret = str(api.app.state.settings.cursor_secret).encode()  # type: ignore[attr-defined]
    old_payload = orjson.dumps(payload)
    signature = hmac.new(secret, old_payload, hashlib.sha256).digest()[:12]
    forged = ".".join(
        base64.urlsafe_b64encode(part).rstrip(b"=").decode() for part in (old_payload, signature)
    )
    response = api.get(path, params={**query, "cursor": forged})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "query.cursor"
    assert "earlier version" in response.json()["errors"][0]["message"]


def _signed(api: TestClient, payload: bytes) -> str:
    """A cursor signed with the server's secret (public until CURSOR_SECRET is set)."""
    secret = str(api.app.state.settings.cursor_secret).encode()  # type: ignore[attr-defined]
    signature = hmac.new(secret, payload, hashlib.sha256).digest()[:12]
    return ".".join(
        base64.urlsafe_b64encode(part).rstrip(b"=").decode() for part in (payload, signature)
    )


@pytest.mark.parametrize("path", ["/branches", "/localities", "/membership-counts"])
def test_a_forged_cursor_is_a_400_whatever_it_holds(api: TestClient, path: str) -> None:
    """From a security audit: a signed id of 2**63 was a 500 on both databases (their
    drivers refuse it; PostgreSQL's INTEGER any past 2**31), as was a payload that is no
    JSON object."""
    cursor = api.get(path, params={"limit": 1}).json()["next_cursor"]
    payload = orjson.loads(base64.urlsafe_b64decode(cursor.split(".")[0] + "=="))
    *_, last_id = payload["v"]
    assert isinstance(last_id, int)
    forged = [
        b"not json",
        b"[1, 2]",
        # json: orjson writes no integer past 64 bits (nor reads one past 2**64 - 1).
        *(
            json.dumps({**payload, "v": [*payload["v"][:-1], n]}).encode()
            for n in (2**31, -(2**31) - 1, 2**63, 2**64, 10**30)
        ),
    ]
    for forged_payload in forged:
        response = api.get(path, params={"limit": 1, "cursor": _signed(api, forged_payload)})
        assert response.status_code == 400, (forged_payload, response.text)
        assert response.json()["errors"][0]["field"] == "query.cursor"
    largest = orjson.dumps({**payload, "v": [*payload["v"][:-1], 2**31 - 1]})
    response = api.get(path, params={"limit": 1, "cursor": _signed(api, largest)})
    assert response.status_code == 200 and response.json()["items"] == []


def test_unknown_branch_is_a_problem_404(api: TestClient) -> None:
    response = api.get("/branches/999999")
    assert response.status_code == 404
    assert response.json()["detail"] == "path.branch_id: Branch 999999 does not exist."


def test_etag_gives_304(api: TestClient) -> None:
    first = api.get("/branches")
    again = api.get("/branches", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert "max-age" in first.headers["cache-control"]


def test_group_is_served_as_one_unnamed_group(api: TestClient) -> None:
    six = group(api)
    assert six["name"] is None and six["group_size"] == 6
    assert six["latest_count"]["qualifier"] == "less_than"
    assert six["latest_count"]["applies_to_each"] is True


@pytest.mark.parametrize(
    ("url", "statements"),
    [("/branches?limit=50", 1), ("/branches?risk=true", 1), ("/localities?limit=50", 1)],
)
def test_lists_run_a_fixed_number_of_statements(
    unkept_api: TestClient, url: str, statements: int
) -> None:
    """Built, not kept (tests/api/test_answer_cache.py: kept, a page is one read). As a
    first visit: a total that an earlier test kept at another data version of the shared
    database would be counted again, in a second statement (app.services.listing)."""
    unkept_api.app.state.kept_counts = KeptCounts()  # type: ignore[attr-defined]
    with StatementCounter(unkept_api.app.state.engine) as counter:  # type: ignore[attr-defined]
        assert unkept_api.get(url).status_code == 200
    assert counter.count == statements, counter.statements


def test_detail_runs_a_fixed_number_of_statements(unkept_api: TestClient) -> None:
    """Built, not kept (tests/api/test_answer_cache.py: kept, a detail is one read)."""
    ids = [b["id"] for b in unkept_api.get("/branches").json()["items"]]
    counts = set()
    for ident in ids:
        with StatementCounter(unkept_api.app.state.engine) as counter:  # type: ignore[attr-defined]
            assert unkept_api.get(f"/branches/{ident}").status_code == 200
        counts.add(counter.count)
    assert counts == {1}


def test_a_name_the_texts_do_not_print_is_explained(api: TestClient) -> None:
    """ "Name as written in the source", unless the text names only the committee
    ('Đảng ủy xã Mai Hạ'): then the organization is named from its place, and its note
    says so. Names compared as quotes are (NFC, case and whitespace folded)."""

    def folded(text: str) -> str:
        return " ".join(unicodedata.normalize("NFC", text).lower().split())

    texts: dict[int, str] = {}
    unprinted = []
    for item in api.get("/branches", params={"limit": 500}).json()["items"]:
        if item["name"] is None:
            continue
        sources = [s["id"] for s in api.get(f"/branches/{item['id']}").json()["sources"]]
        for source in sources:
            if source not in texts:
                texts[source] = folded(api.get(f"/sources/{source}/text").text)
        if not any(folded(item["name"]) in texts[s] for s in sources):
            unprinted.append(item["name"])
            # The note names the committee the text prints (Đảng ủy xã ..., Huyện ủy).
            assert item["note"] and "ủy" in item["note"], item["name"]
    assert sorted(unprinted) == [
        "Đảng bộ huyện Mai Sơn",
        "Đảng bộ xã Lâm Thượng",
        "Đảng bộ xã Mai Hạ",
    ]
