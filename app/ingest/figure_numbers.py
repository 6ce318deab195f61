"""The numbers a figure prints, so that a record's value is one a reader can find in it.

A figure is the exact characters of the quote that print the number ("6.799", "28
triệu", "24-25", "trên 90%"). Its value must be printed there: a journalist checks the
number against the sentence. Read as Vietnamese texts write numbers, and leniently where
they are ambiguous: "6.799" is 6,799 (a dot groups thousands) or 6.799, "1,5" is 1.5 (a
comma is the decimal mark) or 15 hundred in an English grouping; "28 triệu" is 28 or 28
million. A figure in words ("một", "hai") prints no digits and is not checked.
"""

import re
import unicodedata

from app.models.vocab import METRIC_RANGE_DEFAULT, METRIC_RANGES, METRIC_UNITS
from app.services.text import normalize_quote_text

# A number: thousands grouped by dots or commas, or digits with a decimal part.
_NUMBER = re.compile(r"\d{1,3}(?:[.,]\d{3})+(?![\d])|\d+(?:[.,]\d+)?")
_SCALES = {"nghìn": 1e3, "ngàn": 1e3, "triệu": 1e6, "tỷ": 1e9, "tỉ": 1e9}
_SCALE_WORD = re.compile(r"(?<!\w)(" + "|".join(_SCALES) + r")(?!\w)")


def printed_numbers(figure: str) -> set[float]:
    """Every value the figure's digits may stand for (each reading, and each scaled by a
    scale word the figure prints: "24-25 triệu" is 24 to 25 million)."""
    figure = unicodedata.normalize("NFC", figure)
    readings: set[float] = set()
    for match in _NUMBER.finditer(figure):
        readings |= _readings(match.group())
    scales = {_SCALES[word] for word in _SCALE_WORD.findall(figure)}
    return readings | {reading * scale for reading in readings for scale in scales}


def _readings(token: str) -> set[float]:
    """A number's readings: a dot or a comma may group thousands, or mark decimals."""
    readings = set()
    for grouping, decimal in ((".", ","), (",", ".")):
        parts = token.split(decimal)
        if len(parts) > 2 or (len(parts) == 2 and grouping in parts[1]):
            continue
        groups = parts[0].split(grouping)
        if all(len(group) == 3 for group in groups[1:]):
            fraction = "." + parts[1] if len(parts) == 2 else ""
            readings.add(float("".join(groups) + fraction))
    return readings


# "5/10 chi bộ", "11/19 tiêu chí": a part of a whole, not a range.
_PART_OF_WHOLE = re.compile(r"\d\s*/\s*\d")


def unprinted(
    figure: str | None,
    value: float | None,
    value_max: float | None,
    out_of: float | None = None,
    *,
    figure_optional: bool = False,
) -> tuple[str, str] | None:
    """("figure", "value", "value_max" or "out_of", why) for the first that is not as
    the figure prints it; None when each is, or when there is nothing to compare (no
    value, a figure in words). A value needs its figure: without one it is a number the
    text does not print ("not reported" is a null value), unless `figure_optional`: a
    flag (a fact the text states, 1, such as "at risk"), or generated benchmark data."""
    if value is None:
        return None
    if not figure:
        if figure_optional:
            return None
        return "figure", "a value needs the figure that prints it (not printed: value null)"
    if value_max is not None and out_of is None and _PART_OF_WHOLE.search(figure):
        return "value_max", (
            f"the figure {figure!r} prints a part of a whole: the whole is out_of, not the "
            "top of a range"
        )
    printed = printed_numbers(figure)
    if not printed:
        return None
    for name, number in (("value", value), ("value_max", value_max), ("out_of", out_of)):
        if number is not None and not _among(number, printed):
            shown = ", ".join(_plain(n) for n in sorted(printed))
            return name, f"{_plain(number)} is not a number the figure {figure!r} prints ({shown})"
    return None


def part_exceeds_whole(value: float | None, value_max: float | None, out_of: float | None) -> bool:
    """Whether a part (the value, or the top of its range) is more than the whole it is
    said to be out of ("5/10": 5 of 10)."""
    if value is None or out_of is None:
        return False
    return max(value, value_max if value_max is not None else value) > out_of


