"""The check of stored rows (app.services.data_check), `branchstats check` and
`branchstats refresh`: the seed breaks no rule; rows changed behind the service's back
are each named, and only they; what is stale of what is served, a refresh clears."""

from datetime import date, timedelta

import orjson
import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from app.cli import main
from app.ingest.loader import text_sha256
from app.services.data_check import CheckReport, check_stored
from app.services.risk_rules import RiskRules
from app.services.status import refresh_status
from tests.conftest import make_client

# Figures of a source with a publication date.
DATED = "JOIN sources s ON s.id = f.source_id WHERE s.published_on IS NOT NULL"


def check(engine: Engine, keep: int = 100) -> CheckReport:
    with engine.connect() as connection:
        return check_stored(connection, RiskRules(), keep=keep)


# The rules of what is stored to be served, derived from the rows.
SERVED_RULES = {
    "item_stale",
    "search_stale",
    "status_province_stale",
    "status_stale",
    "today_stale",
    "totals_stale",
}


def named(report: CheckReport, *, served: bool = True) -> set[tuple[str, int, str, str]]:
    """The findings, those of what is served from the rows left out unless `served`."""
    return {
        (f.entity, f.id, f.field, f.rule)
        for f in report.findings
        if served or f.rule not in SERVED_RULES
    }


def scalar(engine: Engine, sql: str) -> object:
    with engine.connect() as connection:
        return connection.execute(text(sql)).scalar_one()


def one(engine: Engine, sql: str) -> int:
    return int(str(scalar(engine, sql)))


def scalars(engine: Engine, sql: str) -> list[int]:
    with engine.connect() as connection:
        return [int(v) for v in connection.execute(text(sql)).scalars()]


def change(engine: Engine, sql: str, **values: object) -> None:
    with engine.begin() as connection:
        connection.execute(text(sql), values)


def test_the_seed_breaks_no_rule_and_every_sourced_row_is_read(shared_engine: Engine) -> None:
    report = check(shared_engine)
    assert report.findings == [] and report.total == 0
    tables = {
        "source": "sources",
        "locality": "localities",
        "branch": "branches",
        "membership_count": "membership_counts",
        "membership_event": "membership_events",
        "fact": "facts",
        "officeholder": "officeholders",
    }
    for entity, table in tables.items():
        where = "" if table == "sources" else " WHERE source_id IS NOT NULL"
        assert report.checked[entity] == one(shared_engine, f"SELECT count(*) FROM {table}{where}")
    assert report.checked["membership_count"] > 0 and report.checked["fact"] > 0


def test_a_facts_whole_below_its_part_or_unprinted_is_named(engine: Engine) -> None:
    """The seed's "5/10" and "11/19": a whole lowered below its part, and one its figure
    does not print."""
    committee, criteria = (
        one(engine, f"SELECT id FROM facts WHERE metric = '{metric}' AND out_of IS NOT NULL")
        for metric in ("branches_with_committee", "new_rural_criteria_met")
    )
    change(engine, f"UPDATE facts SET out_of = value - 1 WHERE id = {committee}")
    change(engine, f"UPDATE facts SET out_of = out_of + 1 WHERE id = {criteria}")

    report = check(engine)

    assert named(report) == {
        ("fact", committee, "out_of", "part_exceeds_whole"),
        ("fact", criteria, "out_of", "value_not_in_figure"),
    }
    message = {f.id: f.message for f in report.findings}[criteria]
    assert message == "20 is not a number the figure '11/19' prints (11, 19)"


def test_a_figure_not_in_its_quote_is_named(engine: Engine) -> None:
    """A figure changed behind the service to characters its quote does not print (its
    value still one the figure prints): a journalist could not find it in the sentence."""
    fact = one(
        engine,
        "SELECT id FROM facts WHERE figure IS NOT NULL AND value_max IS NULL "
        "AND out_of IS NULL ORDER BY id LIMIT 1",
    )
    change(engine, f"UPDATE facts SET figure = figure || ' xyz' WHERE id = {fact}")

    assert named(check(engine), served=False) == {("fact", fact, "figure", "figure_not_in_quote")}


