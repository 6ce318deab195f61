"""The `branchstats` command line."""

import argparse
import sys
from pathlib import Path

from app.config import REPO_ROOT, Settings


def _migrate(settings: Settings) -> None:
    from app.db import make_engine
    from app.migrate import upgrade_head

    engine = make_engine(settings.effective_database_url)
    upgrade_head(engine)
    engine.dispose()


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = Settings()
    _migrate(settings)
    print(f"migrated {settings.effective_database_url.split('@')[-1]} to head")
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    from app.db import make_engine
    from app.ingest.seed import load_seed

    settings = Settings()
    _migrate(settings)
    engine = make_engine(settings.effective_database_url)
    report = load_seed(engine, settings.seed_dir)
    engine.dispose()
    print(report.summary())
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = Settings()
    if not args.no_prepare:
        cmd_seed(args)
    uvicorn.run(
        "app.main:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=settings.log_level,
        proxy_headers=True,
        server_header=False,
        access_log=args.access_log,
    )
    return 0


def cmd_openapi(args: argparse.Namespace) -> int:
    from app.openapi import write_openapi

    path = write_openapi(Path(args.output))
    print(f"wrote {path}")
    return 0


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
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--access-log", action="store_true", help="Log every request.")
    serve.add_argument("--no-prepare", action="store_true", help="Skip the migrate and seed steps.")
    serve.set_defaults(func=cmd_serve)

    openapi = sub.add_parser("openapi", help="Write the OpenAPI document as YAML.")
    openapi.add_argument("--output", default=str(REPO_ROOT / "openapi.yaml"))
    openapi.set_defaults(func=cmd_openapi)
    return parser


def main(argv: list[str] | None = None) -> int:
    from app.ingest.loader import ImportRejected

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ImportRejected as exc:
        print("refused, nothing was written:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
