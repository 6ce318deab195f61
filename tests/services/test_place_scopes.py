"""Places' scopes kept between pages: used only by a page that read the version they were
read at; otherwise read again, and the page with them."""

from dataclasses import replace

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from app.errors import ApiError
from app.models import Locality
from app.reader import Reader
from app.services.branches import BranchFilters, list_branches
from app.services.data_version import data_version
from app.services.listing import Page
from app.services.pagination import PageRequest
from app.services.place_scopes import PlaceScopes, place_scope
from app.services.risk_rules import RiskRules

SECRET = b"test"
RULES = RiskRules()


def _province(engine: Engine, code: str, *, current: bool) -> int:
    with Session(engine) as session:
        query = select(Locality.id).where(Locality.code == code, Locality.kind == "province")
        valid = Locality.valid_to.is_(None) if current else Locality.valid_to.is_not(None)  # type: ignore[union-attr]
        ident = session.exec(query.where(valid)).one()
    assert ident is not None
    return ident


def _page(
    reader: Reader, scopes: PlaceScopes | None, statements: list[str], **filters: object
) -> Page:
    statements.clear()
    return list_branches(
        reader,
        BranchFilters(**filters),  # type: ignore[arg-type]
        PageRequest(limit=100, cursor=None, sort="id", filters_digest="scopes"),
        SECRET,
        True,
        RULES,
        scopes=scopes,
    )


def _items(page: Page) -> list[dict[str, object]]:
    return [item.parsed() for item in page.items]


def test_a_kept_scope_spares_the_page_its_read(
    shared_engine: Engine, reader: Reader, statements: list[str]
) -> None:
    lao_cai = _province(shared_engine, "15", current=True)
    scopes = PlaceScopes()
    first = _page(reader, scopes, statements, province=lao_cai)
    assert len(statements) == 2  # the scope, then the page
    again = _page(reader, scopes, statements, province=lao_cai)
    assert len(statements) == 1
    assert _items(again) == _items(first) and again.total == first.total
    unkept = _page(reader, None, statements, province=lao_cai)
    assert _items(unkept) == _items(first) and len(statements) == 2
    assert first.items  # today's Lào Cai has branches: the page carried its version
    assert first.data_version == data_version(reader)


def test_a_scope_kept_at_another_version_is_read_again(
    shared_engine: Engine, reader: Reader, statements: list[str]
) -> None:
    """A write that changed the places since: the page is read again with the scope as
    it is now, not with the kept one (here old Yên Bái's alone, for today's Lào Cai)."""
    lao_cai = _province(shared_engine, "15", current=True)
    yen_bai = _province(shared_engine, "15", current=False)
    expected = _page(reader, None, statements, province=lao_cai)
    version = data_version(reader)
    assert version is not None
    scopes = PlaceScopes()
    out_of_date = place_scope(reader, yen_bai)
    scopes.put(lao_cai, version - 1, out_of_date)
    found = _page(reader, scopes, statements, province=lao_cai)
    assert _items(found) == _items(expected)
    assert len(found.items) > len(_page(reader, None, statements, province=yen_bai).items)
    assert scopes.get(lao_cai) == (version, place_scope(reader, lao_cai))


def test_a_kept_scope_of_another_kind_is_asked_again_before_a_422(
    shared_engine: Engine, reader: Reader, statements: list[str]
) -> None:
    lao_cai = _province(shared_engine, "15", current=True)
    version = data_version(reader)
    assert version is not None
    scopes = PlaceScopes()
    scopes.put(lao_cai, version - 1, replace(place_scope(reader, lao_cai), kind="commune"))
    assert _page(reader, scopes, statements, province=lao_cai).items
    assert scopes.get(lao_cai) == (version, place_scope(reader, lao_cai))


def test_an_empty_page_carries_no_version_and_reads_the_scope_again(
    shared_engine: Engine, reader: Reader, statements: list[str]
) -> None:
    lao_cai = _province(shared_engine, "15", current=True)
    scopes = PlaceScopes()
    _page(reader, scopes, statements, province=lao_cai)
    empty = _page(reader, scopes, statements, province=lao_cai, min_members=10_000_000)
    assert empty.items == [] and empty.data_version is None
    assert len(statements) == 3  # the page, the scope read again, the page again


def test_a_missing_place_is_a_404_kept_or_not(reader: Reader, statements: list[str]) -> None:
    scopes = PlaceScopes()
    for _ in range(2):
        with pytest.raises(ApiError) as raised:
            _page(reader, scopes, statements, province=999_999)
        assert raised.value.status == 404
    assert len(scopes) == 0


def test_beyond_its_size_the_least_recently_used_scope_goes_first(
    shared_engine: Engine, reader: Reader
) -> None:
    scopes = PlaceScopes(size=2)
    scope = place_scope(reader, _province(shared_engine, "15", current=True))
    for ident in (1, 2, 3):
        scopes.put(ident, 7, scope)
        if ident == 2:
            assert scopes.get(1) is not None  # 2 is now the least recently used
    assert (scopes.get(1), scopes.get(2), scopes.get(3)) == ((7, scope), None, (7, scope))