def test_a_qualifier_its_figure_does_not_give_is_named(engine: Engine) -> None:
    """Thanh Chương's "dưới 5" members and "trên 5" years without an admission, stored
    as exactly 5 (the risk rules would read them so)."""
    under_5 = one(engine, "SELECT id FROM membership_counts WHERE figure = 'dưới 5'")
    over_5 = one(engine, "SELECT id FROM facts WHERE figure = 'trên 5'")
    change(engine, f"UPDATE membership_counts SET qualifier = 'exact' WHERE id = {under_5}")
    change(engine, f"UPDATE facts SET qualifier = 'less_than' WHERE id = {over_5}")

    report = check(engine)

    assert named(report, served=False) == {
        ("membership_count", under_5, "qualifier", "qualifier_not_in_figure"),
        ("fact", over_5, "qualifier", "qualifier_not_in_figure"),
    }
    message = {f.id: f.message for f in report.findings}[over_5]
    assert (
        message
        == "the figure 'trên 5' qualifies its value ('trên': more_than or at_least), not less_than"
    )


def test_a_blank_quote_or_name_a_named_group_and_a_flag_as_a_range_are_named(
    engine: Engine,
) -> None:
    """From a write audit, rows the writes now refuse, stored behind the service's back: a
    quote of spaces (folded to "", found in every text), a name of spaces, a named
    organization counted as a group, a reported flag of 0.5 to 3."""
    tien_phong = one(engine, "SELECT id FROM branches WHERE name = 'Chi bộ xóm Tiền Phong'")
    khe_leng = one(engine, "SELECT id FROM branches WHERE name = 'Chi bộ thôn Khéo Lẹng'")
    flag = one(engine, "SELECT id FROM facts WHERE metric = 'at_risk_reported' LIMIT 1")
    change(engine, f"UPDATE branches SET quote = :q WHERE id = {tien_phong}", q=" \u00a0 \n ")
    change(engine, f"UPDATE branches SET group_size = 3 WHERE id = {khe_leng}")
    change(engine, f"UPDATE facts SET value = 0.5, value_max = 3 WHERE id = {flag}")
    locality = one(engine, "SELECT id FROM localities WHERE source_id IS NOT NULL LIMIT 1")
    change(engine, f"UPDATE localities SET name = :n WHERE id = {locality}", n="\u200b ")

    assert named(check(engine), served=False) == {
        ("branch", tien_phong, "quote", "quote_not_a_clause"),
        ("branch", khe_leng, "group_size", "group_with_a_name"),
        ("fact", flag, "value", "outside_metric_range"),
        ("fact", flag, "value_max", "not_a_flag"),
        ("locality", locality, "name", "blank"),
    }


def test_a_blank_source_text_is_named(engine: Engine) -> None:
    """A text of spaces stored behind the service's back (its hash made to match): named
    as blank, beside each of its records' quotes that it no longer holds."""
    source = one(engine, "SELECT id FROM sources WHERE key = 'hbdt-tien-phong'")
    blank = " \u200b\n "
    change(engine, f"UPDATE sources SET text = :t, text_sha256 = :h WHERE id = {source}",
           t=blank, h=text_sha256(blank))  # fmt: skip

    found = named(check(engine), served=False)
    assert ("source", source, "text", "blank") in found
    assert {rule for entity, _, _, rule in found if entity != "source"} == {"quote_not_in_source"}


