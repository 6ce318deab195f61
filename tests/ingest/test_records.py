"""The record format refuses what would silently lose or invent data."""

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from app.ingest.files import _UniqueKeyLoader, parse_article_yaml, read_article_file
from app.ingest.loader import ImportRejected
from app.schemas.writes import LocalityCreate

BASE = """
format: branchstats/article-v1
source: {key: test-source, text: "Chi bộ có 22 đảng viên."}
"""


def fields_of(exc: ImportRejected) -> set[str]:
    return {p.field for p in exc.problems}


def test_unknown_fields_are_errors() -> None:
    with pytest.raises(ImportRejected) as refused:
        parse_article_yaml(
            BASE + "counts:\n  - {id: a, branch: b, value: 1, quote: abc, valu: 2}\n", "t"
        )
    assert "counts.0.valu" in fields_of(refused.value)


def test_duplicate_yaml_keys_are_errors() -> None:
    with pytest.raises(ImportRejected) as refused:
        parse_article_yaml(BASE + "source: {key: other, text: x}\n", "t")
    assert fields_of(refused.value) == {"yaml"}


def test_an_unnamed_organization_must_be_a_group() -> None:
    with pytest.raises(ImportRejected) as refused:
        parse_article_yaml(BASE + "branches:\n  - {key: org:x, kind: other, quote: abc}\n", "t")
    assert fields_of(refused.value) == {"branches.0.name"}


def test_an_unknown_metric_is_refused() -> None:
    fact = "facts:\n  - {id: f, metric: happiness, locality: vn2004:17, value: 3, quote: abc}\n"
    with pytest.raises(ImportRejected) as refused:
        parse_article_yaml(BASE + fact, "t")
    assert fields_of(refused.value) == {"facts.0.metric"}


def test_a_group_of_six_is_valid_without_a_name() -> None:
    article = parse_article_yaml(
        BASE + "branches:\n  - {key: org:x, kind: other, group_size: 6, quote: abc}\n", "t"
    )
    assert article.branches[0].name is None and article.branches[0].group_size == 6


BRANCH = "branches:\n  - {{key: org:x, kind: other, {fields}}}\n"
FLAG = "facts:\n  - {{id: f, metric: at_risk_reported, branch: org:x, {fields}, quote: abc}}\n"


@pytest.mark.parametrize(
    ("record", "field"),
    [
        # Named, or an unnamed group: a named one's count was read as a group's whole.
        (BRANCH.format(fields="name: Chi bộ, group_size: 6, quote: abc"), "branches.0.group_size"),
        # Folded, "   " is "", which every text contains: no proof of anything.
        *(
            (BRANCH.format(fields=f"name: Chi bộ, quote: {quote}"), "branches.0.quote")
            for quote in ('"   "', '" . "', '"ệ  "')
        ),
        # From a mutation audit: no letter or digit ("..." is in any article), or two
        # characters once the spaces are folded.
        *(
            (BRANCH.format(fields=f"name: Chi bộ, quote: {quote}"), "branches.0.quote")
            for quote in ('"..."', '"- -"', '"ab\\u00a0"')
        ),
        # A name reversed on screen by a text-direction override or isolate.
        *(
            (BRANCH.format(fields=f'name: "Chi bộ {mark}", quote: abc'), "branches.0.name")
            for mark in ("\\u202e", "\\u2067")
        ),
        # A flag is 1, exact: 0.5 or 0 read as not reported, 5 as reported.
        (FLAG.format(fields="value: 0.5"), "facts.0.value"),
        (FLAG.format(fields="value: 1, value_max: 2"), "facts.0.value_max"),
        (FLAG.format(fields="value: 0"), "facts.0.value"),
    ],
)
def test_a_record_that_would_mislead_is_refused(record: str, field: str) -> None:
    with pytest.raises(ImportRejected) as refused:
        parse_article_yaml(BASE + record, "t")
    assert fields_of(refused.value) == {field}


