"""Searches of organizations by their committees' names, and the checks of quotes and names
(app.services.text)."""

import unicodedata

import pytest

from app.services.text import committees_as_organizations, is_clause, misleading_character


@pytest.mark.parametrize(
    ("q", "searched"),
    [
        ("Tỉnh ủy Yên Bái", "đảng bộ tỉnh yên bái"),
        ("Thành ủy Hà Nội", "đảng bộ thành phố hà nội"),
        ("Quận ủy Ba Đình", "đảng bộ quận ba đình"),
        ("Thị ủy Nghĩa Lộ", "đảng bộ thị xã nghĩa lộ"),
        ("huyen uy luc yen", "dang bo huyen luc yen"),  # typed without diacritics
        ("Huyen ủy Lục Yên", "đảng bộ huyện lục yên"),  # "ủy" typed with its accent
        ("ĐẢNG UỶ, xã Mai Hạ", "đảng bộ xã mai hạ"),
        (unicodedata.normalize("NFD", "Đảng ủy xã Mai Hạ"), "đảng bộ xã mai hạ"),
        ("Chi ủy chi bộ thôn Bó", "chi bộ chi bộ thôn bó"),
    ],
)
def test_a_committees_name_is_searched_as_its_organizations(q: str, searched: str) -> None:
    assert committees_as_organizations(q) == searched


@pytest.mark.parametrize("q", ["Ủy ban nhân dân xã", "ủy", "Mai Hạ ủy", "Đảng bộ Lục Yên"])
def test_a_search_without_a_committees_name_is_as_typed(q: str) -> None:
    assert committees_as_organizations(q) == q


@pytest.mark.parametrize(
    ("quote", "clause"),
    [
        ("có 9", True),
        ("a b", True),  # three characters, letters among them
        ("...", False),  # no letter or digit: in any article
        ("- -", False),
        ("ab\u00a0", False),  # two characters once the spaces are folded
        ("  ệ  ", False),
    ],
)
def test_a_clause_has_three_characters_a_letter_or_a_digit_among_them(
    quote: str, clause: bool
) -> None:
    """From a mutation audit: a quote proves a record only if not every text holds it."""
    assert is_clause(quote) is clause


@pytest.mark.parametrize("mark", ["\u202a", "\u202e", "\u2066", "\u2069", "\x1b", "\x85"])
def test_a_text_direction_or_control_character_is_found(mark: str) -> None:
    """U+202E shows "abc" as "cba" (from a mutation audit: the bidi ranges went unnoticed)."""
    assert misleading_character(f"Chi bộ {mark}xóm") == mark
    assert misleading_character("Chi bộ\u00a0xóm Tiền Phong") is None
