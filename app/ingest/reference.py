"""The official units and their 2025 successors, from seed/reference/units-2025-reform.csv.

Keys: `vn2004:<code>` for a unit before 1 July 2025, `vn2025:<code>` for one from then.
A code alone never identifies a unit: the reform reused codes for new territories.
"""

import csv
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from sqlmodel import Session, select

from app.ingest.places import (
    locality_search_fields,
    set_locality_ancestors,
    sync_locality_words,
)
from app.models import Locality, LocalitySuccession

PREFIXES = {  # name prefix -> kind, for each level of the CSV
    "province": {"Tỉnh": "province", "Thành phố": "city_province"},
    "district": {"Huyện": "district", "Thị xã": "town", "Thành phố": "city", "Quận": "district"},
    "commune": {
        "Xã": "commune",
        "Phường": "ward",
        "Thị trấn": "township",
        "Đặc khu": "special_zone",
    },
}


@dataclass
class ReferenceReport:
    added: int = 0
    unchanged: int = 0
    successions_added: int = 0
    successions_changed: int = 0
    keys: dict[str, int] = field(default_factory=dict)


def split_name(level: str, official_name: str) -> tuple[str, str]:
    """'Xã Mai Hạ' -> ('commune', 'Mai Hạ')."""
    for prefix, kind in PREFIXES[level].items():
        if official_name.startswith(prefix + " "):
            return kind, official_name[len(prefix) + 1 :]
    raise ValueError(f"cannot tell the kind of {official_name!r} ({level})")


def load_reference(session: Session, csv_path: Path) -> ReferenceReport:
    report = ReferenceReport()
    with csv_path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    # Parents before children: provinces, then districts, then communes.
    order = {"province": 0, "district": 1, "commune": 2}
    rows.sort(key=lambda row: order[row["level"]])
    # A unit that others merged into is a new unit, though it keeps one's code and name
    # (the new xã Hạnh Lâm took in Thanh Đức): none of them continued.
    constituents = Counter((row["level"], row["new_code"]) for row in rows if row["new_code"])
    for row in rows:
        effective = date.fromisoformat(row["effective"])
        level = row["level"]
        old_parent_key = f"vn2004:{row['old_parent_code']}" if row["old_parent_code"] else None
        old = _ensure(
            session,
            report,
            key=f"vn2004:{row['old_code']}",
            level=level,
            official_name=row["old_name"],
            code=row["old_code"],
            parent_key=old_parent_key,
            valid_from=None,
            valid_to=effective - timedelta(days=1),
            legal_basis=row["legal_basis"],
        )
        if not row["new_code"]:
            continue  # the district level was abolished: no successor
        new_parent_key = f"vn2025:{row['new_parent_code']}" if row["new_parent_code"] else None
        new = _ensure(
            session,
            report,
            key=f"vn2025:{row['new_code']}",
            level=level,
            official_name=row["new_name"],
            code=row["new_code"],
            parent_key=new_parent_key,
            valid_from=effective,
            valid_to=None,
            legal_basis=row["legal_basis"],
        )
        same = (
            row["old_code"] == row["new_code"]
            and row["old_name"] == row["new_name"]
            and constituents[level, row["new_code"]] == 1
        )
        _ensure_succession(
            session,
            report,
            old,
            new,
            kind="continued" if same else "merged_into",
            effective_on=effective,
            legal_basis=row["legal_basis"],
        )
    return report


def _ensure(
    session: Session,
    report: ReferenceReport,
    *,
    key: str,
    level: str,
    official_name: str,
    code: str,
    parent_key: str | None,
    valid_from: date | None,
    valid_to: date | None,
    legal_basis: str,
) -> Locality:
    if key in report.keys:
        existing = session.get(Locality, report.keys[key])
        assert existing is not None
        return existing
    found = session.exec(select(Locality).where(Locality.key == key)).first()
    if found is not None:
        report.unchanged += 1
        report.keys[key] = found.id or 0
        return found
    kind, name = split_name(level, official_name)
    parent = None
    if parent_key:
        parent = session.exec(select(Locality).where(Locality.key == parent_key)).one()
    locality = Locality(
        key=key,
        kind=kind,
        name=name,
        official_name=official_name,
        code=code,
        parent_id=parent.id if parent else None,
        valid_from=valid_from,
        valid_to=valid_to,
        legal_basis=legal_basis,
        **locality_search_fields(name, official_name)._asdict(),
    )
    session.add(locality)
    session.flush()
    set_locality_ancestors(locality, parent)
    sync_locality_words(session, [locality])
    report.added += 1
    report.keys[key] = locality.id or 0
    return locality


def _ensure_succession(
    session: Session,
    report: ReferenceReport,
    old: Locality,
    new: Locality,
    *,
    kind: str,
    effective_on: date,
    legal_basis: str,
) -> None:
    exists = session.exec(
        select(LocalitySuccession).where(
            LocalitySuccession.predecessor_id == old.id,
            LocalitySuccession.successor_id == new.id,
        )
    ).first()
    if exists is None:
        assert old.id is not None and new.id is not None
        session.add(
            LocalitySuccession(
                predecessor_id=old.id,
                successor_id=new.id,
                kind=kind,
                effective_on=effective_on,
                legal_basis=legal_basis,
            )
        )
        report.successions_added += 1
    elif exists.kind != kind:  # as loaded before the rule above
        exists.kind = kind
        session.add(exists)
        report.successions_changed += 1