def outside_metric_range(
    metric: str | None, value: float | None, value_max: float | None
) -> str | None:
    """Why the value, or the top of its range, is not one its metric can be (a rate of
    120%, a count of -3), or None."""
    if metric is None or value is None:
        return None
    least, most = METRIC_RANGES.get(metric, METRIC_RANGE_DEFAULT)
    unit = METRIC_UNITS[metric]
    if value < least:
        return f"{metric} is at least {least:g} ({unit}), not {value:g}"
    top = value_max if value_max is not None else value
    if most is not None and top > most:
        return f"{metric} is at most {most:g} ({unit}), not {top:g}"
    if unit in WHOLE_UNITS and not all(float(v).is_integer() for v in (value, top)):
        # "6.799 hộ" is 6,799 households (a dot groups thousands), never 6.799.
        return f"{metric} counts whole {unit}, not {top if top % 1 else value:g}"
    return None


# Units counted one by one: a value of them is a whole number.
WHOLE_UNITS = frozenset({"households", "organizations", "persons", "members", "criteria", "day"})


def flag_fault(
    metric: str | None, value_max: float | None, out_of: float | None, qualifier: str
) -> tuple[str, str] | None:
    """The field, and why, of a flag (a metric whose unit is `flag`: a source says it,
    value 1) given as a range, a part of a whole or a qualified number; or None."""
    if metric is None or METRIC_UNITS.get(metric) != "flag":
        return None
    if value_max is not None:
        return "value_max", f"{metric} is a flag (1: a source says it), not a range"
    if out_of is not None:
        return "out_of", f"{metric} is a flag (1: a source says it), not a part of a whole"
    if qualifier != "exact":
        return "qualifier", f"{metric} is a flag (1: a source says it): exact, not {qualifier}"
    return None


def _among(value: float, printed: set[float]) -> bool:
    return any(abs(value - n) <= 1e-9 * max(1.0, abs(n)) for n in printed)


