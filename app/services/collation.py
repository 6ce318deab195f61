"""Vietnamese alphabetical order, as a key that sorts by its bytes.

`sort=name` orders by this key, stored beside each name (name_order) and indexed, so that
both databases give the same order from an index, whatever the collation of a
PostgreSQL database. Code points put "Đ" after "Z" and "Ă", "Â", "Ê", "Ô", "Ơ", "Ư"
after every Latin letter; dictionaries order a ă â b c d đ e ê ... o ô ơ ... u ư ..., and
tones after the letters: a word's tones decide only between names of the same letters
(ngang, huyền, hỏi, ngã, sắc, nặng: "ma" < "mà" < "mả" < "mã" < "má" < "mạ"). Numbers
are read as numbers ("Thôn 2" before "Thôn 10"), and case is ignored.

The key is the letters' codes, then a separator lower than any, then one tone digit per
syllable (wherever its mark sits: "Hoà" and "Hòa" are one name). It is made of [0-9a-z]
only, and compared in the C collation on PostgreSQL (the column's own), as by its bytes
on SQLite. A change to the key needs a migration that computes every stored key again
(as 0019 did).
"""

import re
import string
import unicodedata
from functools import lru_cache

from app.models.base import NAME_ORDER_LENGTH

_DIGITS36 = string.digits + string.ascii_lowercase
_ALPHABET = tuple(unicodedata.normalize("NFC", "aăâbcdđeêfghijklmnoôơpqrstuưvwxyz"))
# The marks that make a letter of its own (ă â ê ô ơ ư), and the five tones in order.
_LETTER_MARKS = frozenset("\u0306\u0302\u031b")
_TONES = {"\u0300": "1", "\u0309": "2", "\u0303": "3", "\u0301": "4", "\u0323": "5"}


def _code(rank: int) -> str:
    return _DIGITS36[rank // 36] + _DIGITS36[rank % 36]


_END = "00"  # lower than any code: "an" before "anh", before "an b"
_SPACE = _code(1)  # spaces, punctuation and symbols between words: one word break
_NUMBER = 2  # then a number's count of digits (a code), then its digits (codes 2-11)
_LETTER = {letter: _code(12 + rank) for rank, letter in enumerate(_ALPHABET)}
_OTHER = "zz"  # a letter of another script: by its code point (four base-36 digits)


@lru_cache(maxsize=4096)
def _letter_and_tone(char: str) -> tuple[str, str]:
    decomposed = unicodedata.normalize("NFD", char)
    letter = decomposed[0] + "".join(m for m in decomposed[1:] if m in _LETTER_MARKS)
    tone = next((_TONES[m] for m in decomposed[1:] if m in _TONES), "0")
    return unicodedata.normalize("NFC", letter), tone


# A number (ASCII digits), or a syllable: a run of letters. What stands between two is a
# word break.
_TOKENS = re.compile(r"[0-9]+|[^\W\d_]+")


def name_order(name: str) -> str:
    """The key of a name in Vietnamese alphabetical order (see the module's docstring),
    cut to the column's width (a longer name is ordered by what is kept, then by id)."""
    # "Ð" (U+00D0, Icelandic eth) is often typed for "Đ".
    text = unicodedata.normalize("NFC", name).lower().replace("ð", "đ")
    letters: list[str] = []
    tones: list[str] = []
    end = 0
    for token in _TOKENS.finditer(text):
        if letters and token.start() > end:
            letters.append(_SPACE)
        end = token.end()
        word = token.group()
        # ASCII only: "²" or "①" are digits to isdigit() and no number int() reads; they
        # pass _TOKENS as letters and are ordered as a letter of another script.
        if word.isascii() and word.isdigit():
            digits = word.lstrip("0") or "0"
            letters.append(_code(_NUMBER) + _code(min(len(digits), 1295)))
            letters.extend(_code(_NUMBER + int(d)) for d in digits)
            continue
        # One tone a syllable, whichever of its vowels carries the mark ("Hoà", "Hòa").
        tone = "0"
        for char in word:
            letter, mark = _letter_and_tone(char)
            code = _LETTER.get(letter)
            if code is None:
                code = _OTHER + _code(ord(char) // 1296) + _code(ord(char) % 1296)
            letters.append(code)
            tone = mark if tone == "0" else tone
        tones.append(tone)
    return ("".join(letters) + _END + "".join(tones))[:NAME_ORDER_LENGTH]
