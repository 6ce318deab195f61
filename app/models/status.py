"""Per-branch status, maintained on write: latest count and risk, for fast lists."""

from datetime import date

from sqlalchemy import Index, Text, text
from sqlmodel import Field, SQLModel

from app.models.vocab import AT_RISK_LEVELS, LEVEL_RANK


class BranchStatus(SQLModel, table=True):
    """Derived from the figures by app.services.status; never edited directly.

    Lists filter and sort on these columns (members, risk) with an index, instead of
    finding each branch's latest count and evaluating the risk rules per request.
    """

    __tablename__ = "branch_status"
    __table_args__ = (
        Index("ix_branch_status_risk_rank_branch", "risk_rank", "branch_id"),
        Index("ix_branch_status_members_sort_branch", "members_sort", "branch_id"),
        # The branches at risk at each level or above, in id order: a page of them reads
        # its rows and no others, however rare the level and however deep the page (the
        # first index gives them by rank, then id, one rank at a time).
        *(
            Index(
                f"ix_branch_status_at_risk_{level}",
                "branch_id",
                sqlite_where=text(f"risk_rank >= {LEVEL_RANK[level]}"),
                postgresql_where=text(f"risk_rank >= {LEVEL_RANK[level]}"),
            )
            for level in AT_RISK_LEVELS
        ),
        # A province's branches at risk, in id order: its page and its count read only
        # them. Through the branches' province index, counting a province's (816 of its
        # 7,589 at scale 1.0) read every branch of it: 2.7 ms on SQLite.
        # A province's branches by members or by risk, whichever its page asks: a page
        # reads its own rows (app.services.branches._sort_keys, migration 0014).
        Index("ix_branch_status_province_members", "province_id", "members_sort", "branch_id"),
        Index("ix_branch_status_province_rank", "province_id", "risk_rank", "branch_id"),
        Index(
            "ix_branch_status_province_at_risk",
            "province_id",
            "branch_id",
            sqlite_where=text(f"risk_rank >= {LEVEL_RANK['watch']}"),
            postgresql_where=text(f"risk_rank >= {LEVEL_RANK['watch']}"),
        ),
        # Whether any row is of another day or rule set (app.services.status_day.is_stale,
        # migration 0021): a seek, not a scan of every row.
        Index("ix_branch_status_evaluated_on_rules_version", "evaluated_on", "rules_version"),
    )

    branch_id: int = Field(foreign_key="branches.id", primary_key=True)
    # The branch's province (branches.province_id), written with the rest of the row.
    province_id: int | None = None
    latest_count_id: int | None = Field(default=None, foreign_key="membership_counts.id")
    members_low: int | None = None
    members_high: int | None = None
    # members_low, or -1 when unknown: a non-null key that lists can sort on by index.
    members_sort: int = -1
    risk_level: str = Field(max_length=20)
    risk_rank: int
    criteria_met: str = Field(default="", sa_type=Text)
    newest_evidence_date: date | None = None
    rules_version: str = Field(max_length=20)
    evaluated_on: date
    # The branch as lists and details serve it today (JSON, app.services.branch_items):
    # rendered on write, because rendering it per request cost most of a list request.
    item: str | None = Field(default=None, sa_type=Text)
