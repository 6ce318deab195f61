"""The command line: keys, import (with a dry run), audit, on both databases."""

from pathlib import Path

import pytest
import yaml

from app.cli import main
from app.config import REPO_ROOT
from tests.api.test_imports import ARTICLE_YAML
from tests.api.test_writes import make_key, patch
from tests.conftest import make_client


@pytest.fixture
def cli_db(seeded_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", seeded_url)
    return seeded_url


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_keys_are_created_listed_and_revoked(
    cli_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "keys", "create", "editor-lan")
    assert code == 0 and "shown once" in out
    token = out.strip().splitlines()[-1]
    assert token.startswith("bs_")
    code, out, _ = run(capsys, "keys", "create", "viewer", "--scope", "read")
    assert code == 0 and "scope read" in out

    code, listing, _ = run(capsys, "keys", "list")
    assert code == 0 and "editor-lan" in listing and "viewer" in listing
    assert token not in listing and token[:11] in listing  # the prefix, never the token

    with make_client(cli_db) as client:
        body = {"key": "cli-made", "text": "văn bản"}
        headers = {"Authorization": f"Bearer {token}"}
        assert client.post("/sources", json=body, headers=headers).status_code == 201
        code, out, _ = run(capsys, "keys", "revoke", "editor-lan")
        assert code == 0 and "revoked" in out
        body["key"] = "cli-made-2"
        assert client.post("/sources", json=body, headers=headers).status_code == 401

    assert run(capsys, "keys", "create", "editor-lan")[0] == 1  # names are not reused
    code, _, err = run(capsys, "keys", "revoke", "nobody")
    assert code == 1 and "no key" in err


def test_import_dry_run_then_for_real_then_again(
    cli_db: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    article = tmp_path / "thu_nghiem.yaml"
    article.write_text(ARTICLE_YAML, encoding="utf-8")

    code, out, _ = run(capsys, "import", str(article), "--dry-run")
    assert code == 0 and "6 added" in out and "dry run: nothing was written" in out
    code, out, _ = run(capsys, "audit")
    assert "empty" in out

    code, out, _ = run(capsys, "import", str(article))
    assert code == 0 and "6 added" in out and "added: counts[0] members-2024" in out
    code, out, _ = run(capsys, "import", str(article))
    assert code == 0 and "0 added, 0 changed, 0 removed, 6 unchanged" in out

    code, out, _ = run(capsys, "audit", "--limit", "3")
    lines = out.strip().splitlines()
    assert len(lines) == 3 and all("cli:" in line for line in lines)
    assert "import.create" in lines[0]
    # From a security review: a file outside the repository had its absolute path, the
    # server's directories, served to every reader of /sources.
    with make_client(cli_db) as client:
        sources = client.get("/sources", params={"limit": 100}).json()["items"]
        [imported] = [s for s in sources if s["key"] == "test-2024-thu-nghiem"]
        assert imported["text_path"] is None


def test_a_refused_file_writes_nothing(
    cli_db: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = yaml.safe_load(ARTICLE_YAML)
    data["events"][0]["quote"] = "Năm 2022, chi bộ kết nạp 2 đảng viên mới"
    article = tmp_path / "bad.yaml"
    article.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    code, _, err = run(capsys, "import", str(article))
    assert code == 1 and "events[0]" in err
    # Its problem on a line of its own, once (the detail's copy of it was shown too).
    first, *problems = err.splitlines()
    assert first == "refused, nothing was written:"
    assert len(problems) == 1 and problems[0].startswith("  events.0")
    assert "empty" in run(capsys, "audit")[1]


def test_a_file_that_would_undo_an_api_edit_names_the_commands_option(
    cli_db: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The command line says --force and the file's fields (the API's answer said
    force=true and body.counts.0)."""
    article = tmp_path / "thu_nghiem.yaml"
    article.write_text(ARTICLE_YAML, encoding="utf-8")
    assert run(capsys, "import", str(article))[0] == 0
    with make_client(cli_db) as client:
        [source] = client.get("/sources", params={"q": "Thử Nghiệm"}).json()["items"]
        counts = client.get("/membership-counts", params={"source": source["id"]}).json()
        path = f"/membership-counts/{counts['items'][0]['id']}"
        edited = patch(client, path, {"note": "sửa qua API"}, make_key(client))
        assert edited.status_code == 200, edited.text
    code, _, err = run(capsys, "import", str(article))
    assert code == 1 and "import with --force to let the file win" in err
    assert "\n  counts.0: " in err and "force=true" not in err and "body." not in err
    code, out, _ = run(capsys, "import", str(article), "--force")
    assert code == 0 and "1 changed" in out


def test_reimporting_a_seed_file_changes_nothing(
    cli_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    seed = REPO_ROOT / "seed" / "articles" / "001_luc_yen.yaml"
    code, out, _ = run(capsys, "import", str(seed))
    assert code == 0 and " 0 added, 0 changed, 0 removed" in out and "nothing changed" in out


@pytest.mark.parametrize("name", ["bad\x1b[31mred", "two\nlines", "mirror\u202e", "isolated\u2066"])
def test_a_key_name_that_would_mislead_a_terminal_is_refused(
    cli_db: str, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """From a CLI audit: `keys list` and the audit log print names on a terminal, where
    an ESC sequence paints and a line break forges a row."""
    code, out, err = run(capsys, "keys", "create", name)
    assert code == 1 and "U+" in err and not out
    assert name not in run(capsys, "keys", "list")[1]


def test_a_missing_or_unreadable_input_is_one_line_not_a_traceback(
    cli_db: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """From a CLI audit: each of these ended in a Python traceback."""
    for argv in (["import", str(tmp_path / "missing.yaml")], ["import", str(tmp_path)]):
        code, _, err = run(capsys, *argv)
        assert code == 1 and len(err.strip().splitlines()) == 1, err
        assert str(tmp_path) in err
    folder = tmp_path / "folder"
    folder.mkdir()
    code, _, err = run(capsys, "openapi", "--output", str(folder))
    assert code == 1 and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("mysql://user@localhost/db", "mysql is not SQLite or PostgreSQL"),
        ("postgresql://user:secret@127.0.0.1:notaport/db", "notaport"),
        ("sqlite:///{tmp}/garbage.sqlite3", "file is not a database"),
    ],
)
def test_a_database_url_that_cannot_be_used_is_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    url: str,
    said: str,
) -> None:
    (tmp_path / "garbage.sqlite3").write_text("not a database, " * 100)
    monkeypatch.setenv("DATABASE_URL", url.format(tmp=tmp_path))
    code, _, err = run(capsys, "keys", "list")
    assert code == 1 and said in err and len(err.strip().splitlines()) == 1, err
    assert "secret" not in err


def test_a_port_or_a_number_of_workers_out_of_range_is_refused_before_anything_runs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for argv in (["serve", "--port", "99999"], ["serve", "--workers", "0"]):
        with pytest.raises(SystemExit) as refused:
            main(argv)
        assert refused.value.code == 2
        assert "error: argument" in capsys.readouterr().err


def test_the_migrated_database_is_named_without_its_password() -> None:
    from app.db import shown_url

    shown = shown_url("postgresql+psycopg://user:secret@db:5432/stats?password=secret")
    assert shown == "postgresql+psycopg://db:5432/stats"


def test_a_database_migrated_by_a_newer_release_is_said_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """From a CLI audit: a release rolled back below the database's migration told the
    operator to run `migrate`, which then ended in Alembic's traceback."""
    import sqlite3

    path = tmp_path / "ahead.sqlite3"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    assert run(capsys, "migrate")[0] == 0
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099'")
    for argv in (["migrate"], ["keys", "list"], ["check"]):
        code, _, err = run(capsys, *argv)
        assert code == 1 and len(err.strip().splitlines()) == 1, (argv, err)
        assert "at migration 0099, which this release does not have" in err


# 1e9 wiped the database, then built a plan in memory without bound; abc was argparse's
# "invalid _scale value".
@pytest.mark.parametrize("scale", ["0", "-1", "nan", "inf", "1e9", "10.5", "abc"])
def test_a_synthetic_scale_is_a_number_above_zero(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, scale: str
) -> None:
    with pytest.raises(SystemExit) as refused:
        main(["synth", "--scale", scale, "--database-url", f"sqlite:///{tmp_path}/s.sqlite3"])
    [said] = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert refused.value.code == 2
    assert said.endswith(f"{scale} is no scale: a number above 0 and at most 10 (1.0 is Vietnam)")
    assert not (tmp_path / "s.sqlite3").exists()


def test_a_synthetic_database_url_is_named_as_given(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """It was called DATABASE_URL whichever way it came."""
    assert main(["synth", "--database-url", "not a url"]) == 1
    said = capsys.readouterr().err.strip()
    assert said.startswith("--database-url cannot be used: ") and "\n" not in said
