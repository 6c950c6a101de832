from decimal import Decimal

import pytest

from harness.kit.answers import ENGLISH, NUMBER_FORMATS, last_number, parse_number, whole_number


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


# -- per-language number formats -----------------------------------------------------------------------

NBSP, NNBSP = "\u00a0", "\u202f"


@pytest.mark.parametrize(
    ("code", "text", "value"),
    [
        # The examples.
        ("de", "Sie hat 1.210 Euro.", "1210"),
        ("de", "Die Antwort ist 19,50.", "19.5"),
        ("fr", "1 250", "1250"),
        # Thousands with ".", ",", space, NBSP, U+202F, as each language writes them.
        ("en", "She pays $1,210 in total.", "1210"),
        ("en", "The answer is 1,234,567.", "1234567"),
        ("en", f"It weighs 1{NNBSP}250 kg.", "1250"),  # SI thin space: grouping in any language
        ("de", "Er kauft ein Haus für 80.000 US-Dollar.", "80000"),
        ("de", "Die Antwort lautet 1.234.567.", "1234567"),
        ("de", f"Die Antwort ist 1{NBSP}250.", "1250"),
        ("fr", "La réponse est 80 000 $.", "80000"),
        ("fr", f"La réponse est 1{NNBSP}250.", "1250"),  # CLDR fr
        ("fr", f"La réponse est 1{NBSP}250.", "1250"),
        ("fr", "La réponse est 1.250.", "1250"),  # "." can only group where "," is the decimal mark
        ("es", "La respuesta es 23 786.", "23786"),
        ("es", "La respuesta es 1.250.", "1250"),  # CLDR es
        ("ru", "Ответ — 88 000.", "88000"),
        ("ru", f"Ответ — 88{NBSP}000.", "88000"),  # CLDR ru
        ("zh", "答案是 5,600。", "5600"),
        ("ja", "答えは114,200です。", "114200"),
        ("th", "คำตอบคือ 276,000", "276000"),
        ("sw", "Jibu ni 2,125.", "2125"),
        ("bn", "উত্তর হল ১,১৪,২০০।", "114200"),  # Indian grouping, Bengali digits
        ("bn", "উত্তর হল 114,200।", "114200"),
        ("te", "సమాధానం 1,14,200.", "114200"),
        # Decimals with "," and ".".
        ("en", "The answer is 19.50.", "19.5"),
        ("de", "Der Apfel kostet 0,30 €.", "0.3"),
        ("fr", "La réponse est 1,5.", "1.5"),
        ("es", "Cuesta 19,50 €.", "19.5"),
        ("ru", "Ответ — 2,5.", "2.5"),
        ("zh", "答案是 2.5。", "2.5"),
        ("th", "คำตอบคือ ๒.๕", "2.5"),  # Thai digits
        ("de", "Die Antwort lautet 1.210,75.", "1210.75"),
        ("fr", "La réponse est 1 210,75.", "1210.75"),
        # The other decimal mark, where it cannot be grouping, and both marks in the other order.
        ("de", "Die Antwort ist 19.50 $.", "19.5"),
        ("es", "La goma cuesta $0.30.", "0.3"),  # as the Spanish MGSM data writes once
        ("en", "The answer is 0,5.", "0.5"),
        ("de", "Die Antwort ist 1,210.50.", "1210.5"),
        ("en", "The answer is 1.210,50.", "1210.5"),
        # Ambiguous "1.210" / "1,210" follows the language.
        ("en", "The answer is 1.210.", "1.21"),
        ("de", "Die Antwort ist 1,210.", "1.21"),
        ("fr", "La réponse est 1,210.", "1.21"),
        # Negative numbers: the sign touches the digits.
        ("en", "The temperature is -5 degrees.", "-5"),
        ("de", "Die Antwort lautet -7 Grad", "-7"),
        ("de", "Der Kontostand ist −1.250,50 €.", "-1250.5"),  # U+2212 minus sign
        ("fr", "Le solde est de -1 250 €.", "-1250"),
        ("en", "The answer is -$5.", "-5"),
        ("en", "x = -3", "-3"),
        ("ja", "答えは-5です。", "-5"),  # no space before the sign in Japanese
        # A hyphen that does not touch, or joins a word or another number, is no sign.
        ("en", "So 8 - 5", "5"),
        ("ru", "Осталось 23 - 15", "15"),
        ("ja", "74-35", "35"),
        ("de", "Schritt-5", "5"),
        ("en", "the COVID-19 rules", "19"),
        # A full stop after a number ends the sentence.
        ("en", "The answer is 18.", "18"),
        ("de", "Die Antwort ist 5.000.", "5000"),
        ("fr", "La réponse est 18 000. Voilà", "18000"),
        ("te", "సమాధానం 39.చాక్లెట్లు", "39"),
        ("bn", "উত্তর হল 11।", "11"),
    ],
)
def test_last_number_reads_the_language_format(code: str, text: str, value: str) -> None:
    assert last_number(text, NUMBER_FORMATS[code]) == Decimal(value)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3 500", "500"),  # a plain space is not grouping in English: more likely two numbers
        ("1,2345", "1.2345"),  # not a group of three
        ("0,300", "0.3"),  # no group starts with 0
        ("1,210 and 1.210", "1.21"),
    ],
)
def test_english_is_the_default(text: str, value: str) -> None:
    assert last_number(text) == last_number(text, ENGLISH) == Decimal(value)


def test_groups_need_exactly_three_digits_and_one_separator() -> None:
    de, fr = NUMBER_FORMATS["de"], NUMBER_FORMATS["fr"]
    assert parse_number("1.2345", de) == Decimal("1.2345")  # not a group: the other decimal mark
    assert parse_number("12.34.567", de) is None
    assert last_number("1 234.567", fr) == Decimal(567)  # mixed separators are two numbers
    assert last_number("3 12", fr) == Decimal(12)


def test_whole_number_in_the_language_format() -> None:
    de, fr = NUMBER_FORMATS["de"], NUMBER_FORMATS["fr"]
    assert whole_number(" 1.210.", de) == Decimal(1210)
    assert whole_number(" 19,50", de) == Decimal("19.5")
    assert whole_number(" 80 000.", fr) == Decimal(80000)
    assert whole_number(" -5", de) == Decimal(-5)
    assert whole_number(" - 5", de) is None
    assert whole_number(" 80 000 $", fr) is None


def test_parse_number_rejects_anything_but_one_number() -> None:
    assert parse_number("18 dollars") is None
    assert parse_number("") is None
    assert parse_number(" 2,125 ") == Decimal(2125)


def test_every_mgsm_language_has_a_format() -> None:
    assert set(NUMBER_FORMATS) == {"en", "de", "fr", "es", "ru", "zh", "ja", "th", "sw", "bn", "te"}
    for fmt in NUMBER_FORMATS.values():
        assert fmt.decimal in ".," and fmt.decimal not in fmt.group
        assert all(len(separator) == 1 for separator in fmt.group)
