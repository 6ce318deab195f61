"""Branches: party organizations, named ones and unnamed groups an article counts."""

from datetime import date

from sqlalchemy import CheckConstraint, Index, Text
from sqlmodel import Field, SQLModel

from app.models.base import NAME_ORDER_TYPE, in_list
from app.models.vocab import BRANCH_KINDS


class Branch(SQLModel, table=True):
    """A party organization, or an unnamed group of them (group_size set, name null).

    "6 chi bộ thuộc 4 xã" is one row with group_size 6: nothing is invented about the
    members of the group beyond what the source says of all of them.
    """

    __tablename__ = "branches"
    __table_args__ = (
        CheckConstraint(in_list("kind", BRANCH_KINDS), name="kind"),
        CheckConstraint("group_size IS NULL OR group_size > 1", name="group_size"),
        CheckConstraint("name IS NOT NULL OR group_size IS NOT NULL", name="named_or_group"),
        Index("ix_branches_province_id_id", "province_id", "id"),
        Index("ix_branches_kind_id", "kind", "id"),
        # sort=name, in Vietnamese alphabetical order (migrations 0010, 0019).
        Index("ix_branches_name_order_id", "name_order", "id"),
        # A province's branches by name (migrations 0014, 0019).
        Index("ix_branches_province_name_order_id", "province_id", "name_order", "id"),
        # A search reads every folded name, and ranks by the name (migration 0011).
        Index("ix_branches_search_key_name_lower_id", "search_key", "name_lower", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)
    kind: str = Field(max_length=30)
    name: str | None = Field(default=None, max_length=300)
    group_size: int | None = None
    description: str | None = Field(default=None, sa_type=Text)
    locality_id: int | None = Field(default=None, foreign_key="localities.id", index=True)
    # Ancestors of the locality, copied on write (see Locality): subtree filters use them.
    province_id: int | None = Field(default=None, foreign_key="localities.id")
    district_id: int | None = Field(default=None, foreign_key="localities.id", index=True)
    commune_id: int | None = Field(default=None, foreign_key="localities.id", index=True)
    parent_id: int | None = Field(default=None, foreign_key="branches.id", index=True)
    founded_on: date | None = None
    dissolved_on: date | None = None
    search_key: str = Field(max_length=600)
    name_lower: str = Field(max_length=600)
    # Its place in Vietnamese alphabetical order (app.services.collation.name_order).
    name_order: str = Field(sa_type=NAME_ORDER_TYPE, sa_column_kwargs={"server_default": ""})
    source_id: int | None = Field(default=None, foreign_key="sources.id", index=True)
    quote: str | None = Field(default=None, sa_type=Text)
    note: str | None = Field(default=None, sa_type=Text)
    is_synthetic: bool = Field(default=False, index=True)
