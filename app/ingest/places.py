"""Keeping a locality's and a branch's denormalized ancestors and search words right."""

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from sqlalchemy import delete, insert, select
from sqlmodel import Session

from app.models import Branch, Locality
from app.models.localities import LocalityWord
from app.models.vocab import LEVEL_OF_KIND
from app.services.collation import name_order
from app.services.refs import table
from app.services.text import fold, lower_exact, search_words


def set_locality_ancestors(locality: Locality, parent: Locality | None) -> None:
    """Copy the parent's ancestors, then add the locality itself at its own level."""
    locality.province_id = parent.province_id if parent else None
    locality.district_id = parent.district_id if parent else None
    locality.commune_id = parent.commune_id if parent else None
    level = LEVEL_OF_KIND[locality.kind]
    if level == "province":
        locality.province_id = locality.id
    elif level == "district":
        locality.district_id = locality.id
    elif level == "commune":
        locality.commune_id = locality.id


def set_branch_place(branch: Branch, locality: Locality | None) -> None:
    branch.locality_id = locality.id if locality else None
    branch.province_id = locality.province_id if locality else None
    branch.district_id = locality.district_id if locality else None
    branch.commune_id = locality.commune_id if locality else None


class NameFields(NamedTuple):
    """What a name is searched (folded, and with its diacritics) and sorted by, stored
    beside it."""

    search_key: str
    name_lower: str
    name_order: str

    @classmethod
    def of(cls, label: str) -> "NameFields":
        return cls(fold(label), lower_exact(label), name_order(label))


def locality_search_fields(name: str, official_name: str | None) -> NameFields:
    """Searched by the name with its kind word ("xã Mai Hạ"), ordered by the name as it is
    listed ("Tiền Phong" among the T's, not after every "Xã ..." as "xóm Tiền Phong"),
    then by the kind word (migration 0026)."""
    label = official_name or name
    ordered = f"{name} {official_name}" if official_name else name
    return NameFields(fold(label), lower_exact(label), name_order(ordered))


def branch_search_fields(name: str | None, description: str | None) -> NameFields:
    return NameFields.of(" ".join(part for part in (name, description) if part))


def unfit_search_fields(model: Any, fields: NameFields) -> str | None:
    """Why a name's search fields do not fit their columns, or None when they do: a
    branch's name and description are searched as one, and folding can lengthen a
    name ("ß" is searched as "ss")."""
    columns = table(model).c
    for name in ("search_key", "name_lower"):
        width = getattr(columns[name].type, "length", None)
        length = len(getattr(fields, name))
        if width is not None and length > width:
            return f"too long to search: {length} characters as folded for search, at most {width}"
    return None


def sync_locality_words(session: Session, localities: Iterable[Locality]) -> None:
    """Rewrite the search words of the localities whose search_key no longer gives the
    words stored (after a write). Only those: an import of a file already imported
    writes nothing, so the data version, and every answer kept under it, stays."""
    rows = list(localities)
    if not rows:
        return
    session.flush()  # ids, and the search_key as written
    words = table(LocalityWord)
    stored: dict[int | None, set[str]] = {}
    for word, locality_id in session.execute(
        select(words.c.word, words.c.locality_id).where(
            words.c.locality_id.in_([r.id for r in rows])
        )
    ):
        stored.setdefault(locality_id, set()).add(word)
    changed = [r for r in rows if set(search_words(r.search_key)) != stored.get(r.id, set())]
    if not changed:
        return
    session.execute(delete(words).where(words.c.locality_id.in_([r.id for r in changed])))
    values = [{"word": w, "locality_id": r.id} for r in changed for w in search_words(r.search_key)]
    if values:
        session.execute(insert(words), values)


def stale_search(session: Session) -> dict[str, list[int]]:
    """The localities and branches whose search fields (NameFields, and a locality's
    words) are not what their names give now (should be none), by table."""
    words = table(LocalityWord)
    stored_words: dict[int, set[str]] = {}
    for word, locality_id in session.execute(select(words.c.word, words.c.locality_id)):
        stored_words.setdefault(locality_id, set()).add(word)

    def words_differ(row: Any) -> bool:
        return stored_words.pop(row.id, set()) != set(search_words(row.search_key))

    localities = _stale_fields(
        session, Locality, ("name", "official_name"), locality_search_fields, words_differ
    )
    branches = _stale_fields(
        session, Branch, ("name", "description"), branch_search_fields, lambda row: False
    )
    # Words left over: a locality's found stale already, or no locality's (the foreign
    # key cascades, but SQL by hand may have turned it off).
    return {"localities": sorted({*localities, *stored_words}), "branches": branches}


def _stale_fields(
    session: Session,
    model: Any,
    labels: tuple[str, str],
    fields_of: Callable[[Any, Any], NameFields],
    also_stale: Callable[[Any], bool],
) -> list[int]:
    """The rows of `model` whose search fields are not what `fields_of` its `labels`
    gives, or that `also_stale` says are."""
    t = table(model)
    rows = session.execute(
        select(t.c.id, *(t.c[n] for n in labels), *(t.c[n] for n in NameFields._fields))
    )
    return sorted(
        row.id for row in rows if tuple(row[3:]) != fields_of(row[1], row[2]) or also_stale(row)
    )
