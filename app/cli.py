"""The `branchstats` command line."""

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from app.config import REPO_ROOT, Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from app.services.auth import Caller

# asyncio's own event loop, not uvloop (which uvicorn picks when it is installed). SQLite
# reads run on the loop (app.api.query_route.run_blocking); with uvloop, answers of
# finished requests waited while later requests ran (MagicStack/uvloop#123): at scale 1.0
# a page at risk's p99 was 58 ms against 24 on asyncio's loop, a province's stats 1.2 s
# against 0.19 s, at the same throughput. On PostgreSQL both loops served the same.
SERVER_LOOP = "asyncio"


def _migrate(settings: Settings) -> None:
    from app.db import make_engine
    from app.migrate import upgrade_head
    from app.services.status_day import refresh_if_stale

    engine = make_engine(settings.effective_database_url)
    upgrade_head(engine)
    # A migration may mark status rows to compute again (0017): done now, not left to
    # the next day's refresh, so that `check` after `migrate` finds them current (but for
    # the first minute after midnight, when the day's refresh waits for the old day's
    # writes to end: then the server's refresher does it, a minute later).
    refresh_if_stale(engine, settings.risk_rules)
    engine.dispose()


def cmd_migrate(args: argparse.Namespace) -> int:
    from app.db import make_engine, shown_url
    from app.migrate import preparing

    settings = Settings()
    engine = make_engine(settings.effective_database_url)
    with preparing(engine):
        _migrate(settings)
    engine.dispose()
    print(f"migrated {shown_url(settings.effective_database_url)} to head")
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    return _prepare(serving=False)


def _prepare(*, serving: bool) -> int:
    """Migrate, then load the seed, one process at a time. A server starting on a
    database of synthetic data (branchstats synth) serves it as it is: real articles are
    never loaded beside it; `seed` says so and fails. A synthetic load that stopped
    before its end (killed) is not served: it answered ready, with empty lists."""
    from app.db import make_engine
    from app.ingest.seed import holds_synthetic, load_seed
    from app.migrate import preparing
    from app.synth import incomplete

    settings = Settings()
    engine = make_engine(settings.effective_database_url)
    try:
        with preparing(engine):
            _migrate(settings)
            if serving and holds_synthetic(engine):
                if incomplete(engine):
                    raise SystemExit(
                        "the synthetic data is incomplete (a `branchstats synth` stopped "
                        "before its end): run it again with --replace"
                    )
                print("synthetic data (branchstats synth): the seed is not loaded into it")
                return 0
            report = load_seed(engine, settings.seed_dir, settings.risk_rules)
    finally:
        engine.dispose()
    print(report.summary())
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.log_config import logging_config

    settings = Settings()
    # Said before the database is prepared, and in one line, not after it as uvicorn's
    # traceback (and an exit status of 3).
    _check_can_listen(args.host, args.port)
    if args.no_prepare:
        _check_not_ahead(settings)
    else:
        _prepare(serving=True)
    uvicorn.run(
        "app.main:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=settings.log_level,
        log_config=logging_config(settings.log_level),
        proxy_headers=True,
        server_header=False,
        access_log=args.access_log,
        loop=SERVER_LOOP,
        timeout_graceful_shutdown=settings.shutdown_timeout_s,
    )
    return 0


