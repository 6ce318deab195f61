"""The seed: every quote verified, facts as the articles state them, loads repeatable."""

import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, text
from sqlmodel import Session, col, select

from app.config import REPO_ROOT
from app.ingest.files import read_article_file
from app.ingest.loader import ImportRejected, apply_article, verify_article
from app.ingest.seed import load_seed
from app.models import Branch, Fact, MembershipCount, MembershipEvent, Source
from app.services.data_check import check_stored
from app.services.risk_rules import RiskRules
from app.services.text import normalize_quote_text

SEED = REPO_ROOT / "seed"
SHARED = REPO_ROOT.parent / "shared" / "seeds"
ARTICLES = sorted((SEED / "articles").glob("*.yaml"))


@pytest.mark.parametrize("path", ARTICLES, ids=lambda p: p.stem)
def test_every_quote_is_in_its_article(path: Path) -> None:
    article, text_, _ = read_article_file(path)
    assert verify_article(article, text_) == []
    # The teasers after "Các tin khác" belong to other articles: no quote may come from there.
    body = text_.split("Các tin khác")[0].split("TIN LIÊN QUAN")[0]
    records = [
        *article.localities,
        *article.branches,
        *article.counts,
        *article.events,
        *article.facts,
        *article.roles,
    ]
    assert records
    for record in records:
        assert normalize_quote_text(record.quote) in normalize_quote_text(body), record


@pytest.mark.parametrize("path", ARTICLES, ids=lambda p: p.stem)
def test_every_departures_reason_is_the_articles_words(path: Path) -> None:
    """A reason is what the text gives (FORMAT.md): its words, not a summary of them."""
    article, text_, _ = read_article_file(path)
    for event in article.events:
        if event.reason is not None:
            assert normalize_quote_text(event.reason) in normalize_quote_text(text_), event


def test_tien_phongs_departures_keep_the_causes_the_article_gives() -> None:
    """The reason is the causes the next sentence gives ("Nguyên nhân chủ yếu là do đảng
    viên ..."), not only how the members left."""
    article, _, _ = read_article_file(SEED / "articles" / "000_tien_phong.yaml")
    [departure] = [e for e in article.events if e.kind == "departure"]
    assert departure.reason == "đi làm ăn xa, tự bỏ sinh hoạt hoặc làm thủ tục xin ra khỏi Đảng"


def test_source_texts_are_unchanged_copies() -> None:
    if not SHARED.exists():
        pytest.skip("../shared is not beside this checkout")
    for original in SHARED.glob("*.txt"):
        assert (SEED / "sources" / original.name).read_bytes() == original.read_bytes()


def test_a_wrong_quote_refuses_the_whole_file() -> None:
    article, text_, _ = read_article_file(SEED / "articles" / "003_muong_bang.yaml")
    bad = article.model_copy(
        update={
            "counts": [article.counts[0].model_copy(update={"quote": "Chi bộ có 23 đảng viên"})]
        }
    )
    problems = verify_article(bad, text_)
    assert {p.field for p in problems} == {"quote", "figure"}  # "22" is not in it either
    assert article.counts[0].id in problems[0].record


def test_one_figure_twice_in_a_file_is_refused() -> None:
    """Two records of one sentence read the same way, apart from their ids and notes:
    the sums counted the figure twice (Lục Yên's 216 admissions of 2023 as 432)."""
    article, text_, _ = read_article_file(SEED / "articles" / "001_luc_yen.yaml")
    [admissions] = [e for e in article.events if e.figure == "216"]
    copy = admissions.model_copy(update={"id": "the-same-again", "note": "copied"})
    doubled = article.model_copy(update={"events": [*article.events, copy]})
    problems = verify_article(doubled, text_)
    assert [(p.field, p.message) for p in problems] == [
        ("id", f"the same figure as events[{article.events.index(admissions)}] {admissions.id}")
    ]
    assert "the-same-again" in problems[0].record
    # Read another way (approximate), it is another figure.
    other = copy.model_copy(update={"qualifier": "approximate"})
    assert (
        verify_article(article.model_copy(update={"events": [*article.events, other]}), text_) == []
    )


