"""Is the database reachable and migrated?"""

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.migrate import current_revision, head_revision, is_ahead
from app.reader import Reader
from app.schemas.health import Readiness
from app.services.status import stored_status_day


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
            status_day=None,
            detail=f"database unreachable ({exc.__class__.__name__})",
        )
    ready = revision == head
    detail = None
    if is_ahead(revision):  # --no-prepare on a database a newer release migrated
        detail = "database schema is at a migration this release does not have (a newer one's)"
    elif not ready:
        detail = "database schema is not at the latest migration"
    status_day = None
    if ready:
        try:
            with Reader.open(engine) as reader:
                status_day = stored_status_day(reader)
        except SQLAlchemyError:  # gone since the revision was read: ready says the rest
            status_day = None
    return Readiness(
        ready=ready,
        database=engine.dialect.name,
        revision=revision,
        head=head,
        status_day=status_day,
        detail=detail,
    )
