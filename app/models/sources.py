"""Sources: the articles every figure is drawn from."""

from datetime import date, datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from app.models.base import utcnow


class Source(SQLModel, table=True):
    """An article, with its full text kept as evidence."""

    __tablename__ = "sources"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)
    publisher: str | None = Field(default=None, max_length=300)
    title: str | None = Field(default=None, sa_type=Text)
    published_on: date | None = None
    date_note: str | None = Field(default=None, sa_type=Text)
    author: str | None = Field(default=None, max_length=300)
    language: str = Field(default="vi", max_length=16)
    url: str | None = Field(default=None, max_length=2000)
    text: str = Field(sa_type=Text)
    text_sha256: str = Field(max_length=64)
    text_path: str | None = Field(default=None, max_length=500)
    # The day the service first held this text: an upper bound for the date of any
    # figure in it when the text prints no date of its own.
    registered_on: date
    is_synthetic: bool = Field(default=False, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