def test_an_undated_article_reports_nothing_after_the_day_it_was_first_held() -> None:
    """With no day printed, the day the dataset first held the text bounds what the
    article can report: a count of that day is taken, one of the day after refused."""
    article, text_, _ = read_article_file(SEED / "articles" / "000_tien_phong.yaml")
    held = article.source.registered_on
    assert article.source.published_on is None and held is not None

    def counted_on(day: date) -> list[tuple[str, str]]:
        count = article.counts[0].model_copy(update={"as_of": day})
        dated = article.model_copy(update={"counts": [count, *article.counts[1:]]})
        return [(p.field, p.message) for p in verify_article(dated, text_)]

    assert counted_on(held) == []
    [(field, message)] = counted_on(held + timedelta(days=1))
    assert field == "as_of" and message.startswith(f"{held + timedelta(days=1)} is after")
    assert f"({held}: its publication, else the day the dataset first held it)" in message


def test_a_quote_is_found_whatever_its_whitespace() -> None:
    """seed/FORMAT.md: found after whitespace folding (a quote copied across a line
    break, or with a non-breaking space, is the article's sentence)."""
    article, text_, _ = read_article_file(SEED / "articles" / "003_muong_bang.yaml")
    count = article.counts[0]
    words = count.quote.split(" ")
    assert len(words) > 3
    loose = " \n".join(words[:2]) + "\u00a0" + "  ".join(words[2:])
    relaxed = article.model_copy(update={"counts": [count.model_copy(update={"quote": loose})]})
    assert verify_article(relaxed, text_) == []


def _scalar(engine: Engine, sql: str, **params: object) -> object:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def test_luc_yen_has_6799_members_after_216_admissions(engine: Engine) -> None:
    with Session(engine) as session:
        luc_yen = session.exec(select(Branch).where(Branch.name == "Đảng bộ huyện Lục Yên")).one()
        count = session.exec(
            select(MembershipCount).where(MembershipCount.branch_id == luc_yen.id)
        ).one()
        admissions = session.exec(
            select(MembershipEvent).where(
                MembershipEvent.branch_id == luc_yen.id, MembershipEvent.kind == "admission"
            )
        ).one()
    assert (count.value, count.qualifier, str(count.as_of)) == (6799, "exact", "2023-12-18")
    assert count.figure == "6.799"
    assert admissions.value == 216
    assert (str(admissions.period_start), str(admissions.period_end)) == (
        "2023-01-01",
        "2023-12-31",
    )


def test_ban_bo_has_22_members_and_muong_bang_27_branches_316_members(engine: Engine) -> None:
    with Session(engine) as session:
        ban_bo = session.exec(select(Branch).where(Branch.name == "Chi bộ bản Bó")).one()
        assert (
            session.exec(
                select(MembershipCount.value).where(MembershipCount.branch_id == ban_bo.id)
            ).one()
            == 22
        )
        muong_bang = session.exec(
            select(Branch).where(Branch.name == "Đảng bộ xã Mường Bằng")
        ).one()
        assert (
            session.exec(
                select(MembershipCount.value).where(MembershipCount.branch_id == muong_bang.id)
            ).one()
            == 316
        )
        branches = session.exec(
            select(Fact).where(
                Fact.branch_id == muong_bang.id, Fact.metric == "subordinate_organizations"
            )
        ).one()
    assert branches.value == 27


def test_tien_phong_goes_from_13_to_15(engine: Engine) -> None:
    with Session(engine) as session:
        branch = session.exec(select(Branch).where(Branch.name == "Chi bộ xóm Tiền Phong")).one()
        counts = session.exec(
            select(MembershipCount)
            .where(MembershipCount.branch_id == branch.id)
            .order_by(MembershipCount.evidence_date)
        ).all()
        transfer = session.exec(
            select(MembershipEvent).where(
                MembershipEvent.branch_id == branch.id, MembershipEvent.kind == "transfer_in"
            )
        ).one()
    assert [c.value for c in counts] == [13, 15]
    assert str(counts[0].as_of) == "2018-09-07" and counts[1].as_of is None
    assert transfer.value == 2 and str(transfer.period_start) == "2018-09-07"
    assert transfer.period_end is None