def test_a_figure_outside_its_organizations_lifetime_is_named(engine: Engine) -> None:
    """Dates stored behind the service's back: Khéo Lẹng dissolved before its count of
    2023-12-18 (each of its figures with a date of its own named), Tiền Phong dissolved
    before it was founded."""
    kheo_leng = one(engine, "SELECT id FROM branches WHERE key = 'org:vn2004:04309/thon-kheo-leng'")
    tien_phong = one(
        engine, "SELECT id FROM branches WHERE key = 'org:vn2004:05251/xom-tien-phong'"
    )
    change(engine, f"UPDATE branches SET dissolved_on = '2000-01-01' WHERE id = {kheo_leng}")
    change(engine, "UPDATE branches SET founded_on = '2020-01-01', dissolved_on = '2019-01-01' "
                   f"WHERE id = {tien_phong}")  # fmt: skip
    dated = {
        (entity, row_id)
        for entity, table, first_day in (
            ("membership_count", "membership_counts", "as_of"),
            ("membership_event", "membership_events", "period_start"),
            ("fact", "facts", "period_start"),
            ("officeholder", "officeholders", "as_of"),
        )
        for row_id in scalars(
            engine,
            f"SELECT id FROM {table} WHERE branch_id = {kheo_leng} AND {first_day} > '2000-01-01'",
        )
    }
    assert ("membership_count", one(engine, "SELECT id FROM membership_counts WHERE "
            f"branch_id = {kheo_leng} AND as_of = '2023-12-18'")) in dated  # fmt: skip

    found = {
        (entity, row_id, rule) for entity, row_id, _, rule in named(check(engine), served=False)
    }
    outside = {(entity, row_id) for entity, row_id, rule in found if rule == "outside_lifetime"}
    assert outside >= dated and {("branch", tien_phong, "dates_out_of_order")} <= found


def test_a_tree_out_of_order_is_named(engine: Engine) -> None:
    """Two organizations each the other's parent (a loop drops their members from every
    sum), a village made a province under its commune, a chi bộ a province's đảng bộ."""
    tien_phong = "org:vn2004:05251/xom-tien-phong"
    branch = one(engine, f"SELECT id FROM branches WHERE key = '{tien_phong}'")
    commune = one(engine, "SELECT id FROM branches WHERE key = 'org:vn2004:05251'")
    village = one(engine, "SELECT id FROM localities WHERE key = 'vn2004:05251/xom-tien-phong'")
    khe_leng = one(engine, "SELECT id FROM branches WHERE name = 'Chi bộ thôn Khéo Lẹng'")
    change(engine, f"UPDATE branches SET parent_id = {branch} WHERE id = {commune}")
    change(engine, f"UPDATE localities SET kind = 'province' WHERE id = {village}")
    change(engine, f"UPDATE branches SET kind = 'province_committee' WHERE id = {khe_leng}")

    report = check(engine)

    misplaced = {
        (f.entity, f.id, f.field, f.message) for f in report.findings if f.rule == "misplaced"
    }
    assert misplaced == {
        ("branch", branch, "parent_id", "it is its own ancestor"),
        ("branch", commune, "parent_id", "it is its own ancestor"),
        ("locality", village, "parent_id",
         "a place of kind province cannot sit under one of kind commune"),
        ("branch", khe_leng, "parent_id",
         "an organization of kind province_committee cannot sit under one of kind "
         "commune_committee"),
    }  # fmt: skip


def test_an_organization_deeper_than_the_sums_look_is_named(engine: Engine) -> None:
    """Thanh Chương's group (of kind other, which may sit anywhere) moved by hand under
    Mai Hạ's chi bộ xóm Tiền Phong, and Lục Yên's district committee under the group:
    Khéo Lẹng's and Thâm Pất's chi bộ stand 5 below Mai Hạ's committee, deeper than the
    sums look for a count that includes their own (writes refuse it:
    app.services.place_tree)."""

    def branch(key: str) -> int:
        return one(engine, f"SELECT id FROM branches WHERE key = '{key}'")

    group = branch("org:vn2004:428/six-branches-at-risk")
    tien_phong = branch("org:vn2004:05251/xom-tien-phong")
    change(engine, f"UPDATE branches SET parent_id = {tien_phong} WHERE id = {group}")
    change(engine, f"UPDATE branches SET parent_id = {group} WHERE key = 'org:vn2004:135'")
    deep = {branch(f"org:vn2004:04309/{v}") for v in ("thon-kheo-leng", "thon-tham-pat")}

    report = check(engine)

    misplaced = [f for f in report.findings if f.rule == "misplaced"]
    assert {(f.entity, f.id, f.field) for f in misplaced} == {
        ("branch", ident, "parent_id") for ident in deep
    }
    assert all("more than 4 organizations below the top" in f.message for f in misplaced)