def test_no_text_may_hold_a_nul_or_a_lone_surrogate(tmp_path: Path) -> None:
    with pytest.raises(ImportRejected) as refused:
        parse_article_yaml(
            BASE + 'branches:\n  - {key: org:x, kind: other, name: "a\\0b", quote: abc}\n', "t"
        )
    assert fields_of(refused.value) == {"branches.0.name"}
    lone = 'format: branchstats/article-v1\nsource: {key: test-source, text: "22 \\udfff"}\n'
    with pytest.raises(ImportRejected) as refused:
        parse_article_yaml(lone, "t")
    assert fields_of(refused.value) == {"source.text"}

    articles = tmp_path / "articles"
    articles.mkdir()
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "x.txt").write_text("Chi bộ có 22\x00 đảng viên.", encoding="utf-8")
    record = articles / "x.yaml"
    record.write_text(
        "format: branchstats/article-v1\nsource: {key: test-source, text_file: ../sources/x.txt}\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportRejected) as refused:
        read_article_file(record)
    assert [(p.record, p.field) for p in refused.value.problems] == [("x.txt", "text")]


def test_a_file_that_is_not_utf8_is_refused_naming_the_byte(tmp_path: Path) -> None:
    (tmp_path / "articles").mkdir()
    (tmp_path / "sources").mkdir()
    valid = "Chi bộ có ".encode()  # 13 bytes
    (tmp_path / "sources" / "x.txt").write_bytes(valid + b"\xff 22")
    record = tmp_path / "articles" / "x.yaml"
    record.write_bytes(
        b"format: branchstats/article-v1\nsource: {key: s, text_file: ../sources/x.txt}\n"
    )
    with pytest.raises(ImportRejected) as refused:
        read_article_file(record)
    (problem,) = refused.value.problems
    assert (problem.record, problem.field) == ("x.txt", "text")
    assert problem.message == f"not UTF-8 text: byte 0xff at offset {len(valid)}"

    record.write_bytes(b'format: branchstats/article-v1\nsource: {key: s, text: "\xc3"}\n')
    with pytest.raises(ImportRejected) as refused:
        read_article_file(record)
    assert [(p.record, p.field) for p in refused.value.problems] == [("x.yaml", "yaml")]


def test_a_yaml_alias_is_refused_before_it_multiplies() -> None:
    """Ten lists of ten, each made of the one before by alias: nine levels in 600 bytes
    were a billion values, which validation walked (from a security audit). Five here,
    100,000 values: refused without this rule too, by type, in a tenth of a second."""
    levels = ['&l0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    levels += [f"&l{n} [{', '.join([f'*l{n - 1}'] * 10)}]" for n in range(1, 5)]
    bomb = "format: branchstats/article-v1\nsource:\n  key: bomb\n  text: abc\n"
    bomb += f"  publisher: [{', '.join(levels)}]\n"
    assert len(bomb) < 700
    with pytest.raises(ImportRejected) as refused:
        parse_article_yaml(bomb, "t")
    (problem,) = refused.value.problems
    assert problem.field == "yaml" and "aliases (*name) are not accepted" in problem.message
    # An anchor alone repeats nothing: it is read as the node it names.
    anchored = "format: branchstats/article-v1\nsource: &s {key: s, text: abc}\n"
    assert parse_article_yaml(anchored, "t").source.key == "s"


def test_yaml_nested_past_the_limit_is_refused_not_a_stack_overflow() -> None:
    with pytest.raises(ImportRejected) as refused:
        parse_article_yaml("[" * 50_000 + "]" * 50_000, "t")
    (problem,) = refused.value.problems
    assert problem.field == "yaml" and "nested deeper than 32 levels" in problem.message

    def nested(levels: int) -> str:
        """A file whose deepest node (a scalar) is `levels` deep, the file's mapping first."""
        inner = levels - 2
        return "format: branchstats/article-v1\nx: " + "{a: " * inner + "1" + "}" * inner + "\n"

    with pytest.raises(ImportRejected) as refused:
        parse_article_yaml(nested(32), "t")  # parsed, then refused as an article
    assert fields_of(refused.value) == {"source", "x"}  # missing, unknown
    with pytest.raises(ImportRejected) as refused:
        parse_article_yaml(nested(33), "t")
    assert fields_of(refused.value) == {"yaml"}


@pytest.mark.parametrize(
    ("whole", "refused"),
    [
        ("out_of: 10", False),
        ("out_of: 4", True),  # a part more than its whole
        ("out_of: 0", True),
        ("value_max: 7, out_of: 6", True),  # the top of the range is the part
    ],
)
def test_a_facts_whole_is_at_least_its_part(whole: str, refused: bool) -> None:
    fact = (
        "facts:\n  - {id: f, metric: branches_with_committee, locality: vn2004:17, "
        f"value: 5, {whole}, quote: abc}}\n"
    )
    if not refused:
        assert parse_article_yaml(BASE + fact, "t").facts[0].out_of == 10
        return
    with pytest.raises(ImportRejected) as rejected:
        parse_article_yaml(BASE + fact, "t")
    assert any(field.startswith("facts.0") for field in fields_of(rejected.value))


@pytest.mark.parametrize(
    ("metric", "value", "refused"),
    [
        ("poverty_rate", "100", False),
        ("poverty_rate", "120", True),  # a share is at most its whole
        ("poverty_rate", "40, value_max: 101", True),
        ("plan_completion", "130", False),  # not a share
        ("meeting_day_of_month", "32", True),
        ("meeting_day_of_month", "0", True),
        ("households", "-3", True),  # nothing counted is below 0
        ("households", "250000", False),
    ],
)
def test_a_value_is_at_most_what_its_metric_can_be(metric: str, value: str, refused: bool) -> None:
    fact = (
        f"facts:\n  - {{id: f, metric: {metric}, locality: vn2004:17, value: {value}, "
        "quote: abc}\n"
    )
    if not refused:
        assert parse_article_yaml(BASE + fact, "t").facts[0].metric == metric
        return
    with pytest.raises(ImportRejected) as rejected:
        parse_article_yaml(BASE + fact, "t")
    assert f"{metric} is at " in str(rejected.value)


@pytest.mark.parametrize(
    ("metric", "value", "figure", "refused"),
    [
        ("members_over_60", "2.5", "2,5", True),
        ("households", "6.5", "6,5", True),
        ("members_over_60", "3", "3", False),
        ("poverty_rate", "6.5", "6,5%", False),  # a share may have decimals
    ],
)
def test_a_count_of_whole_things_is_a_whole_number(
    metric: str, value: str, figure: str, refused: bool
) -> None:
    """Members, households are counted one by one: 2.5 of them is a misread figure. From
    a mutation audit: members dropped from the whole units passed unnoticed."""
    fact = (
        f"facts:\n  - {{id: f, metric: {metric}, locality: vn2004:17, value: {value}, "
        f'figure: "{figure}", quote: abc}}\n'
    )
    if not refused:
        assert parse_article_yaml(BASE + fact, "t").facts[0].value == float(value)
        return
    with pytest.raises(ImportRejected) as rejected:
        parse_article_yaml(BASE + fact, "t")
    assert fields_of(rejected.value) == {"facts.0.value"}
    assert f"{metric} counts whole " in str(rejected.value)


def test_an_article_is_not_held_before_it_was_published() -> None:
    source = 'source: {key: s, published_on: 2023-12-18, registered_on: %s, text: "x"}\n'
    held = parse_article_yaml("format: branchstats/article-v1\n" + source % "2023-12-18", "t")
    assert held.source.registered_on == held.source.published_on
    with pytest.raises(ImportRejected) as refused:
        parse_article_yaml("format: branchstats/article-v1\n" + source % "2023-12-17", "t")
    assert fields_of(refused.value) == {"source.registered_on"}
    assert "before published_on" in str(refused.value)


@pytest.mark.parametrize(("code", "refused"), [("04309", False), ("٠٤", True), ("０４", True)])
def test_an_official_code_is_in_ascii_digits(code: str, refused: bool) -> None:
    """`\\d` takes Arabic-Indic and fullwidth digits too: stored, such a code would match
    no official statistics table and no `?code=` filter. Refused in a file and in a write."""
    place = f'{{key: "vn2004:x", kind: commune, name: X, code: "{code}", quote: abc}}'
    body = {"key": "vn2004:x", "kind": "commune", "name": "X", "code": code}
    try:
        LocalityCreate.model_validate(body)
        fields: set[tuple[object, ...]] = set()
    except ValidationError as error:
        fields = {tuple(e["loc"]) for e in error.errors()}
    assert (("code",) in fields) == refused
    if not refused:
        assert parse_article_yaml(BASE + f"localities:\n  - {place}\n", "t").localities[0].code
        return
    with pytest.raises(ImportRejected) as refusal:
        parse_article_yaml(BASE + f"localities:\n  - {place}\n", "t")
    assert fields_of(refusal.value) == {"localities.0.code"}


@pytest.mark.parametrize(
    ("fields", "refused"),
    [
        ("as_of: 2016-12-31, date_note: before those admissions", None),
        ("date_note: before those admissions", "date_derived"),  # no date of its own
        ("as_of: 2016-12-31", "date_note"),  # not saying how it was worked out
    ],
)
def test_a_derived_date_is_there_and_explained(fields: str, refused: str | None) -> None:
    count = (
        "counts:\n  - {id: c, branch: org:x, value: 4, quote: abc, date_derived: true, "
        f"{fields}}}\n"
    )
    if not refused:
        assert parse_article_yaml(BASE + count, "t").counts[0].date_derived
        return
    with pytest.raises(ImportRejected) as refusal:
        parse_article_yaml(BASE + count, "t")
    assert fields_of(refusal.value) == {f"counts.0.{refused}"}


@pytest.mark.parametrize("qualifier", ["approximate", "exact"])
def test_an_unreported_event_takes_no_qualifier(qualifier: str) -> None:
    """No number, nothing to qualify: a qualifier given is refused, `exact` too (it was
    stored beside the null before migration 0027); none given is none. A value given
    without one is read as printed, exact."""
    event = "events:\n  - {id: e, kind: admission, branch: org:x, period: '2017', quote: abc}\n"
    with pytest.raises(ImportRejected) as refusal:
        parse_article_yaml(BASE + event.replace("}", f", qualifier: {qualifier}}}"), "t")
    assert fields_of(refusal.value) == {"events.0.qualifier"}
    assert parse_article_yaml(BASE + event, "t").events[0].qualifier is None
    valued = event.replace("}", ", value: 2, figure: '2'}")
    assert parse_article_yaml(BASE + valued, "t").events[0].qualifier == "exact"


SOURCE = "format: branchstats/article-v1\nsource:\n  key: k\n  text: abc\n"


@pytest.mark.parametrize(
    ("tail", "field"),
    [
        ("  published_on: 2024-02-30\n", "source.published_on"),  # read as a day, named
        ("  published_on: !!timestamp foo\n", "yaml"),
        ("x: !!int abc\n", "yaml"),
        ("x: " + "9" * 5000 + "\n", "yaml"),  # past Python's digits for an int
        ("x: !!int 1:0:0\n", "yaml"),  # base 60, tagged
    ],
)
def test_a_yaml_value_that_cannot_be_read_is_a_refusal(tail: str, field: str) -> None:
    """From a security review: each was a 500 through POST /imports (PyYAML raised
    ValueError or AttributeError, not YAMLError), and a traceback from the command."""
    with pytest.raises(ImportRejected) as refused:
        parse_article_yaml(SOURCE + tail, "t")
    assert field in fields_of(refused.value)


def test_base_60_and_timestamps_are_text_and_other_numbers_numbers() -> None:
    """ "1:0:0:..." was a YAML 1.1 base-60 integer, read in time quadratic in its length:
    800 KB of it took 17 s, with the write lock held (a 2 MB body: some 100 s)."""
    loaded = yaml.load(
        "a: 1:0:0\nb: 2024-02-29\nc: 12\nd: -3.5\ne: 1_000\nf: 0x1F\ng: .inf\nh: 1e3",
        Loader=_UniqueKeyLoader,
    )
    assert loaded == {
        "a": "1:0:0",
        "b": "2024-02-29",
        "c": 12,
        "d": -3.5,
        "e": 1000,
        "f": 31,
        "g": float("inf"),
        "h": "1e3",  # YAML 1.1: no dot, no float
    }


@pytest.mark.parametrize(
    ("records", "field"),
    [
        (
            "counts:\n  - {id: c, branch: org:x, value: 4, quote: abc}\n"
            "  - {id: c, branch: org:x, value: 5, quote: abc}\n",
            "counts.1.id",
        ),
        (
            "localities:\n  - {key: vn:x, kind: village, name: X, quote: abc}\n"
            "branches:\n  - {key: vn:x, kind: other, name: X, quote: abc}\n",
            "branches.0.key",
        ),
        (
            "facts:\n  - {id: f, metric: poverty_rate, locality: vn2004:17, value: 150, "
            "quote: abc}\n",
            "facts.0.value",
        ),
        (
            "facts:\n  - {id: f, metric: households, locality: vn2004:17, value: 6.799, "
            "quote: abc}\n",
            "facts.0.value",
        ),
    ],
)
def test_a_fault_across_fields_names_the_field_to_correct(records: str, field: str) -> None:
    """From a write audit: a repeated id was named by the file, a poverty rate of 150 by
    its record, where an editor needs the field."""
    with pytest.raises(ImportRejected) as refusal:
        parse_article_yaml(BASE + records, "t")
    assert fields_of(refusal.value) == {field}
