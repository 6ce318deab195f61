"""Branches explained together (a bulk export's batch) are each explained as alone."""

from datetime import date
from typing import Any

import pytest
from sqlalchemy import Select
from sqlmodel import col, select

from app.models import Branch
from app.reader import Reader
from app.services.risk_explain import explain_risk, explain_risks
from app.services.risk_rules import RiskRules


@pytest.mark.parametrize("day", [date(2017, 1, 1), date(2019, 1, 1), date.today()])
def test_each_branch_explained_together_is_explained_as_alone(reader: Reader, day: date) -> None:
    ids = [i for (i,) in reader.rows(_every_branch_newest_first)]
    rules = RiskRules(min_members=20)  # more criteria met, more evidence to mix up
    together = explain_risks(reader, [*ids, 2_000_000_000], rules, day)
    assert [r["branch_id"] for r in together] == ids  # in the order asked, the missing left out
    assert together == [explain_risk(reader, i, rules, day) for i in ids]
    assert any(c["evidence"] for r in together for c in r["criteria"] if c["status"] == "met")


def _every_branch_newest_first() -> Select[Any]:
    return select(col(Branch.id)).order_by(col(Branch.id).desc())
