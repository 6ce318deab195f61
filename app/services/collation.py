"""Vietnamese alphabetical order, as a key that sorts by its bytes.

`sort=name` orders by this key, stored beside each name (name_order) and indexed, so that
both databases give the same order from an index, whatever the collation of a
PostgreSQL database. Code points put "Đ" after "Z" and "Ă", "Â", "Ê", "Ô", "Ơ", "Ư"
after every Latin letter; dictionaries order a ă â b c d đ e ê ... o ô ơ ... u ư ..., and
tones after the letters: a word's tones decide only between names of the same letters
(ngang, huyền, hỏi, ngã, sắc, nặng: "ma" < "mà" < "mả" < "mã" < "má" < "mạ"). Numbers
are read as numbers ("Thôn 2" before "Thôn 10"), and case is ignored.

The key is made of [0-9a-z] only, in which byte order and the usual collations (C, or a
language's, such as en_US.UTF-8) agree: the letters' codes, then a separator lower than
any, then one tone digit per letter.
"""

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
_SPACE = _code(1)  # spaces, punctuation and symbols: one word break
_NUMBER = 2  # then a number's count of digits (a code), then its digits (codes 2-11)
_LETTER = {letter: _code(12 + rank) for rank, letter in enumerate(_ALPHABET)}
_OTHER = "zz"  # a letter of another script: by its code point (four base-36 digits)


@lru_cache(maxsize=4096)
def _letter_and_tone(char: str) -> tuple[str, str]:
    decomposed = unicodedata.normalize("NFD", char)
    letter = decomposed[0] + "".join(m for m in decomposed[1:] if m in _LETTER_MARKS)
    tone = next((_TONES[m] for m in decomposed[1:] if m in _TONES), "0")
    return unicodedata.normalize("NFC", letter), tone


def name_order(name: str) -> str:
    """The key of a name in Vietnamese alphabetical order (see the module's docstring),
    cut to the column's width (a longer name is ordered by what is kept, then by id)."""
    text = unicodedata.normalize("NFC", name).lower()
    letters: list[str] = []
    tones: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char.isdecimal() and char.isascii():
            end = index
            while end < len(text) and text[end].isdecimal() and text[end].isascii():
                end += 1
            digits = text[index:end].lstrip("0") or "0"
            letters.append(_code(_NUMBER) + _code(min(len(digits), 1295)))
            letters.extend(_code(_NUMBER + int(d)) for d in digits)
            index = end
            continue
        index += 1
        letter, tone = _letter_and_tone(char)
        if letter in _LETTER:
            letters.append(_LETTER[letter])
            tones.append(tone)
        elif char.isalpha():
            letters.append(_OTHER + _code(ord(char) // 1296) + _code(ord(char) % 1296))
            tones.append("0")
        elif letters and letters[-1] != _SPACE:
            letters.append(_SPACE)
    while letters and letters[-1] == _SPACE:
        letters.pop()
    return ("".join(letters) + _END + "".join(tones))[:NAME_ORDER_LENGTH]
