"""Localities: the administrative tree and its 2025 reform successors."""

from datetime import date

from sqlalchemy import CheckConstraint, Index, String, Text
from sqlmodel import Field, SQLModel

from app.models.base import NAME_ORDER_TYPE, in_list
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
        # Lists by name (sort=name, -name), of every kind or of one, in Vietnamese
        # alphabetical order (migrations 0010, 0019).
        Index("ix_localities_name_order_id", "name_order", "id"),
        Index("ix_localities_kind_name_order_id", "kind", "name_order", "id"),
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
    # Its place in Vietnamese alphabetical order (app.services.collation.name_order).
    name_order: str = Field(sa_type=NAME_ORDER_TYPE, sa_column_kwargs={"server_default": ""})
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


WORD_TYPE = String(400).with_variant(String(400, collation="C"), "postgresql")


class LocalityWord(SQLModel, table=True):
    """One folded word of a locality's search_key: search by word prefix is a range scan
    of the primary key, not a LIKE over every locality (issue 7). Kept with search_key."""

    __tablename__ = "locality_words"
    __table_args__ = (Index("ix_locality_words_locality_id_word", "locality_id", "word"),)

    # Compared by its bytes on PostgreSQL too: a prefix's range ends at the prefix with its
    # last character raised, an order of bytes (migration 0022).
    word: str = Field(sa_type=WORD_TYPE, primary_key=True)
    locality_id: int = Field(foreign_key="localities.id", primary_key=True, ondelete="CASCADE")


class YearlyTotalValues(SQLModel):
    """One measure's figures in one year, summed: the columns both totals tables share.

    `above1`..`above4` are the reporting ancestors outside the commune, by depth; `records`
    the figures summed, `low`/`high` their bounds, `bounded` how many have an upper bound,
    `approximate` how many the text gives as approximate, `min_id` and `sample` the
    figures a reader can open.
    """

    measure: str = Field(max_length=30)
    year: int
    above1: int | None = None
    above2: int | None = None
    above3: int | None = None
    above4: int | None = None
    records: int
    low: int
    high: int | None = None
    bounded: int
    approximate: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    min_id: int
    sample: str = Field(sa_type=Text, description="Up to 25 smallest record ids, by commas.")


class CommuneYearlyTotal(YearlyTotalValues, table=True):
    """Per-year sums of the figures of the organizations in one commune (issue 7).

    Derived from membership counts and events, kept on write (app.services.yearly): a
    province's stats read a few rows per commune instead of every figure under it. Rows
    an organization above, in the same commune, already reports are left out here; those
    reported by one outside the commune (`above1`..`above4`, the ancestors outside it, by
    depth) are left out at read time, when the place asked for covers that ancestor.
    """

    __tablename__ = "commune_yearly_totals"

    id: int | None = Field(default=None, primary_key=True)
    province_id: int | None = Field(default=None, index=True)
    district_id: int | None = Field(default=None, index=True)
    commune_id: int = Field(index=True)


class PlaceYearlyTotal(YearlyTotalValues, table=True):
    """The communes' yearly totals summed per province and per district (issue 7).

    A province's stats read a few dozen of these instead of every commune's rows. Rows
    stay apart by the ancestors outside the commune (`above1`..`above4`), as in
    commune_yearly_totals, since whether one covers a row depends on the place asked for.
    Kept on write with the communes' totals (app.services.place_totals).
    """

    __tablename__ = "place_yearly_totals"

    id: int | None = Field(default=None, primary_key=True)
    place_id: int = Field(index=True, description="A province's or a district's locality id.")
