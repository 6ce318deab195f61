from datetime import date

import pytest

from app.ingest.periods import PeriodError, parse_period


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2023", date(2023, 1, 1), date(2023, 12, 31)),
        ("2019-Q1", date(2019, 1, 1), date(2019, 3, 31)),  # quý I/2019
        ("2017-01/2017-07", date(2017, 1, 1), date(2017, 7, 31)),  # 7 tháng đầu năm 2017
        ("2016/2017", date(2016, 1, 1), date(2017, 12, 31)),
        ("2018-09-07/", date(2018, 9, 7), None),
        ("/2016-12-31", None, date(2016, 12, 31)),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29)),
    ],
)
def test_periods_as_the_texts_give_them(text: str, start: date | None, end: date | None) -> None:
    assert parse_period(text) == (start, end)


@pytest.mark.parametrize(
    "text",
    ["2023-02-30", "2019-Q5", "2018/2017", "/", "last year", "2023-13", "0001", "9999-12", "1899/"],
)
def test_impossible_periods_are_refused(text: str) -> None:
    with pytest.raises(PeriodError):
        parse_period(text)


def test_the_service_s_first_and_last_years_are_periods() -> None:
    assert parse_period("1900/2100") == (date(1900, 1, 1), date(2100, 12, 31))
