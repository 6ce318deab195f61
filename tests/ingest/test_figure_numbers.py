"""A record's value must be a number its figure prints, read as Vietnamese texts write
numbers: a journalist checks the one against the other."""

import pytest

from app.ingest.figure_numbers import printed_numbers, unprinted


@pytest.mark.parametrize(
    ("figure", "numbers"),
    [
        ("216", {216}),
        ("6.799", {6799, 6.799}),  # a dot groups thousands (or, in English, decimals)
        ("1,5%", {1.5}),  # a comma marks decimals
        ("2.000.000", {2_000_000}),
        ("28 triệu", {28, 28_000_000}),
        ("24-25 triệu", {24, 25, 24_000_000, 25_000_000}),
        ("khoảng từ 20% đến 40%", {20, 40}),
        ("5/10", {5, 10}),
        ("trên 90%", {90}),
        ("một", set()),  # in words: not checked
    ],
)
def test_the_numbers_a_figure_prints(figure: str, numbers: set[float]) -> None:
    assert printed_numbers(figure) == numbers


def test_a_value_the_figure_does_not_print_is_named() -> None:
    assert unprinted("6.799", 6799, None) is None
    assert unprinted("24-25 triệu", 24_000_000, 25_000_000) is None
    assert unprinted("một", 1, None) is None and unprinted(None, 3, None) is None
    assert unprinted("9", 8, None) == ("value", "8 is not a number the figure '9' prints (9)")
    assert unprinted("24-25", 24, 26) == (
        "value_max",
        "26 is not a number the figure '24-25' prints (24, 25)",
    )
