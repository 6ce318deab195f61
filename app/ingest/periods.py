"""Periods as the texts give them: '2023', '2019-Q1', '2017-01/2017-07', '2018-09-07/'."""

import calendar
import re
from datetime import date

from app.days import EARLIEST_DAY, LATEST_DAY

_YEAR = re.compile(r"^(\d{4})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


class PeriodError(ValueError):
    pass


def _bounds(token: str) -> tuple[date, date]:
    """The first and last day a token covers, within the days the service takes."""
    first, last = _days_of(token)
    if first < EARLIEST_DAY or last > LATEST_DAY:
        raise PeriodError(f"{token!r} is not from {EARLIEST_DAY} to {LATEST_DAY}")
    return first, last


def _days_of(token: str) -> tuple[date, date]:
    try:
        if m := _YEAR.match(token):
            year = int(m[1])
            return date(year, 1, 1), date(year, 12, 31)
        if m := _QUARTER.match(token):
            year, quarter = int(m[1]), int(m[2])
            first_month = 3 * (quarter - 1) + 1
            last_month = first_month + 2
            last_day = calendar.monthrange(year, last_month)[1]
            return date(year, first_month, 1), date(year, last_month, last_day)
        if m := _MONTH.match(token):
            year, month = int(m[1]), int(m[2])
            return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
        if m := _DAY.match(token):
            day = date(int(m[1]), int(m[2]), int(m[3]))
            return day, day
    except ValueError as exc:  # 2023-02-30, month 13
        raise PeriodError(f"{token!r} is not a real date ({exc})") from None
    raise PeriodError(
        f"{token!r} is not a period: use 2023, 2019-Q1, 2017-07, 2017-07-31 or A/B ranges"
    )


def parse_period(text: str) -> tuple[date | None, date | None]:
    """Parse a period into (start, end), either of which may be unknown (None)."""
    text = text.strip()
    if "/" not in text:
        return _bounds(text)
    left, right = (part.strip() for part in text.split("/", 1))
    if not left and not right:
        raise PeriodError("a period needs at least one end")
    start = _bounds(left)[0] if left else None
    end = _bounds(right)[1] if right else None
    if start and end and start > end:
        raise PeriodError(f"{text!r} ends before it starts")
    return start, end
