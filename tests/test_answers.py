from decimal import Decimal

import pytest

from harness.answers import last_number, parse_number, whole_number


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2,125", "2125"),
        ("114,200", "114200"),
        ("18.00", "18"),
        ("$18", "18"),
        ("-5", "-5"),
        ("১২", "12"),  # Bengali digits
        ("๑๘", "18"),  # Thai digits
        ("3.5", "3.5"),
    ],
)
def test_parse_number(text: str, value: str) -> None:
    assert parse_number(text) == Decimal(value)


def test_last_number_takes_the_last_one_and_ignores_trailing_text() -> None:
    assert last_number("She sells 16 - 3 - 4 = 9 eggs, so she makes $18.00 every day.") == Decimal(18)
    assert last_number("The answer is 2,125 apples.") == Decimal(2125)
    assert last_number("Die Antwort lautet -7 Grad") == Decimal(-7)
    assert last_number("no digits here") is None


def test_whole_number_requires_the_answer_to_be_only_a_number() -> None:
    assert whole_number(" 18.") == Decimal(18)
    assert whole_number("2,125") == Decimal(2125)
    assert whole_number("18 dollars") is None
    assert whole_number("") is None