def test_qualifiers_and_ranges_are_kept(engine: Engine) -> None:
    with Session(engine) as session:
        facts = {
            (f.metric, f.value, f.value_max, f.qualifier) for f in session.exec(select(Fact)).all()
        }
    assert ("poverty_rate", 1.0, None, "more_than") in facts  # "trên 1%"
    assert (
        "youth_participation_rate",
        20.0,
        40.0,
        "approximate",
    ) in facts  # "khoảng từ 20% đến 40%"
    assert ("income_per_capita", 24_000_000.0, 25_000_000.0, "exact") in facts  # "24-25 triệu"
    assert ("admission_target", 150.0, None, "at_least") in facts  # "150 đảng viên trở lên"
    assert ("branches_rated_excellent", 20.0, None, "more_than") in facts  # "hơn 20%"


def test_a_part_of_a_whole_is_not_a_range(engine: Engine) -> None:
    """A part of a whole ("5/10 chi bộ") is 5 out of 10, not 5 to 10: the whole is
    `out_of`, `value_max` stays the end of a range."""
    with Session(engine) as session:
        facts = {
            f.metric: (f.value, f.value_max, f.out_of, f.figure)
            for f in session.exec(select(Fact)).all()
        }
    assert facts["branches_with_committee"] == (5.0, None, 10.0, "5/10")
    assert facts["new_rural_criteria_met"] == (11.0, None, 19.0, "11/19")
    assert facts["income_per_capita"][2] is None  # a range has no whole


def test_thanh_chuong_six_stay_one_unnamed_group(engine: Engine) -> None:
    with Session(engine) as session:
        groups = session.exec(select(Branch).where(Branch.group_size.is_not(None))).all()  # type: ignore[union-attr]
    assert [(g.name, g.group_size) for g in groups] == [(None, 6)]
    with Session(engine) as session:
        count = session.exec(
            select(MembershipCount).where(MembershipCount.branch_id == groups[0].id)
        ).one()
    assert (count.value, count.qualifier, count.applies_to_each) == (5, "less_than", True)


def test_undated_articles_keep_an_unknown_date(engine: Engine) -> None:
    with Session(engine) as session:
        dates = {s.key: s.published_on for s in session.exec(select(Source)).all()}
    assert dates["hbdt-tien-phong"] is None
    assert dates["thao-chu-phin"] is None
    assert dates["baonghean-2017-thanh-chuong"] is None
    assert str(dates["baoyenbai-2023-luc-yen"]) == "2023-12-18"
    assert str(dates["muong-bang-2020"]) == "2020-01-21"


AFTER_TRANSFER = "hbdt-tien-phong#tien-phong-members-after-transfer"


def _after_transfer(session: Session) -> MembershipCount:
    return session.exec(select(MembershipCount).where(MembershipCount.key == AFTER_TRANSFER)).one()


def test_undated_figures_are_bounded_by_the_day_the_dataset_held_them(engine: Engine) -> None:
    """Not the day a server happened to load the seed: the same on every deployment."""
    held = {
        article.source.key: article.source.registered_on
        for article, _, _ in map(read_article_file, ARTICLES)
    }
    assert set(held.values()) == {date(2026, 11, 21)}
    with Session(engine) as session:
        stored = {s.key: s.registered_on for s in session.exec(select(Source)).all()}
        count = session.exec(
            select(MembershipCount).where(MembershipCount.key == AFTER_TRANSFER)
        ).one()
    assert stored == held
    # "nâng tổng số đảng viên của chi bộ từ 13 lên 15": no date printed, none published.
    assert (count.value, count.as_of, count.evidence_date) == (15, None, date(2026, 11, 21))


