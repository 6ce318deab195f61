"""A record's value must be a number its figure prints, read as Vietnamese texts write
numbers: a journalist checks the one against the other."""

import pytest

from app.ingest.figure_numbers import (
    misqualified,
    misqualified_in_quote,
    part_exceeds_whole,
    printed_numbers,
    unprinted,
)


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
    assert unprinted("một", 1, None) is None and unprinted(None, None, None) is None
    # A value no figure prints is a number the text does not give (a flag needs none).
    assert unprinted(None, 3, None) == (
        "figure",
        "a value needs the figure that prints it (not printed: value null)",
    )
    assert unprinted(None, 1, None, figure_optional=True) is None
    # "11/19": a part of a whole, not a range.
    assert unprinted("11/19", 11, 19)[0] == "value_max"  # type: ignore[index]
    assert unprinted("11/19", 11, None, 19) is None
    assert unprinted("9", 8, None) == ("value", "8 is not a number the figure '9' prints (9)")
    assert unprinted("24-25", 24, 26) == (
        "value_max",
        "26 is not a number the figure '24-25' prints (24, 25)",
    )


def test_the_whole_a_part_is_out_of_must_be_printed_too() -> None:
    assert unprinted("5/10", 5, None, 10) is None
    assert unprinted("5/10", 5, None, 12) == (
        "out_of",
        "12 is not a number the figure '5/10' prints (5, 10)",
    )


@pytest.mark.parametrize(
    ("value", "value_max", "out_of", "exceeds"),
    [
        (5, None, 10, False),
        (10, None, 10, False),  # all of them
        (11, None, 10, True),
        (5, 12, 10, True),  # the top of a range counts
        (5, None, None, False),
        (None, None, 10, False),  # nothing to compare
    ],
)
def test_a_part_is_not_more_than_its_whole(
    value: float | None, value_max: float | None, out_of: float | None, exceeds: bool
) -> None:
    assert part_exceeds_whole(value, value_max, out_of) is exceeds


@pytest.mark.parametrize(
    ("figure", "value", "allowed"),
    [
        ("dưới 5", 5, {"less_than", "at_most"}),
        ("Trên 90%", 90, {"more_than", "at_least"}),
        ("hơn 28 triệu", 28_000_000, {"more_than", "at_least"}),
        ("150 đảng viên trở lên", 150, {"more_than", "at_least"}),
        ("khoảng từ 20% đến 40%", 20, {"approximate"}),
        ("không dưới 20", 20, {"at_least"}),  # "not under": a longer phrase
        ("không quá 3", 3, {"at_most"}),
        ("chưa đến 10", 10, {"less_than"}),
        ("trên dưới 30", 30, {"approximate"}),  # "above below": about
        ("gần 100", 100, {"approximate", "less_than", "at_most"}),
        ("tầm 40 đảng viên", 40, {"approximate"}),  # colloquial "about"
        ("cỡ 15%", 15, {"approximate"}),
        ("hơn một", 1, {"more_than", "at_least"}),  # a number in words
        # Spaces as quotes print them (non-breaking ones too).
        ("trên\xa0dưới 100", 100, {"approximate"}),
        ("150\xa0đảng viên trở\xa0lên", 150, {"more_than", "at_least"}),
    ],
)
def test_a_qualifier_is_one_the_figures_words_give(
    figure: str, value: float, allowed: set[str]
) -> None:
    qualifiers = ("exact", "approximate", "at_least", "more_than", "at_most", "less_than")
    refused = {q for q in qualifiers if misqualified(figure, value, q)}
    assert set(qualifiers) - refused == allowed


@pytest.mark.parametrize(
    ("figure", "value"),
    [
        ("216", 216),  # no word: any qualifier (the words may stand outside the figure)
        ("3 đảng viên trên 60 tuổi", 3),  # "trên" qualifies the age
        ("5 trên 10", 5),  # 5 out of 10
        ("trên 60 tuổi có 3", 3),
        ("hơn 20 chi bộ, 7", 7),
        ("một", 2),
        ("tầm quan trọng của 12 chi bộ", 12),  # "tầm" is "about" only before a number
        # The value printed unqualified too: the qualified one is another number.
        ("12 trên 12", 12),  # 12 out of 12
        ("3 chi bộ có dưới 3 đảng viên", 3),
        ("hơn 5 năm, kết nạp 5 đảng viên", 5),
        # From a mutation audit: "trên" after a number is "out of", whichever number of
        # the two is the value.
        ("5 trên 10 chi bộ", 10),
    ],
)
def test_a_word_before_another_number_does_not_qualify_the_value(figure: str, value: float) -> None:
    assert misqualified(figure, value, "exact") is None


def test_an_unreported_value_is_not_compared() -> None:
    assert misqualified("dưới 5", None, "exact") is None
    assert misqualified(None, 5, "exact") is None


@pytest.mark.parametrize(
    ("quote", "figure", "value", "allowed"),
    [
        # From a write audit: the figure cut from its word passed as exact.
        ("Chi bộ có dưới 5 đảng viên", "5", 5, {"less_than", "at_most"}),
        ("khoảng 12 đảng viên", "12", 12, {"approximate"}),
        ("có 150 đảng viên trở lên", "150", 150, {"more_than", "at_least"}),
        # The figure with its word is read as before.
        ("Chi bộ có dưới 5 đảng viên", "dưới 5", 5, {"less_than", "at_most"}),
    ],
)
def test_the_quotes_words_around_a_figure_qualify_it(
    quote: str, figure: str, value: float, allowed: set[str]
) -> None:
    qualifiers = ("exact", "approximate", "at_least", "more_than", "at_most", "less_than")
    refused = {q for q in qualifiers if misqualified_in_quote(quote, figure, value, q)}
    assert set(qualifiers) - refused == allowed


@pytest.mark.parametrize(
    ("quote", "figure", "value"),
    [
        ("dưới 5 hộ, chi bộ có 5 đảng viên", "5", 5),  # printed unqualified too
        ("3 đảng viên trên 60 tuổi", "3", 3),  # "trên" qualifies the age
        ("12 trên 12 chi bộ", "12", 12),  # 12 out of 12
        ("dưới 15 đảng viên, 5 chi bộ", "5", 5),  # the "5" of "15" is another number
        ("trên 2,5 ha, 5 chi bộ", "5", 5),
        # From a mutation audit: printed only inside another number (5 of 5,000), the
        # figure is qualified by no word of the quote; that number's words are its own.
        ("dưới 5.000 đảng viên", "5", 5),
        ("hơn 12.500 hộ", "12", 12),
        ("Năm 2023, Lục Yên kết nạp 216 đảng viên mới", "216", 216),
    ],
)
def test_a_figure_the_quote_prints_unqualified_takes_any_qualifier(
    quote: str, figure: str, value: float
) -> None:
    assert misqualified_in_quote(quote, figure, value, "exact") is None