def test_each_row_changed_behind_the_service_is_named_by_its_rule(engine: Engine) -> None:
    # A dated source's count whose figure prints its value, and another of that source.
    count = one(
        engine,
        f"SELECT f.id FROM membership_counts f {DATED} AND f.as_of IS NOT NULL "
        "AND f.value_max IS NULL AND f.figure = CAST(f.value AS VARCHAR(20)) "
        "ORDER BY f.id LIMIT 1",
    )
    source_of_count = f"(SELECT source_id FROM membership_counts WHERE id = {count})"
    other_count = one(
        engine,
        f"SELECT id FROM membership_counts WHERE id <> {count} "
        f"AND source_id = {source_of_count} ORDER BY id LIMIT 1",
    )
    published = scalar(engine, f"SELECT published_on FROM sources WHERE id = {source_of_count}")
    later = date.fromisoformat(str(published)) + timedelta(days=30)
    event = one(engine, f"SELECT f.id FROM membership_events f {DATED} ORDER BY f.id LIMIT 1")
    event_published = scalar(
        engine,
        "SELECT published_on FROM sources WHERE id = "
        f"(SELECT source_id FROM membership_events WHERE id = {event})",
    )
    fact, other_fact = (
        one(engine, f"SELECT id FROM facts WHERE value > 0 ORDER BY id LIMIT 1 OFFSET {n}")
        for n in (0, 1)
    )
    branch = one(engine, "SELECT id FROM branches WHERE source_id IS NOT NULL ORDER BY id LIMIT 1")
    source = one(engine, "SELECT max(id) FROM sources")

    change(engine, f"UPDATE membership_counts SET value = value + 1 WHERE id = {count}")
    change(engine, f"UPDATE membership_counts SET as_of = :day WHERE id = {other_count}", day=later)
    # A year before its article: its evidence_date (the article's day, or its period's
    # end) is now another day than its dates give.
    change(
        engine,
        f"UPDATE membership_events SET period_start = :day, period_end = :day WHERE id = {event}",
        day=date.fromisoformat(str(event_published)) - timedelta(days=365),
    )
    change(engine, f"UPDATE facts SET unit = 'furlongs' WHERE id = {fact}")
    change(engine, f"UPDATE facts SET value_max = value / 2 WHERE id = {other_fact}")
    change(
        engine,
        "UPDATE branches SET quote = 'Câu này không có trong bài.', is_synthetic = :yes "
        f"WHERE id = {branch}",
        yes=True,
    )
    change(engine, f"UPDATE sources SET text = text || ' Thêm.' WHERE id = {source}")

    report = check(engine)

    # What is served from those rows is stale too (changed behind the writes' refresh):
    # the next test.
    assert named(report, served=False) == {
        ("membership_count", count, "value", "value_not_in_figure"),
        # Its evidence_date stays the article's day: no figure is evidence of a later one.
        ("membership_count", other_count, "as_of", "after_publication"),
        # Its evidence_date still says the old day: the newest evidence would be misread.
        ("membership_event", event, "evidence_date", "evidence_date_stale"),
        ("fact", fact, "unit", "unit_mismatch"),
        ("fact", other_fact, "value_max", "range_reversed"),
        ("branch", branch, "quote", "quote_not_in_source"),
        ("branch", branch, "is_synthetic", "synthetic_mismatch"),
        ("source", source, "text_sha256", "text_hash_mismatch"),
    }
    assert report.total == len(report.findings)
    messages = {(f.entity, f.id, f.field): f.message for f in report.findings}
    assert "is not a number the figure" in messages[("membership_count", count, "value")]
    assert (
        f"{later} is after the source's publication ({published})"
        in (messages[("membership_count", other_count, "as_of")])
    )