def test_a_database_loaded_before_the_files_said_when_is_brought_to_their_day(
    engine: Engine,
) -> None:
    """An older release registered each article on the day it loaded it, and dated the
    undated figures by that day: loading the files again moves both to the files' day."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE sources SET registered_on = '2026-12-06'"))
        conn.execute(
            text("UPDATE membership_counts SET evidence_date = '2026-12-06' WHERE key = :key"),
            {"key": AFTER_TRANSFER},
        )
    report = load_seed(engine, SEED, RiskRules())
    assert report.changes >= len(ARTICLES) + 1
    with Session(engine) as session:
        held = {s.registered_on for s in session.exec(select(Source)).all()}
        count = session.exec(
            select(MembershipCount).where(MembershipCount.key == AFTER_TRANSFER)
        ).one()
    assert held == {date(2026, 11, 21)}
    assert count.evidence_date == date(2026, 11, 21)
    with engine.connect() as conn:
        assert check_stored(conn, RiskRules()).findings == []


def test_an_article_held_after_today_is_refused(engine: Engine) -> None:
    article, text_, _ = read_article_file(ARTICLES[0])
    with Session(engine) as session, pytest.raises(ImportRejected) as refused:
        apply_article(session, article, text_, today=date(2026, 11, 20))
    assert [(p.field, p.message) for p in refused.value.problems] == [
        ("registered_on", "2026-11-21 is after today (2026-11-20)")
    ]


def test_an_article_published_after_today_is_refused(engine: Engine) -> None:
    """A file that does not say when it was first held is refused by its day printed
    when that is still to come."""
    article, text_, _ = read_article_file(SEED / "articles" / "003_muong_bang.yaml")
    published = article.source.published_on
    assert published is not None
    unsaid = article.model_copy(
        update={"source": article.source.model_copy(update={"registered_on": None})}
    )
    today = published - timedelta(days=1)
    with Session(engine) as session, pytest.raises(ImportRejected) as refused:
        apply_article(session, unsaid, text_, today=today)
    assert [(p.field, p.message) for p in refused.value.problems] == [
        ("published_on", f"{published} is after today ({today})")
    ]


def test_an_article_held_today_is_taken(engine: Engine) -> None:
    """The day it was first held may be today: only a later day is refused."""
    article, text_, _ = read_article_file(ARTICLES[0])
    held = article.source.registered_on
    assert held is not None
    with Session(engine) as session:
        report = apply_article(session, article, text_, today=held)
    assert report.changes == 0


def test_a_file_that_does_not_say_when_keeps_the_day_first_held(engine: Engine) -> None:
    """An article already held, loaded again from a file that gives no registered_on, is
    still held from its first day, not from the day it was loaded again: that day bounds
    its undated figures."""
    article, text_, _ = read_article_file(ARTICLES[0])
    first = article.source.registered_on
    assert first is not None
    unsaid = article.model_copy(
        update={"source": article.source.model_copy(update={"registered_on": None})}
    )
    with Session(engine) as session:
        report = apply_article(session, unsaid, text_, today=date(2026, 12, 25))
        stored = session.exec(select(Source).where(Source.key == article.source.key)).one()
        assert (report.changes, stored.registered_on) == (0, first)


def test_a_figure_an_article_changes_says_when(engine: Engine) -> None:
    """A figure a file changes is stamped with the change; the figures it leaves as they
    were keep their stamps."""
    article, text_, _ = read_article_file(SEED / "articles" / "003_muong_bang.yaml")
    first, *others = article.counts
    assert others
    noted = article.model_copy(
        update={"counts": [first.model_copy(update={"note": "read again"}), *others]}
    )
    key = f"{article.source.key}#{first.id}"
    other = f"{article.source.key}#{others[0].id}"

    def stamps(session: Session) -> dict[str, datetime]:
        rows = session.exec(
            select(MembershipCount.key, MembershipCount.updated_at).where(
                col(MembershipCount.key).in_([key, other])
            )
        ).all()
        return dict(rows)

    with Session(engine) as session:
        before = stamps(session)
        report = apply_article(session, noted, text_)
        after = stamps(session)
    assert report.changed == [f"counts[0] {first.id}"]
    assert after[key] > before[key]
    assert after[other] == before[other]


def test_successors_come_from_the_reference(engine: Engine) -> None:
    sql = """
        SELECT s.legal_basis, new.official_name, new.code
        FROM localities old
        JOIN locality_successions s ON s.predecessor_id = old.id
        JOIN localities new ON new.id = s.successor_id
        WHERE old.key = :key
    """
    with engine.connect() as conn:
        row = conn.execute(text(sql), {"key": "vn2004:02803"}).one()
    assert tuple(row) == ("1673/NQ-UBTVQH15", "Xã Sín Chéng", "02824")


def test_a_succession_loaded_under_the_old_rule_is_corrected(engine: Engine) -> None:
    """A database seeded before the rule (a unit others merged into did not continue)
    held the old Hạnh Lâm as continued: loading the seed again corrects it."""
    by_old_key = """
        UPDATE locality_successions SET kind = 'continued' WHERE predecessor_id =
        (SELECT id FROM localities WHERE key = 'vn2004:17722')
    """
    kind = """
        SELECT s.kind FROM locality_successions s
        JOIN localities old ON old.id = s.predecessor_id WHERE old.key = 'vn2004:17722'
    """
    with engine.begin() as conn:
        conn.execute(text(by_old_key))
    report = load_seed(engine, SEED, RiskRules())
    assert (report.reference.successions_changed, report.changes) == (1, 1)
    with engine.connect() as conn:
        assert conn.execute(text(kind)).scalar_one() == "merged_into"


def _snapshot(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    tables = [
        "sources",
        "localities",
        "locality_successions",
        "branches",
        "membership_counts",
        "membership_events",
        "facts",
        "officeholders",
        "branch_status",
    ]
    with engine.connect() as conn:
        return {
            t: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY 1"))]
            for t in tables
        }


def test_a_second_load_changes_nothing(engine: Engine) -> None:
    before = _snapshot(engine)
    report = load_seed(engine, SEED, RiskRules())
    assert report.changes == 0 and report.left_as_edited == {}
    assert len(report.articles) == len(ARTICLES)
    assert _snapshot(engine) == before


def test_a_seed_dir_without_articles_says_so(engine: Engine, tmp_path: Path) -> None:
    """A SEED_DIR mistyped or emptied loaded its reference units, no article, and said
    nothing of it; a file that is no article (".yml") was passed over silently too."""
    shutil.copytree(SEED / "reference", tmp_path / "reference")
    (tmp_path / "articles").mkdir()
    (tmp_path / "articles" / "005_x.yml").write_text("source: {}\n", encoding="utf-8")
    (tmp_path / "articles" / ".gitkeep").touch()
    before = _snapshot(engine)
    lines = load_seed(engine, tmp_path, RiskRules()).summary().splitlines()
    articles = tmp_path / "articles"
    assert lines[1:] == [
        f"articles: none in {articles} (*.yaml files)",
        f"{articles / '005_x.yml'}: not read, no article (*.yaml)",
    ]
    assert _snapshot(engine) == before
    assert "articles: none" not in load_seed(engine, SEED, RiskRules()).summary()


def test_a_refused_file_writes_nothing(engine: Engine, tmp_path: Path) -> None:
    before = _snapshot(engine)
    content = (SEED / "articles" / "003_muong_bang.yaml").read_text(encoding="utf-8")
    broken = content.replace("Chi bộ có 22 đảng viên", "Chi bộ có 23 đảng viên")
    assert broken != content
    (tmp_path / "articles").mkdir()
    (tmp_path / "articles" / "x.yaml").write_text(
        broken.replace("../sources/", str(SEED / "sources") + "/"), encoding="utf-8"
    )
    article_path = tmp_path / "articles" / "x.yaml"
    with pytest.raises(ImportRejected) as refused:
        article, text_, _ = read_article_file(article_path)
        with Session(engine) as session:
            apply_article(session, article, text_)
            session.commit()
    assert "quote" in str(refused.value) or "text_file" in str(refused.value)
    assert _scalar(engine, "SELECT count(*) FROM sources") == len(before["sources"])
    assert _snapshot(engine) == before


def test_counts_match_the_files(engine: Engine) -> None:
    expected = sum(len(read_article_file(p)[0].counts) for p in ARTICLES)
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(MembershipCount)).one() == expected
