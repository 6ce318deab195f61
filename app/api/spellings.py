"""One spelling per value in a URL: integers in decimal digits, booleans true or false.

Pydantic reads an integer from text as Python does and more: "1_0", "+1", " 1 ", "01"
and "1.0" are all read, so /branches/1.0 served branch 1 and ?limit=1_0 a page of 10 under
URLs of their own (each kept apart by the answer cache, each a different ETag'd page
to a shared cache). It reads a boolean from "yes", "on", "1", "t" and more, where
`risk=` takes only true and false. Anything else is refused, as other malformed values
are.

Each validator goes after the parameter's Query or Path in its Annotated: the bounds
then stay JSON Schema's minimum and maximum (before them, pydantic writes them as
unknown keywords).
"""

import re

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

# No leading zero either: /branches/01 is /branches/1 under another URL.
_DECIMAL = re.compile(r"0|-?[1-9][0-9]*")


def _decimal_digits(value: object) -> object:
    if isinstance(value, str) and not _DECIMAL.fullmatch(value):
        raise PydanticCustomError(
            "int_parsing", "Input should be a whole number in decimal digits, like 12"
        )
    return value


def _true_or_false(value: object) -> object:
    if isinstance(value, str) and value not in ("true", "false"):
        raise PydanticCustomError("bool_parsing", "Input should be true or false")
    return value


DIGITS_ONLY = BeforeValidator(_decimal_digits)
TRUE_OR_FALSE = BeforeValidator(_true_or_false)