def test_what_is_served_from_the_rows_is_checked_against_them(engine: Engine) -> None:
    # A parent renamed by hand: its item, and its children's (which show its name), are
    # left behind; a status row moved to another province.
    parent = one(
        engine,
        "SELECT parent_id FROM branches WHERE parent_id IS NOT NULL ORDER BY id LIMIT 1",
    )
    with engine.connect() as connection:
        children = set(
            connection.execute(text(f"SELECT id FROM branches WHERE parent_id = {parent}"))
            .scalars()
            .all()
        )
    moved = one(
        engine,
        f"SELECT min(id) FROM branches WHERE id NOT IN ({parent}) AND id NOT IN "
        f"(SELECT id FROM branches WHERE parent_id = {parent})",
    )
    province = one(
        engine,
        f"SELECT min(id) FROM localities WHERE kind = 'province' AND id <> "
        f"(SELECT province_id FROM branches WHERE id = {moved})",
    )
    change(engine, f"UPDATE branches SET name = 'Đổi tên bằng tay' WHERE id = {parent}")
    change(engine, f"UPDATE branch_status SET province_id = {province} WHERE branch_id = {moved}")

    report = check(engine)

    assert named(report) == {
        ("branch", parent, "item", "item_stale"),
        ("branch", parent, "search_key", "search_stale"),  # searched by its old name
        ("branch", moved, "province_id", "status_province_stale"),
    } | {("branch", child, "item", "item_stale") for child in children}
    keys = {f.id: f.key for f in report.findings}
    assert keys[parent] == scalar(engine, f"SELECT key FROM branches WHERE id = {parent}")


def test_status_rows_are_checked_against_their_risk_computed_again(engine: Engine) -> None:
    # A branch at risk said to be at none; another's row without its latest count; a
    # third's row deleted (no list would show it).
    at_risk = one(engine, "SELECT min(branch_id) FROM branch_status WHERE risk_rank > 1")
    recounted = one(
        engine,
        f"SELECT min(branch_id) FROM branch_status WHERE branch_id <> {at_risk} "
        "AND latest_count_id IS NOT NULL",
    )
    others = f"branch_id NOT IN ({at_risk}, {recounted})"
    rowless = one(engine, f"SELECT min(branch_id) FROM branch_status WHERE {others}")
    day = scalar(engine, f"SELECT evaluated_on FROM branch_status WHERE branch_id = {at_risk}")
    change(
        engine,
        "UPDATE branch_status SET risk_level = 'none', risk_rank = 1, criteria_met = '' "
        f"WHERE branch_id = {at_risk}",
    )
    change(
        engine,
        "UPDATE branch_status SET latest_count_id = NULL, members_low = NULL, "
        f"members_high = NULL, members_sort = -1 WHERE branch_id = {recounted}",
    )
    change(engine, f"DELETE FROM branch_status WHERE branch_id = {rowless}")

    report = check(engine)

    statuses = {f.id: f.message for f in report.findings if f.rule == "status_stale"}
    assert set(statuses) == {at_risk, recounted, rowless}
    assert statuses[at_risk] == (
        f"its status row evaluated on {day} has risk_level, risk_rank, criteria_met "
        "other than its rows give as of that day"
    )
    recounted_columns = "latest_count_id, members_low, members_high, members_sort"
    assert f"has {recounted_columns} other" in statuses[recounted]
    assert statuses[rowless] == "has no status row: no list shows it"
    # Their items were rendered from the rows as they were: the stored ones still say so.
    assert {n[3] for n in named(report)} == {"status_stale", "item_stale"}


def test_every_branch_without_a_status_row_is_named(engine: Engine) -> None:
    """From a CLI audit: with no status row at all (a load stopped before its refresh,
    rows deleted by hand), the check ended in "no such table: staged_status", where it
    is the case it names: no list shows these branches."""
    branches = set(scalars(engine, "SELECT id FROM branches"))
    change(engine, "DELETE FROM branch_status")
    statuses = {f.id: f.message for f in check(engine).findings if f.rule == "status_stale"}
    assert set(statuses) == branches
    assert set(statuses.values()) == {"has no status row: no list shows it"}


