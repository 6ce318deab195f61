"""Table models (SQLModel, table=True). API shapes live in app.schemas."""

from app.models.auth import ApiKey, AuditEntry, IdempotencyRecord
from app.models.base import metadata
from app.models.branches import Branch
from app.models.data_version import DataVersion
from app.models.figures import Fact, MembershipCount, MembershipEvent, Officeholder
from app.models.localities import Locality, LocalitySuccession
from app.models.retired_ids import RetiredId
from app.models.sources import Source
from app.models.status import BranchStatus

__all__ = [
    "ApiKey",
    "AuditEntry",
    "Branch",
    "BranchStatus",
    "DataVersion",
    "Fact",
    "IdempotencyRecord",
    "Locality",
    "LocalitySuccession",
    "MembershipCount",
    "MembershipEvent",
    "Officeholder",
    "RetiredId",
    "Source",
    "metadata",
]
