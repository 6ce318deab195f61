from pydantic import BaseModel, Field


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class Readiness(BaseModel):
    ready: bool
    database: str = Field(description="Database dialect.", examples=["sqlite", "postgresql"])
    revision: str | None = Field(description="The database's migration revision.")
    head: str | None = Field(description="The latest migration revision of this release.")
    detail: str | None = None
