"""The days the service takes, in query parameters, request bodies and record files alike:
`YYYY-MM-DD`, from 1900-01-01 to 2100-12-31.

Left to pydantic, a number is read as a Unix time (`as_of=1700000000`, or `0`), silently
meaning another day, and any year from 1 to 9999 is a day: a count "as of 9999-12-31"
would be every branch's latest for ever. JSON Schema has no bounds for a date (pydantic
wrote Query(ge=, le=) as `ge` and `le` keys, which validators and client generators
ignore): the pattern says the years.
"""

import re
from datetime import date
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(2100, 12, 31)
DAY_PATTERN = r"^(19\d{2}|20\d{2}|2100)-\d{2}-\d{2}$"
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_day(value: object) -> object:
    # A date as such comes from Python (a YAML file's `2024-03-02`, a merged PATCH).
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DAY.fullmatch(value)):
        return value
    raise ValueError("expected a day as YYYY-MM-DD")


def _within_range(day: date) -> date:
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise ValueError(f"expected a day from {EARLIEST_DAY} to {LATEST_DAY}")
    return day


Day = Annotated[
    date,
    BeforeValidator(_iso_day),
    AfterValidator(_within_range),
    WithJsonSchema({"type": "string", "format": "date", "pattern": DAY_PATTERN}),
]
