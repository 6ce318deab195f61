"""Small shared pieces of rows: references to sources and localities, search."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, String, Table, and_, bindparam, case, literal, or_, true
from sqlalchemy.sql import Select

from app.models import Locality, Source
from app.reader import shared
from app.services.text import fold, lower_exact, search_words


def table(model: Any) -> Table:
    """A model's table, typed (SQLModel does not declare __table__)."""
    return cast(Table, model.__table__)


@shared()
def alias(model: Any, name: str) -> Any:
    """A named alias of a model's table, built once.

    Aliasing copies every column: made per request it cost more than the query itself,
    and identical aliases let SQLAlchemy reuse its compiled SQL.
    """
    return model.__table__.alias(name)


SOURCE_FIELDS = ("id", "key", "publisher", "title", "published_on", "url")
LOCALITY_FIELDS = ("id", "key", "kind", "name", "official_name", "code")
# What a row's source adds to its CSV line: all of the reference, enough to cite it
# beside the quote, and its key, which names it alike in every copy of the dataset (ids
# are one database's).
SOURCE_CSV_FIELDS = SOURCE_FIELDS


def source_columns(path: str = "source") -> list[str]:
    """The CSV columns of the source at `path` ("source", "latest_count.source")."""
    return [f"{path}.{field}" for field in SOURCE_CSV_FIELDS]


def with_source(query: Select[Any], source_id: ColumnElement[Any], prefix: str) -> Select[Any]:
    """Join a source and select its reference columns as `<prefix>_<field>`."""
    src = alias(Source, prefix)
    return query.outerjoin(src, src.c.id == source_id).add_columns(
        *(src.c[f].label(f"{prefix}_{f}") for f in SOURCE_FIELDS)
    )


def source_ref(row: Mapping[str, Any], prefix: str) -> dict[str, Any] | None:
    if row[f"{prefix}_id"] is None:
        return None
    return {f: row[f"{prefix}_{f}"] for f in SOURCE_FIELDS}


def locality_alias(name: str) -> Any:
    return alias(Locality, name)


def locality_columns(alias: Any, prefix: str) -> list[ColumnElement[Any]]:
    return [alias.c[f].label(f"{prefix}_{f}") for f in LOCALITY_FIELDS]


def locality_ref(row: Mapping[str, Any], prefix: str) -> dict[str, Any] | None:
    if row[f"{prefix}_id"] is None:
        return None
    return {f: row[f"{prefix}_{f}"] for f in LOCALITY_FIELDS}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class SearchTerms:
    """The LIKE patterns of a search: q's folded words, and its words as typed (lower
    case, diacritics kept), escaped."""

    folded: tuple[str, ...]
    exact: tuple[str, ...]

    @classmethod
    def of(cls, q: str) -> "SearchTerms":
        return cls(
            tuple(_escape_like(w) for w in search_words(fold(q))),
            tuple(_escape_like(w) for w in search_words(lower_exact(q))),
        )

    @property
    def shape(self) -> tuple[int, int]:
        """What the SQL of `search` depends on: how many words of each kind."""
        return len(self.folded), len(self.exact)

    def params(self, name: str = "q") -> dict[str, str]:
        """Each word anywhere, folded (`f`) and as typed (`x`); and as a whole word
        between spaces (`fw`, `xw`: the text is given a space at each end)."""
        return {
            **{f"{name}_f{i}": f"%{word}%" for i, word in enumerate(self.folded)},
            **{f"{name}_x{i}": f"%{word}%" for i, word in enumerate(self.exact)},
            **{f"{name}_fw{i}": f"% {word} %" for i, word in enumerate(self.folded)},
            **{f"{name}_xw{i}": f"% {word} %" for i, word in enumerate(self.exact)},
        }


# A search's ranks, best first (`search`).
SEARCH_RANKS = ("whole_words_exact", "whole_words_folded", "exact_diacritics", "folded_only")


def search(
    search_key: ColumnElement[str],
    name_lower: ColumnElement[str],
    shape: tuple[int, int],
    name: str = "q",
) -> tuple[ColumnElement[bool], ColumnElement[int]]:
    """Every folded word of q must appear, and the rows rank by how (SEARCH_RANKS): q's
    words as whole words of the name with their exact diacritics ("Hà": Thanh Hà), as
    whole words folded (Mai Hạ), as parts of words with their diacritics (Bích Hào), the
    rest (Hạnh Lâm). Words are what spaces separate here: a word beside punctuation
    ranks as a part of one.

    'thao chu phin', 'THÀO CHƯ PHÌN' (or its NFD form) and 'dang bo luc yen' all match.
    The patterns are bound (`SearchTerms.params`); `shape` is `SearchTerms.shape`.
    """
    folded, exact = shape

    def every(text: ColumnElement[str], kind: str, count: int) -> ColumnElement[bool]:
        patterns = [bindparam(f"{name}_{kind}{i}", type_=String) for i in range(count)]
        return and_(true(), *(text.like(p, escape="\\") for p in patterns))

    def padded(text: ColumnElement[str]) -> ColumnElement[str]:
        return literal(" ", String) + text + literal(" ", String)

    ranks = (
        every(padded(name_lower), "xw", exact),
        every(padded(search_key), "fw", folded),
        every(name_lower, "x", exact),
    )
    rank = case(*((r, literal(n)) for n, r in enumerate(ranks)), else_=literal(len(ranks)))
    return every(search_key, "f", folded), rank


def scope_levels(scope: dict[str, list[int]]) -> tuple[str, ...]:
    """The levels a scope has units at: the shape of in_bound_scope's clause."""
    return tuple(sorted(level for level, ids in scope.items() if ids))


def in_bound_scope(
    table: Table | Any, levels: tuple[str, ...], name: str = "scope"
) -> ColumnElement[bool]:
    """Rows whose ancestor at one of `levels` is one of the scope's units there, the
    units bound at execution (`scope_params`): a statement built once per shape of
    scope."""
    clauses = [
        _level_column(table, level).in_(bindparam(f"{name}_{level}", expanding=True))
        for level in levels
    ]
    return or_(*clauses) if clauses else literal(False)


def scope_params(scope: dict[str, list[int]], name: str = "scope") -> dict[str, list[int]]:
    return {f"{name}_{level}": ids for level, ids in scope.items() if ids}


def _level_column(table: Table | Any, level: str) -> Any:
    if level == "village":
        # Branches sit in a village through locality_id; a locality is its own id.
        return table.c.locality_id if "locality_id" in table.c else table.c.id
    return table.c[f"{level}_id"]
