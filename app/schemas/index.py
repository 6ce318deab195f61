from pydantic import BaseModel, Field


class Documentation(BaseModel):
    openapi: str | None = Field(
        description="The OpenAPI 3.1 document of this API (JSON).", examples=["/openapi.json"]
    )
    interactive: str | None = Field(
        description="The interactive documentation (Swagger UI).", examples=["/docs"]
    )
    reference: str | None = Field(
        description="The reference documentation (ReDoc).", examples=["/redoc"]
    )


class ReadOperation(BaseModel):
    href: str = Field(
        description="The path; an RFC 6570 template when `templated`.",
        examples=["/branches/{branch_id}"],
    )
    templated: bool = Field(description="Whether `href` has parameters to fill in.")
    operation_id: str = Field(description="The operation's id in the OpenAPI document.")
    summary: str | None = Field(description="What it answers, in a few words.")
    media_types: list[str] = Field(
        description="What the operation answers in: JSON, and for lists CSV and NDJSON "
        "(`format=` or `Accept`).",
        examples=[["application/json", "text/csv", "application/x-ndjson"]],
    )
    key_required: bool = Field(description="Whether it needs an API key (`Authorization`).")


class ApiIndex(BaseModel):
    title: str = Field(description="The API's name.", examples=["branchstats"])
    version: str = Field(description="The API's version.", examples=["0.1.0"])
    documentation: Documentation = Field(
        description="Where the documentation is served; null where this server hides it."
    )
    resources: list[ReadOperation] = Field(
        description="Every read the API offers, in the order of its OpenAPI document."
    )
