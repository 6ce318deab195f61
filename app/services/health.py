"""Is the database reachable and migrated?"""

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.migrate import current_revision, head_revision
from app.schemas.health import Readiness


def readiness(engine: Engine) -> Readiness:
    head = head_revision()
    try:
        revision = current_revision(engine)
    except SQLAlchemyError as exc:
        return Readiness(
            ready=False,
            database=engine.dialect.name,
            revision=None,
            head=head,
            detail=f"database unreachable ({exc.__class__.__name__})",
        )
    ready = revision == head
    detail = None if ready else "database schema is not at the latest migration"
    return Readiness(
        ready=ready, database=engine.dialect.name, revision=revision, head=head, detail=detail
    )