def _check_can_listen(host: str, port: int) -> None:
    """Bind the address as uvicorn will (SO_REUSEADDR: a port left in TIME_WAIT is
    free), then let it go."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        raise SystemExit(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def _check_not_ahead(settings: Settings) -> None:
    """--no-prepare: the database may have been migrated by a newer release, whose
    schema this one would read and write as its own."""
    from app.db import make_engine
    from app.migrate import check_not_ahead

    engine = make_engine(settings.effective_database_url)
    try:
        check_not_ahead(engine)
    finally:
        engine.dispose()


def cmd_openapi(args: argparse.Namespace) -> int:
    from app.openapi import write_openapi

    path = write_openapi(Path(args.output))
    print(f"wrote {path}")
    return 0


def _engine_at_head(settings: Settings) -> "Engine":
    """The database, which must be migrated (keys and the audit log need 0002)."""
    from app.db import make_engine
    from app.migrate import check_not_ahead, current_revision, head_revision

    engine = make_engine(settings.effective_database_url)
    check_not_ahead(engine)
    if current_revision(engine) != head_revision():
        engine.dispose()
        raise SystemExit("the database is not at the latest migration: run `branchstats migrate`")
    return engine


def cli_caller() -> "Caller":
    """The command line writes as `cli:<user>`: whoever can run it can reach the database."""
    import getpass

    from app.services.auth import Caller

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Caller(key_id=None, name=f"cli:{user}")


def cmd_keys(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from app.services import auth

    engine = _engine_at_head(Settings())
    try:
        with Session(engine) as session:
            if args.keys_command == "create":
                made = auth.create_key(session, args.name, args.scope)
                session.commit()
                print(f"created key {made.key.id} {made.key.name!r} (scope {made.key.scope})")
                print("token (shown once; store it now, it cannot be shown again):")
                print(made.token)
            elif args.keys_command == "revoke":
                key = auth.revoke_key(session, args.key)
                session.commit()
                print(f"revoked key {key.id} {key.name!r} at {key.revoked_at:%Y-%m-%d %H:%M} UTC")
            else:
                print(
                    f"{'id':>4}  {'name':<24} {'prefix':<12} {'scope':<6} {'created':<17} revoked"
                )
                for key in auth.list_keys(session):
                    revoked = f"{key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "-"
                    print(
                        f"{key.id:>4}  {key.name:<24} {key.prefix:<12} {key.scope:<6} "
                        f"{key.created_at:%Y-%m-%d %H:%M}  {revoked}"
                    )
    except auth.KeyCommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    import orjson

    from app.errors import ApiError
    from app.ingest.files import read_article_file
    from app.services.imports import FILE_REFUSED, import_article
    from app.services.writes import WriteContext, transact

    settings = Settings()
    article, text, text_path = read_article_file(Path(args.file))
    stored_path: str | None
    try:
        stored_path = str(text_path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        # Outside the repository: its path would show every reader of /sources the
        # server's directories (the text itself is stored, as an API import's is).
        stored_path = None
    engine = _engine_at_head(settings)
    ctx = WriteContext(caller=cli_caller(), rules=settings.risk_rules)
    try:
        result = transact(
            engine,
            ctx,
            lambda session: import_article(
                session,
                ctx,
                article,
                text,
                text_path=stored_path,
                dry_run=args.dry_run,
                force=args.force,
                force_option="--force",
            ),
            dry_run=args.dry_run,
        )
    except ApiError as exc:
        # A refused file's detail repeats its first problems, named below one by one.
        repeated = exc.errors and exc.detail.startswith(FILE_REFUSED)
        print(
            f"refused, nothing was written:{'' if repeated else ' ' + exc.detail}", file=sys.stderr
        )
        for error in exc.errors or []:
            # The file's fields: the API's names, without the body that carries the file.
            field = error.field.removeprefix("body.")
            print(f"  {field}: {error.message}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    assert result.content is not None
    report = orjson.loads(result.content)
    print(
        f"{report['source']}: {len(report['added'])} added, {len(report['changed'])} changed, "
        f"{len(report['removed'])} removed, {report['unchanged']} unchanged"
        + (" (dry run: nothing was written)" if report["dry_run"] else "")
    )
    for label in ("added", "changed", "removed"):
        for item in report[label]:
            print(f"  {label}: {item}")
    for conflict in report["conflicts"]:
        print(f"  conflict: {conflict['message']}")
    for other in report["conflicting_reports"]:
        print(f"  another source disagrees (both kept): {other}")
    if report["changes"] == 0:
        print("nothing would change" if report["dry_run"] else "nothing changed")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from app.services.audit import recent

    engine = _engine_at_head(Settings())
    try:
        with Session(engine) as session:
            entries = recent(session, args.limit)
    finally:
        engine.dispose()
    for entry in entries:
        what = f"{entry['entity']} {entry['entity_id'] or ''} {entry['entity_key'] or ''}".strip()
        fields = f" [{', '.join(entry['changed'])}]" if entry["changed"] else ""
        print(
            f"{entry['id']:>6}  {entry['at']:%Y-%m-%d %H:%M:%S}  {entry['key']['name']:<16} "
            f"{entry['action']:<14} {what}{fields}"
        )
    if not entries:
        print("the audit log is empty")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    import orjson

    from app.services.data_check import check_stored

    settings = Settings()
    engine = _engine_at_head(settings)
    try:
        with engine.connect() as connection:
            report = check_stored(connection, settings.risk_rules, keep=args.limit)
    finally:
        engine.dispose()
    if args.json:
        sys.stdout.write(orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
        return 1 if report.total else 0
    drawn = ", ".join(
        f"{entity} {count:,}" for entity, count in report.checked.items() if entity != "source"
    )
    print(f"sources checked: {report.checked['source']:,}; rows drawn from them: {drawn}")
    for finding in report.findings:
        print(f"  {finding.entity} {finding.id} ({finding.key}) {finding.field}: {finding.message}")
    if report.total > len(report.findings):
        print(f"  and {report.total - len(report.findings):,} more (--limit)")
    for rule, count in sorted(report.by_rule.items()):
        print(f"{rule}: {count:,}")
    if not report.total:
        print("no problems")
    else:
        print(f"{report.total:,} problem{'' if report.total == 1 else 's'}")
    return 1 if report.total else 0


def cmd_refresh(args: argparse.Namespace) -> int:
    import time

    from sqlmodel import Session

    from app.services.derived import refresh_derived
    from app.services.status import analyze

    settings = Settings()
    engine = _engine_at_head(settings)
    started = time.monotonic()
    try:
        with Session(engine) as session:
            refreshed = refresh_derived(session, settings.risk_rules)
            session.commit()
        analyze(engine, sampled=True)
    finally:
        engine.dispose()
    print(
        f"search fields out of date: localities {refreshed.localities_searched:,}, "
        f"branches {refreshed.branches_searched:,}; recomputed: units of today, every "
        f"branch's status and list item, every place's yearly totals "
        f"({time.monotonic() - started:.1f} s)"
    )
    return 0


def _count(text: str) -> int:
    number = int(text)
    if number < 0:
        raise argparse.ArgumentTypeError(f"{number} is below 0")
    return number


def _positive(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{number} is below 1")
    return number


def _port(text: str) -> int:
    number = int(text)
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{number} is no TCP port (0 to 65535)")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="branchstats", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("migrate", help="Upgrade the database to the latest migration.").set_defaults(
        func=cmd_migrate
    )
    sub.add_parser("seed", help="Migrate, then load the seed articles (idempotent).").set_defaults(
        func=cmd_seed
    )

    serve = sub.add_parser("serve", help="Migrate, seed and serve the API with uvicorn.")
    serve.add_argument(
        "--host", default="127.0.0.1", help="Address to listen on (default 127.0.0.1)."
    )
    serve.add_argument("--port", type=_port, default=8000, help="Port (default 8000).")
    serve.add_argument(
        "--workers", type=_positive, default=1, help="Server processes (default 1; see README)."
    )
    serve.add_argument("--access-log", action="store_true", help="Log every request.")
    serve.add_argument("--no-prepare", action="store_true", help="Skip the migrate and seed steps.")
    serve.set_defaults(func=cmd_serve)

    openapi = sub.add_parser("openapi", help="Write the OpenAPI document as YAML.")
    openapi.add_argument(
        "--output",
        default=str(REPO_ROOT / "openapi.yaml"),
        help="Where to write it (default: the repository's openapi.yaml, replaced).",
    )
    openapi.set_defaults(func=cmd_openapi)

    keys = sub.add_parser("keys", help="API keys for writers: create, list, revoke.")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="Make a key and print its token once.")
    create.add_argument("name", help="Who or what uses the key (unique, e.g. editor-lan).")
    create.add_argument("--scope", choices=["write", "read"], default="write")
    keys_sub.add_parser("list", help="List keys (never their tokens).")
    revoke = keys_sub.add_parser("revoke", help="Revoke a key; it stays in the audit log.")
    revoke.add_argument("key", metavar="NAME_OR_ID")
    keys.set_defaults(func=cmd_keys)

    importer = sub.add_parser(
        "import", help="Import one article file (seed/FORMAT.md), all or nothing."
    )
    importer.add_argument("file", help="The article's YAML record file.")
    importer.add_argument(
        "--dry-run", action="store_true", help="Report what would change; write nothing."
    )
    importer.add_argument(
        "--force", action="store_true", help="Let the file win over edits made through the API."
    )
    importer.set_defaults(func=cmd_import)

    audit = sub.add_parser("audit", help="Show the newest entries of the audit log.")
    audit.add_argument(
        "--limit", type=_positive, default=20, help="How many entries, 1 or more (default 20)."
    )
    audit.set_defaults(func=cmd_audit)

    check = sub.add_parser(
        "check",
        help="Check every stored row against the rules writes enforce (exit 1 if any breaks one).",
    )
    check.add_argument(
        "--limit", type=_count, default=100, help="Findings shown (default 100; all are counted)."
    )
    check.add_argument("--json", action="store_true", help="The report as JSON.")
    check.set_defaults(func=cmd_check)

    sub.add_parser(
        "refresh",
        help="Recompute everything stored from the rows to be served (after SQL by hand).",
    ).set_defaults(func=cmd_refresh)

    # Listed for --help; main() hands `synth` its own arguments before parsing.
    sub.add_parser(
        "synth", add_help=False, help="Synthetic national data, in a database of its own."
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    from pydantic import ValidationError
    from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError

    from app.db import one_line
    from app.ingest.loader import ImportRejected
    from app.migrate import DatabaseAhead

    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv[:1] == ["synth"]:  # synth has its own options, --help included
            from app.synth import main as synth_main

            return synth_main(argv[1:])
        args = build_parser().parse_args(argv)
        return int(args.func(args))
    except ImportRejected as exc:
        print("refused, nothing was written:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    except OperationalError as exc:  # e.g. PostgreSQL not up yet: said, not a traceback
        print(f"the database is unavailable: {one_line(exc.orig)}", file=sys.stderr)
        return 1
    except DatabaseError as exc:  # e.g. a SQLite path to a file that is no database
        print(f"the database cannot be used: {one_line(exc.orig)}", file=sys.stderr)
        return 1
    except UnicodeDecodeError as exc:  # a .env file, or a reference file, not in UTF-8
        print(f"a file is not UTF-8 text: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a file or directory missing, or of the other kind
        print(f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc), file=sys.stderr)
        return 1
    except DatabaseAhead as exc:
        print(exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # A transaction under way is rolled back (seed, import); synth catches its own
        # and says what it left.
        print("interrupted", file=sys.stderr)
        return 130
    except ArgumentError as exc:  # DATABASE_URL unreadable, or of no file
        print(f"DATABASE_URL cannot be used: {exc}", file=sys.stderr)
        return 1
    except ValidationError as exc:
        if exc.title != Settings.__name__:
            raise
        # The environment's names, as they were set; one line for each fault.
        for error in exc.errors():
            name = "_".join(map(str, error["loc"])).upper()
            print(f"{name} cannot be used: {error['msg']}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
