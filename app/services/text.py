"""Vietnamese text folding for search, and quote matching for provenance."""

import re
import unicodedata

_WHITESPACE = re.compile(r"\s+")
# Zero-width and formatting characters that a pasted query may carry invisibly.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_D = str.maketrans("đĐðÐ", "dDdD")


def normalize_quote_text(text: str) -> str:
    """NFC and one space for every run of whitespace (non-breaking spaces included)."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


# A quote shorter than this, folded, proves nothing ("   " folds to "", which every
# text contains; "ệ" is in most).
QUOTE_MIN_CHARS = 3


def is_clause(quote: str) -> bool:
    """The quote can prove a record: folded, 3 characters or more, a letter or a digit
    among them (whitespace, a lone letter or " . " is found in any article)."""
    folded = normalize_quote_text(quote)
    return len(folded) >= QUOTE_MIN_CHARS and any(ch.isalnum() for ch in folded)


def is_visible(text: str) -> bool:
    """The text shows something: a letter, digit, punctuation mark or symbol (not only
    spaces, or marks such as U+200B that print nothing)."""
    return any(unicodedata.category(ch)[0] in "LNPS" for ch in text)


def fold(text: str) -> str:
    """Fold for diacritic-insensitive search: 'Đảng bộ Lục Yên' -> 'dang bo luc yen'."""
    text = text.translate(_INVISIBLE)
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    # Ð (U+00D0), the Icelandic eth, stands for Đ in text from legacy input methods.
    stripped = stripped.translate(_D)
    return _WHITESPACE.sub(" ", stripped.casefold()).strip()


# Letters and digits: a word of a search, of a place's search words ("_" apart: it sorts
# apart in some collations).
_WORD = re.compile(r"[^\W_]+")


def search_words(text: str) -> list[str]:
    """The distinct words of a text ('xa thu nghiem 0105'), in order: punctuation pasted
    with a name ('Khéo Lẹng,', 'Thào-Chư-Phìn') is no part of any."""
    return list(dict.fromkeys(_WORD.findall(text)))


# A committee (ủy) leads its organization (bộ), and news names the one for the other:
# "Đảng ủy xã Mai Hạ" for Đảng bộ xã Mai Hạ, "Huyện ủy Lục Yên" for Đảng bộ huyện Lục
# Yên. By a committee word's folded first word: its organization's words, with their
# diacritics and without.
_ORGANIZATION_OF_COMMITTEE = {
    "dang": ("đảng bộ", "dang bo"),
    "chi": ("chi bộ", "chi bo"),
    "tinh": ("đảng bộ tỉnh", "dang bo tinh"),
    "thanh": ("đảng bộ thành phố", "dang bo thanh pho"),
    "huyen": ("đảng bộ huyện", "dang bo huyen"),
    "quan": ("đảng bộ quận", "dang bo quan"),
    "thi": ("đảng bộ thị xã", "dang bo thi xa"),
}


def committees_as_organizations(q: str) -> str:
    """A search of organizations with each committee's name as its organization's
    ("Huyện ủy Mai Sơn": "đảng bộ huyện mai sơn"), typed with diacritics or without
    ("huyen uy", "HUYỆN UỶ"); without a committee's name, q itself."""
    words = _WORD.findall(lower_exact(q))
    searched: list[str] = []
    position = 0
    while position < len(words):
        word = words[position]
        following = words[position + 1] if position + 1 < len(words) else ""
        names = _ORGANIZATION_OF_COMMITTEE.get(fold(word)) if fold(following) == "uy" else None
        if names is None:
            searched.append(word)
            position += 1
        else:  # the committee's two words, said as its organization's
            named = word + following
            searched.append(names[named == fold(named)])
            position += 2
    # Each committee named made its two words one entry.
    return " ".join(searched) if len(searched) < len(words) else q


def lower_exact(text: str) -> str:
    """Lowercase with diacritics kept (NFC), for ranking matches with the diacritics typed first."""
    return _WHITESPACE.sub(
        " ", unicodedata.normalize("NFC", text.translate(_INVISIBLE)).casefold()
    ).strip()


# Characters no name needs and a reader is misled by: controls (an ESC colours a
# terminal's audit log) and the bidirectional overrides and isolates (U+202E shows
# "abc" as "cba"). Line breaks and tabs apart: a note may hold them (LINE_BREAKS).
_CONTROLS = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile("[\t\n\r]")


def misleading_character(text: str, *, one_line: bool = True) -> str | None:
    """The first control or text-direction character of the text (a line break or tab
    too when it is to be `one_line`), or None."""
    found = _CONTROLS.search(text) or (_LINE_BREAKS.search(text) if one_line else None)
    return found.group() if found else None
