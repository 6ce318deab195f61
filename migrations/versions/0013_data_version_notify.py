"""PostgreSQL announces each new data version (NOTIFY), so that a server need not read it

A kept answer (app.services.answer_cache) was served after a read of the version's row:
on PostgreSQL a round trip to the server, and with it a hop to a read thread, for an
answer that needs nothing else from the database. A server now listens on the channel
`data_version` (app.services.version_watch) and knows the version without asking.

A trigger on the version's row itself, so that whatever raises it is announced: the data
tables' triggers, a loader that set them aside and raises it once, an UPDATE by hand. The
payload is the version; an empty one says the row is gone (deleted, truncated), and with
it any version to keep answers by. PostgreSQL sends a transaction's notifications when it
commits, in the order transactions commit. SQLite has no such thing: nothing to do.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 08:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "data_version"
ANNOUNCE = f"""
CREATE OR REPLACE FUNCTION announce_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM pg_notify('{CHANNEL}', NEW.version::text);
    ELSE
        PERFORM pg_notify('{CHANNEL}', '');
    END IF;
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(ANNOUNCE)
    op.execute(
        "CREATE TRIGGER data_version_announced AFTER INSERT OR UPDATE OR DELETE "
        "ON data_version FOR EACH ROW EXECUTE FUNCTION announce_data_version()"
    )
    op.execute(
        "CREATE TRIGGER data_version_truncate_announced AFTER TRUNCATE "
        "ON data_version FOR EACH STATEMENT EXECUTE FUNCTION announce_data_version()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER data_version_truncate_announced ON data_version")
    op.execute("DROP TRIGGER data_version_announced ON data_version")
    op.execute("DROP FUNCTION announce_data_version()")
