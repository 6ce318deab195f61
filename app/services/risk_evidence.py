"""Every branch at risk with the evidence of each criterion: the sentences in bulk.

A branch's explanation (app.services.risk_explain) answers one branch a request; a
newsroom checking a province's branches at risk wants all their sentences at once. The
branches are those `/branches?risk=true` lists, with its filters, page by page; each is
explained as of the same day. As CSV, a branch is one row a criterion's evidence record
(one row with empty record columns where a criterion has none), so that each quote sits
beside the figure it supports and the criterion it is evidence for.
"""

from typing import Any

from app.formats import row_cells
from app.reader import Reader
from app.services.branches import BranchFilters, KeptLists, list_branches
from app.services.json_sql import as_plain
from app.services.listing import Page
from app.services.pagination import PageRequest
from app.services.refs import source_columns
from app.services.risk_explain import explain_risks
from app.services.risk_rules import RiskRules
from app.services.status import stored_status_day

# Branches a batch of a whole export, explained together: the first bytes go out soon,
# and the batch's explanations held at once stay small (a batch of 5,000, as other
# lists', took 9 s before its first byte at scale 1.0).
EVIDENCE_BATCH = 200

# The branch's columns, then its risk's, the criterion's, and the record's.
BRANCH_FIELDS = ("id", "key", "kind", "name", "group_size", "description")
RECORD_FIELDS = (
    "id",
    "key",
    "kind",
    "metric",
    "dimension",
    "status",
    "value",
    "value_max",
    "out_of",
    "unit",
    "qualifier",
    "applies_to_each",
    "reason",
    "as_of",
    "period_start",
    "period_end",
    "evidence_date",
    "evidence_date_basis",
    "date_note",
    "figure",
    "quote",
    "note",
)
EVIDENCE_CSV = [
    *(f"branch.{f}" for f in BRANCH_FIELDS),
    "branch.locality.name",
    "branch.today.province.name",
    "branch.today.province.code",
    "branch.today.commune.name",
    "branch.today.commune.code",
    "risk.as_of",
    "risk.level",
    "risk.rules_version",
    "risk.newest_evidence_date",
    "risk.evidence_age_days",
    "risk.newest_stated_date",
    "risk.stated_age_days",
    "criterion.id",
    "criterion.status",
    "criterion.value",
    "criterion.threshold",
    "record.path",
    *(f"record.{f}" for f in RECORD_FIELDS),
    *source_columns("record.source"),
]


def evidence_page(
    reader: Reader,
    filters: BranchFilters,
    page: PageRequest,
    secret: bytes,
    with_total: bool,
    rules: RiskRules,
    *,
    cells: bool = False,
    kept: KeptLists | None = None,
) -> Page:
    """A page of the branches `/branches` lists with these filters (at risk), each with
    its explanation as of the filters' day; the page's cursor and total are the list's.
    With `cells`, the items are the CSV rows of those branches (evidence_rows), as cells
    of EVIDENCE_CSV. `kept`: what the list may read kept (its place scopes, counts, the
    day's rankings and walks: list_branches)."""
    branches = list_branches(reader, filters, page, secret, with_total, rules, **(kept or {}))
    # Without a day, the stored statuses' (which the list's levels are): explained as of
    # today between midnight and the day's refresh, a page held two days.
    day = filters.as_of or stored_status_day(reader)
    listed = [as_plain(item) for item in branches.items]
    ids = [branch["id"] for branch in listed]
    # By id: on PostgreSQL a branch deleted since the page was read has none.
    explained = {risk["branch_id"]: risk for risk in explain_risks(reader, ids, rules, day)}
    items: list[Any] = [
        {"branch": branch, "risk": explained[branch["id"]]}
        for branch in listed
        if branch["id"] in explained
    ]
    if cells:
        rows = (row for item in items for row in evidence_rows(item))
        items = list(row_cells(rows, EVIDENCE_CSV))
    return Page(items, branches.next_cursor, branches.total, branches.limit)


def evidence_rows(item: dict[str, Any]) -> list[dict[str, Any]]:
    """A page item as its CSV rows: one a criterion's record, one for a criterion with
    none. The row's `criterion` and `record` stand beside the item's own branch and risk."""
    rows = []
    for criterion in item["risk"]["criteria"]:
        for record in criterion["evidence"] or [None]:
            rows.append(
                {
                    **item,
                    "criterion": criterion,
                    "record": record,
                }
            )
    return rows