def test_status_rows_of_another_day_are_computed_again_as_of_their_own(engine: Engine) -> None:
    # A row evaluated on another day than the rest (as while the day turns): the day
    # before its latest count, so that it shows an older count or none. Each row is
    # compared with its risk as of its own day, and only the two changed by hand, one of
    # each day, are stale.
    other = one(engine, "SELECT min(branch_id) FROM branch_status WHERE latest_count_id > 0")
    rest = one(engine, f"SELECT max(branch_id) FROM branch_status WHERE branch_id <> {other}")
    counted = scalar(
        engine,
        "SELECT c.evidence_date FROM branch_status s "
        f"JOIN membership_counts c ON c.id = s.latest_count_id WHERE s.branch_id = {other}",
    )
    other_day = date.fromisoformat(str(counted)) - timedelta(days=1)
    with engine.begin() as connection:
        refresh_status(Session(bind=connection), RiskRules(), branch_ids=[other], today=other_day)
    assert one(engine, "SELECT count(DISTINCT evaluated_on) FROM branch_status") == 2
    assert named(check(engine)) == set()

    change(
        engine,
        f"UPDATE branch_status SET risk_rank = risk_rank + 1 WHERE branch_id IN ({other}, {rest})",
    )
    statuses = {f.id: f.message for f in check(engine).findings if f.rule == "status_stale"}
    assert set(statuses) == {other, rest}
    assert f"evaluated on {other_day} has risk_rank other" in statuses[other]


def test_search_words_and_units_of_today_are_checked_against_the_places(engine: Engine) -> None:
    # A locality's search words deleted by hand; another's commune of today forgotten.
    wordless = one(engine, "SELECT min(locality_id) FROM locality_words")
    forgotten = one(
        engine,
        f"SELECT min(id) FROM localities WHERE current_commune_id IS NOT NULL AND id <> {wordless}",
    )
    change(engine, f"DELETE FROM locality_words WHERE locality_id = {wordless}")
    change(engine, f"UPDATE localities SET current_commune_id = NULL WHERE id = {forgotten}")
    # A branch's sort key in code point order (before 0019): sort=name would misplace it.
    unsorted = one(engine, "SELECT min(id) FROM branches WHERE name IS NOT NULL")
    change(engine, f"UPDATE branches SET name_order = name_lower WHERE id = {unsorted}")

    report = check(engine)

    # (The list items of branches there show the commune of today: stale too.)
    assert {n for n in named(report) if n[3] != "item_stale"} == {
        ("locality", wordless, "search_key", "search_stale"),
        ("locality", forgotten, "today", "today_stale"),
        ("branch", unsorted, "search_key", "search_stale"),
    }


def test_yearly_totals_are_checked_against_the_figures_and_each_other(engine: Engine) -> None:
    # A commune's total changed by hand: it is not what its figures give, and its
    # province's and district's sums are not its totals summed any more.
    with engine.connect() as connection:
        total = (
            connection.execute(
                text(
                    "SELECT id, commune_id, district_id, province_id FROM commune_yearly_totals "
                    "ORDER BY id LIMIT 1"
                )
            )
            .mappings()
            .one()
        )
    change(engine, f"UPDATE commune_yearly_totals SET low = low + 1 WHERE id = {total['id']}")
    places = {total["province_id"], total["district_id"]} - {None}
    assert places

    report = check(engine)

    assert named(report) == {("locality", total["commune_id"], "yearly_totals", "totals_stale")} | {
        ("locality", place, "yearly_totals", "totals_stale") for place in places
    }

    # Put back, and a province's sum changed instead: only it.
    change(engine, f"UPDATE commune_yearly_totals SET low = low - 1 WHERE id = {total['id']}")
    province = total["province_id"]
    change(
        engine,
        "UPDATE place_yearly_totals SET records = records + 1 WHERE id = "
        f"(SELECT min(id) FROM place_yearly_totals WHERE place_id = {province})",
    )
    assert named(check(engine)) == {("locality", province, "yearly_totals", "totals_stale")}


