from datetime import date

from pydantic import BaseModel, Field


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class Readiness(BaseModel):
    ready: bool
    database: str = Field(description="Database dialect.", examples=["sqlite", "postgresql"])
    revision: str | None = Field(description="The database's migration revision.")
    head: str | None = Field(description="The latest migration revision of this release.")
    status_day: date | None = Field(
        description="The day the stored risk statuses are of: today's (the server's day) "
        "once the day's refresh has run, a minute or so after midnight. A day behind "
        "past that is a refresh failing (the log says why); answers without `as_of` are "
        "of this day meanwhile. Null when the schema is not ready.",
    )
    detail: str | None = Field(description="Why it is not ready; null when it is.")
