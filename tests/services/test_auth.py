"""API keys without HTTP: made, found, revoked; only a hash of the token is stored."""

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from app.db import BEGIN_IMMEDIATE, make_engine
from app.errors import ApiError
from app.services import auth


@pytest.fixture
def keys_engine(migrated_url: str) -> Iterator[Engine]:
    engine = make_engine(migrated_url)
    yield engine
    engine.dispose()


def test_a_token_is_shown_once_and_only_its_hash_is_kept(keys_engine: Engine) -> None:
    with Session(keys_engine) as session:
        made = auth.create_key(session, "editor-lan")
        session.commit()
        assert made.token.startswith("bs_") and len(made.token) == auth.TOKEN_LENGTH
        assert made.key.prefix == made.token[: auth.PREFIX_LENGTH]
    with keys_engine.connect() as conn:
        stored = conn.execute(text("SELECT * FROM api_keys")).mappings().one()
    assert made.token not in {str(v) for v in stored.values()}
    assert stored["token_sha256"] == auth.token_hash(made.token)
    assert stored["scope"] == "write" and stored["revoked_at"] is None


def test_authenticate_knows_a_key_and_nothing_else(keys_engine: Engine) -> None:
    with Session(keys_engine) as session:
        writer = auth.create_key(session, "writer")
        reader = auth.create_key(session, "reader", "read")
        session.commit()
        caller = auth.authenticate(session, writer.token)
        assert (caller.name, caller.scope) == ("writer", "write")
        assert auth.require_scope(caller) is caller
        with pytest.raises(ApiError) as refused:
            auth.require_scope(auth.authenticate(session, reader.token))
        assert refused.value.status == 403
        for token in (None, "", "bs_short", writer.token[:-1] + "x", "xx" + writer.token[2:]):
            with pytest.raises(ApiError) as unknown:
                auth.authenticate(session, token)
            assert unknown.value.status == 401
            assert unknown.value.headers
            assert unknown.value.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_key_stops_working_and_keeps_its_name(keys_engine: Engine) -> None:
    with Session(keys_engine) as session:
        made = auth.create_key(session, "temp")
        session.commit()
        key = auth.revoke_key(session, str(made.key.id))
        session.commit()
        assert key.revoked_at is not None
        assert auth.revoke_key(session, "temp").revoked_at == key.revoked_at  # idempotent
        with pytest.raises(ApiError):
            auth.authenticate(session, made.token)
        with pytest.raises(auth.KeyCommandError, match="never reused"):
            auth.create_key(session, "temp")
        with pytest.raises(auth.KeyCommandError):
            auth.revoke_key(session, "nobody")
        assert [k.name for k in auth.list_keys(session)] == ["temp"]


def test_key_names_and_scopes_are_checked(keys_engine: Engine) -> None:
    with Session(keys_engine) as session:
        for name, scope in (("", "write"), ("x" * 101, "write"), ("ok", "admin")):
            with pytest.raises(auth.KeyCommandError):
                auth.create_key(session, name, scope)


def test_a_key_is_made_while_another_writer_commits(keys_engine: Engine) -> None:
    """A key's name is read, then the key written. On SQLite a read that another
    writer's commit makes stale cannot become a write ("database is locked" at once):
    making and revoking a key take the write lock first, and wait for the other."""
    other = keys_engine.connect().execution_options(**{BEGIN_IMMEDIATE: True})
    other.begin()
    other.execute(
        text(
            "INSERT INTO api_keys (name, prefix, token_sha256, scope, created_at) "
            "VALUES ('other', 'bs_other', :digest, 'read', CURRENT_TIMESTAMP)"
        ),
        {"digest": "0" * 64},
    )
    committer = threading.Timer(0.3, other.commit)
    committer.start()
    try:
        with Session(keys_engine) as session:
            auth.create_key(session, "mine")
            session.commit()
    finally:
        committer.join()
        other.close()
    with Session(keys_engine) as session:
        assert [k.name for k in auth.list_keys(session)] == ["other", "mine"]


def test_a_name_made_at_once_by_another_command_is_said_to_exist(keys_engine: Engine) -> None:
    """On PostgreSQL nothing serializes the name's check: a second `keys create` of one
    name, its check run before the first committed, met the unique index and said "the
    database cannot be used: duplicate key value..." (from a concurrency audit). On
    SQLite the second waits for the write lock, then finds the name."""
    first = Session(keys_engine)
    auth.create_key(first, "editor-lan")  # its row written, not committed
    outcome: list[BaseException | None] = []

    def second() -> None:
        try:
            with Session(keys_engine) as session:
                auth.create_key(session, "editor-lan")
                session.commit()
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(timeout=0.5)  # past its check, waiting on the first's row (or lock)
    first.commit()
    first.close()
    thread.join()
    assert isinstance(outcome[0], auth.KeyCommandError), outcome
    assert "a key named 'editor-lan' exists" in str(outcome[0])
    with Session(keys_engine) as session:
        assert [k.name for k in auth.list_keys(session)] == ["editor-lan"]


def test_a_name_that_is_another_keys_number_is_not_taken_for_either(keys_engine: Engine) -> None:
    """From a code review: `keys revoke 1` said "no key named or numbered '1'" when both
    a key named "1" and the key numbered 1 existed: it names both now, and acts on none."""
    with Session(keys_engine) as session:
        alpha = auth.create_key(session, "alpha").key
        one = auth.create_key(session, str(alpha.id)).key
        session.commit()
        with pytest.raises(auth.KeyCommandError, match=f"key {one.id}.*key {alpha.id}"):
            auth.revoke_key(session, str(alpha.id))
        session.rollback()
        assert auth.find_key(session, str(one.id)).id == one.id
        assert auth.find_key(session, "alpha").id == alpha.id
        # Digits of other scripts are a name's characters, not a number.
        wide = auth.create_key(session, "\uff12").key  # full-width 2
        session.commit()
        assert auth.find_key(session, "\uff12").id == wide.id
        with pytest.raises(auth.KeyCommandError, match="no key"):
            auth.find_key(session, "\u00b2")  # superscript 2: isdigit(), not int()
        assert all(key.revoked_at is None for key in auth.list_keys(session))