def test_every_finding_is_counted_and_the_first_are_kept(engine: Engine) -> None:
    change(engine, "UPDATE membership_counts SET quote = 'Không có.'")
    counts = one(engine, "SELECT count(*) FROM membership_counts")
    report = check(engine, keep=2)
    assert report.by_rule["quote_not_in_source"] == counts > 2
    assert report.total == counts + report.by_rule["item_stale"]  # items show latest quotes
    assert len(report.findings) == 2


@pytest.fixture
def cli_engine(engine: Engine, seeded_url: str, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("DATABASE_URL", seeded_url)
    return engine


def test_the_command_exits_1_naming_each_row(
    cli_engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith("no problems") and "membership_count " in out

    fact = one(cli_engine, "SELECT id FROM facts ORDER BY id LIMIT 1")
    key = scalar(cli_engine, f"SELECT key FROM facts WHERE id = {fact}")
    change(cli_engine, f"UPDATE facts SET unit = 'furlongs' WHERE id = {fact}")
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert f"fact {fact} ({key}) unit:" in out and "unit_mismatch: 1" in out
    assert out.rstrip().endswith("1 problem")

    assert main(["check", "--json", "--limit", "0"]) == 1
    report = orjson.loads(capsys.readouterr().out)
    assert report["problems"] == 1 and report["by_rule"] == {"unit_mismatch": 1}
    assert report["shown"] == []


def test_refresh_recomputes_all_that_the_check_finds_stale(
    cli_engine: Engine, seeded_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    branch = one(cli_engine, "SELECT min(id) FROM branches")
    wordless = one(cli_engine, "SELECT min(locality_id) FROM locality_words")
    renamed = one(cli_engine, f"SELECT min(id) FROM localities WHERE id <> {wordless}")
    change(cli_engine, f"UPDATE branches SET name = 'Đổi tên bằng tay' WHERE id = {branch}")
    change(cli_engine, f"DELETE FROM locality_words WHERE locality_id = {wordless}")
    change(
        cli_engine,
        f"UPDATE localities SET name = 'Đổi tên', official_name = NULL WHERE id = {renamed}",
    )
    change(cli_engine, "UPDATE localities SET current_commune_id = NULL")
    change(cli_engine, "UPDATE commune_yearly_totals SET low = low + 1")
    change(cli_engine, "UPDATE branch_status SET province_id = NULL")
    change(cli_engine, "UPDATE branch_status SET risk_rank = risk_rank + 1")
    stale = check(cli_engine)
    assert set(stale.by_rule) == SERVED_RULES
    version = one(cli_engine, "SELECT version FROM data_version")

    assert main(["refresh"]) == 0
    out = capsys.readouterr().out
    assert "search fields out of date: localities 2, branches 1;" in out

    assert check(cli_engine).findings == []
    # Servers that keep answers drop them: the refresh is a write like any other.
    assert one(cli_engine, "SELECT version FROM data_version") > version
    with make_client(seeded_url) as client:
        found = client.get("/localities", params={"q": "Đổi tên"}).json()["items"]
        assert [item["id"] for item in found] == [renamed]


def test_an_undated_source_reports_nothing_begun_after_the_dataset_held_it(
    engine: Engine,
) -> None:
    """As the writes and the loader refuse: the article existed by its registered_on."""
    count = one(
        engine,
        "SELECT f.id FROM membership_counts f JOIN sources s ON s.id = f.source_id "
        "WHERE s.published_on IS NULL ORDER BY f.id LIMIT 1",
    )
    change(
        engine,
        f"UPDATE membership_counts SET as_of = :day WHERE id = {count}",
        day=date(2099, 1, 1),
    )
    report = check(engine)
    assert ("membership_count", count, "as_of", "after_publication") in named(report, served=False)
    messages = {(f.entity, f.id, f.field): f.message for f in report.findings}
    assert (
        "after the source's first day in the dataset"
        in messages[("membership_count", count, "as_of")]
    )