def _plain(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else repr(float(number))


# The words a figure qualifies its number with, and the qualifiers each allows. A word
# qualifies the number it stands before ("dưới 5", "khoảng từ 20% đến 40%"), or, for
# "trở lên" and "trở xuống", the number before it ("150 đảng viên trở lên"). Longer
# phrases are read first ("không dưới" is at least, "trên dưới" about). The list is of
# the common words, not every one: a figure whose words it does not know takes any
# qualifier, as does one whose qualifying words stand outside it.
_ABOVE = ("more_than", "at_least")
_BELOW = ("less_than", "at_most")
_QUALIFYING_WORDS: dict[str, tuple[str, ...]] = {
    "trên dưới": ("approximate",),
    "hơn kém": ("approximate",),
    "không dưới": ("at_least",),
    "không ít hơn": ("at_least",),
    "không quá": ("at_most",),
    "không vượt quá": ("at_most",),
    "không đến": ("less_than",),
    "không tới": ("less_than",),
    "chưa đến": ("less_than",),
    "chưa tới": ("less_than",),
    "chưa đầy": ("less_than",),
    "ít nhất": ("at_least",),
    "tối thiểu": ("at_least",),
    "tối đa": ("at_most",),
    "nhiều nhất": ("at_most",),
    "ít hơn": ("less_than",),
    "nhiều hơn": ("more_than",),
    "trên": _ABOVE,
    "hơn": _ABOVE,
    "dưới": _BELOW,
    "khoảng": ("approximate",),
    "chừng": ("approximate",),
    "tầm": ("approximate",),
    "cỡ": ("approximate",),
    "xấp xỉ": ("approximate",),
    "ước tính": ("approximate",),
    "ước": ("approximate",),
    "gần": ("approximate", *_BELOW),
    "ngót": ("approximate", *_BELOW),
}
_AFTER_WORDS: dict[str, tuple[str, ...]] = {"trở lên": _ABOVE, "trở xuống": _BELOW}


def _words(words: dict[str, tuple[str, ...]]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


# The word right before a number (then "từ", "from"); "12 trên 12" is 12 out of 12.
_WORD_BEFORE = re.compile(
    rf"(?<![\w.,])(\d[\d.,]*\s*)?({_words(_QUALIFYING_WORDS)})(?:\s+từ)?\s*$", re.IGNORECASE
)
# A few words ("đảng viên") after a number, then the word.
_WORD_AFTER = re.compile(
    rf"^(?:\s+[^\W\d]+){{0,3}}\s+({_words(_AFTER_WORDS)})(?!\w)", re.IGNORECASE
)
# A qualifying word anywhere: in a figure in words ("hơn một"), the number's.
_ANY_WORD = re.compile(
    rf"(?<!\w)({_words(_QUALIFYING_WORDS)}|{_words(_AFTER_WORDS)})(?!\w)", re.IGNORECASE
)


# A qualifier qualifies a number: an event whose number is not reported has none.
UNREPORTED_UNQUALIFIED = "an unreported value (null) takes no qualifier: leave it out"


def misqualified(figure: str | None, value: float | None, qualifier: str | None) -> str | None:
    """Why the qualifier is not one the figure's words give its value ("dưới 5" read as
    exactly 5 would count a branch of four as one of five), or None when it is, or when
    no word of the figure qualifies the value: where the figure prints the value more
    than once ("12 trên 12", "3 chi bộ có dưới 3 đảng viên"), when any of them is
    unqualified. A range is qualified by the words of its first number ("khoảng từ 20%
    đến 40%"), the top of a range by them too."""
    if value is None or not figure:
        return None
    figure = normalize_quote_text(figure)
    scales = {_SCALES[word] for word in _SCALE_WORD.findall(figure)}
    words: list[str] = []
    if not _NUMBER.search(figure):  # in words: any qualifying word is the number's
        words = [match.group(1).lower() for match in _ANY_WORD.finditer(figure)]
    for number in _NUMBER.finditer(figure):
        readings = _readings(number.group())
        readings |= {reading * scale for reading in readings for scale in scales}
        if not _among(value, readings):
            continue
        before = _WORD_BEFORE.search(figure[: number.start()])
        after = _WORD_AFTER.search(figure[number.end() :])
        if before and not before.group(1):
            words.append(before.group(2).lower())
        elif after:
            words.append(after.group(1).lower())
        else:
            return None  # the value printed without a word that qualifies it
    allowed = {word: _QUALIFYING_WORDS.get(word) or _AFTER_WORDS[word] for word in words}
    if not allowed or any(qualifier in given for given in allowed.values()):
        return None
    named = ", ".join(f"{word!r}: {' or '.join(q)}" for word, q in allowed.items())
    return f"the figure {figure!r} qualifies its value ({named}), not {qualifier}"


def misqualified_in_quote(
    quote: str, figure: str | None, value: float | None, qualifier: str | None
) -> str | None:
    """misqualified, and the same of the figure read with its quote's words around it:
    "5" cut from "dưới 5 đảng viên" and given as exactly 5 is refused as "dưới 5" is.
    Where the quote prints the figure more than once, when any of them is unqualified
    (as misqualified), or only inside other numbers (the "5" of "15"), it is not."""
    if why := misqualified(figure, value, qualifier):
        return why
    if value is None or not figure or not _NUMBER.search(figure):
        return None
    quote, figure = normalize_quote_text(quote), normalize_quote_text(figure)
    read_as = None
    for match in re.finditer(re.escape(figure), quote):
        start, end = match.span()
        if _inside_a_number(quote, start, end):
            continue
        wider = figure
        before = _WORD_BEFORE.search(quote[:start])
        if before and not before.group(1):
            wider = quote[before.start(2) : start] + wider
        if after := _WORD_AFTER.search(quote[end:]):
            wider += quote[end : end + after.end()]
        why = misqualified(wider, value, qualifier)
        if why is None:
            return None
        read_as = read_as or why
    if read_as is None:
        return None
    return f"{read_as}: the quote's words around the figure {figure!r}; give them in the figure"


def _inside_a_number(text: str, start: int, end: int) -> bool:
    """text[start:end] is part of a longer number or word (the "5" of "15", "2,5", "5a")."""
    before = text[start - 1] if start else ""
    after = text[end] if end < len(text) else ""
    joined_before = before.isalnum() or (before in ".," and text[start - 2 : start - 1].isdigit())
    joined_after = after.isalnum() or (after in ".," and text[end + 1 : end + 2].isdigit())
    return joined_before or joined_after
