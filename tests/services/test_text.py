"""Searches of organizations by their committees' names (app.services.text)."""

import unicodedata

import pytest

from app.services.text import committees_as_organizations


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
