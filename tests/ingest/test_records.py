"""The record format refuses what would silently lose or invent data."""

import pytest

from app.ingest.files import parse_article_yaml
from app.ingest.loader import ImportRejected

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
    assert "branches.0" in fields_of(refused.value)


def test_an_unknown_metric_is_refused() -> None:
    fact = "facts:\n  - {id: f, metric: happiness, locality: vn2004:17, value: 3, quote: abc}\n"
    with pytest.raises(ImportRejected) as refused:
        parse_article_yaml(BASE + fact, "t")
    assert "facts.0" in fields_of(refused.value)


def test_a_group_of_six_is_valid_without_a_name() -> None:
    article = parse_article_yaml(
        BASE + "branches:\n  - {key: org:x, kind: other, group_size: 6, quote: abc}\n", "t"
    )
    assert article.branches[0].name is None and article.branches[0].group_size == 6
