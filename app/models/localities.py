"""Localities: the administrative tree and its 2025 reform successors."""

from datetime import date

from sqlalchemy import CheckConstraint, Index, Text
from sqlmodel import Field, SQLModel

from app.models.base import in_list
from app.models.vocab import LOCALITY_KINDS, SUCCESSION_KINDS


class Locality(SQLModel, table=True):
    """A province, district, commune or village, valid over a period.

    A unit is a code plus a validity period: the 2025 reform reused codes for new
    territories, so old and new units are separate rows linked by successions.
    """

    __tablename__ = "localities"
    __table_args__ = (
        CheckConstraint(in_list("kind", LOCALITY_KINDS), name="kind"),
        Index("ix_localities_kind_id", "kind", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)
    kind: str = Field(max_length=20)
    name: str = Field(max_length=200, description="Proper name as written, with diacritics.")
    official_name: str | None = Field(default=None, max_length=250)
    code: str | None = Field(default=None, max_length=10, index=True)
    parent_id: int | None = Field(default=None, foreign_key="localities.id", index=True)
    # Ancestors (self included at its own level), denormalized so that a subtree is an
    # indexed equality test rather than a recursive query.
    province_id: int | None = Field(default=None, foreign_key="localities.id", index=True)
    district_id: int | None = Field(default=None, foreign_key="localities.id", index=True)
    commune_id: int | None = Field(default=None, foreign_key="localities.id", index=True)
    # What the unit's province and commune are today (after the 2025 reform), kept on
    # write: a journalist asking for today's Lào Cai also gets old Yên Bái's figures.
    current_province_id: int | None = Field(default=None, foreign_key="localities.id")
    current_commune_id: int | None = Field(default=None, foreign_key="localities.id")
    valid_from: date | None = None
    valid_to: date | None = None
    legal_basis: str | None = Field(default=None, max_length=300)
    search_key: str = Field(max_length=400, index=True)
    name_lower: str = Field(max_length=400)
    source_id: int | None = Field(default=None, foreign_key="sources.id", index=True)
    quote: str | None = Field(default=None, sa_type=Text)
    note: str | None = Field(default=None, sa_type=Text)
    is_synthetic: bool = Field(default=False, index=True)


class LocalitySuccession(SQLModel, table=True):
    """What replaced a unit: a predecessor, its successor, when and by which act."""

    __tablename__ = "locality_successions"
    __table_args__ = (
        CheckConstraint(in_list("kind", SUCCESSION_KINDS), name="kind"),
        Index("uq_locality_successions_pair", "predecessor_id", "successor_id", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    predecessor_id: int = Field(foreign_key="localities.id", index=True)
    successor_id: int = Field(foreign_key="localities.id", index=True)
    kind: str = Field(max_length=20)
    effective_on: date
    legal_basis: str = Field(max_length=300)
