"""Parsing numbers out of generated text: shared by math tasks (MGSM now, GSM-style tasks later).

lm-eval compares strings after deleting punctuation, so ``18.00`` never equals ``18`` and ``2,125``
only matches by accident. xlh parses numbers and compares values, and it reads them the way the answer's
language writes them: ``1.210`` is 1210 in German but 1.21 in English, ``19,50`` is 19.5 in German, and
``1 250`` is 1250 in French. Without this a German or French model that answers right in its own
format loses every answer of 1,000 or more (23 of MGSM's 250).

The rules, for every language (the table below only says which characters play which part):

- A group separator counts only between groups of exactly three digits after a first group of one to
  three (``1.210``, ``80 000``; bn and te also write the Indian ``1,14,200``); the same separator
  throughout one number.
- The language's decimal mark makes a fraction (``19,50`` in German). The other of ``.``/``,`` is read
  as a decimal mark only where it cannot be a group separator (``19.50`` in German, ``0,5`` in English),
  and a number that uses both (``1,210.50`` in a German answer) is read by the order of the two, which is
  unambiguous. Ambiguous ``1.210``/``1,210`` follows the language.
- A full stop not followed by digits ends a sentence, not a number (``Die Antwort ist 19,50.``).
- A hyphen or minus sign (U+2212) is a sign only when it touches the digits (or a currency symbol before
  them) and does not follow a digit or a letter of a script that separates words by spaces: ``-5``,
  ``= -5`` and ``答えは-5`` are negative; ``3 - 5``, ``74-35`` and ``Schritt-5`` are not.
- Native digits (Bengali, Thai, ...) are digits; a currency symbol before the digits is skipped.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache


@dataclass(frozen=True)
class NumberFormat:
    """How one language writes numbers.

    Attributes:
        decimal: the decimal mark (``"."`` or ``","``).
        group: the characters that separate groups of three digits (one character each).
        indian: whether groups of two before the last three (``1,14,200``, lakh/crore) are written too.
    """

    decimal: str
    group: tuple[str, ...]
    indian: bool = False


# NBSP and NARROW NO-BREAK SPACE between digits are grouping in any language (SI brochure, ISO 80000-1;
# CLDR's own separators for fr and ru), so they are accepted everywhere. A plain space only where the
# language groups with spaces: elsewhere "3 500" is more likely two numbers.
_NO_BREAK_SPACES = ("\u00a0", "\u202f")

ENGLISH = NumberFormat(".", (",", *_NO_BREAK_SPACES))

# Keyed by MGSM language code. Sources: CLDR 45 number symbols (decimal, group) and what the MGSM data
# itself writes in its questions and exemplars (google-research/url-nlp mgsm_XX.tsv, exemplars.py):
# de "80.000" and "19,50"; fr, es and ru "80 000" (plain space) and "19,50"; the others "5,000" and
# "19.50". Where "," is the decimal mark, a "." between groups of three can only be grouping, so "." is
# a group separator there even where CLDR groups with a space (fr, ru).
NUMBER_FORMATS: dict[str, NumberFormat] = {
    "en": ENGLISH,  # CLDR "," "."; data "5,000", "19.50"
    "de": NumberFormat(",", (".", *_NO_BREAK_SPACES)),  # CLDR "." ","; data "80.000", "19,50"
    "fr": NumberFormat(",", (" ", *_NO_BREAK_SPACES, ".")),  # CLDR U+202F ","; data "80 000", "19,50"
    "es": NumberFormat(",", (" ", *_NO_BREAK_SPACES, ".")),  # CLDR "." ","; data "80 000", "19,50"
    "ru": NumberFormat(",", (" ", *_NO_BREAK_SPACES, ".")),  # CLDR NBSP ","; data "80 000", "19,50"
    "zh": ENGLISH,  # CLDR "," "."; data "5,000", "19.50"
    "ja": ENGLISH,  # CLDR "," "."; data "5,000", "19.50"
    "th": ENGLISH,  # CLDR "," "."; data "5,000", "19.50"
    "sw": ENGLISH,  # CLDR "," "."; data "5,000", "19.50"
    "bn": NumberFormat(".", (",", *_NO_BREAK_SPACES), indian=True),  # CLDR "#,##,##0.###"; data "5,000"
    "te": NumberFormat(".", (",", *_NO_BREAK_SPACES), indian=True),  # CLDR "#,##,##0.###"; data "5,000"
}

_CURRENCY = "$€£¥₹₽৳฿"
# Letters of scripts written without spaces between words (Thai, kana, Han): a sign after them still
# touches only its number ("答えは-5です"), while after a Latin, Cyrillic, ... letter it joins a compound.
_UNSPACED = "\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
_SIGN = rf"(?:(?<![^\W{_UNSPACED}])(?P<sign>[-\u2212])(?=[\d{re.escape(_CURRENCY)}]))?"
_PREFIX = _SIGN + r"(?:[" + re.escape(_CURRENCY) + r"]\s?)?"


def _characters(chars: tuple[str, ...] | str) -> str:
    return "[" + "".join(re.escape(char) for char in chars) + "]"


def _grouped(separators: str, name: str, indian: bool = False) -> str:
    """Digits in groups of three (or Indian 2-2-3) with one separator throughout; no leading zero."""
    sep = rf"(?P<{name}>{separators})"
    if indian:
        return rf"(?!0)\d{{1,2}}{sep}\d{{2}}(?:(?P={name})\d{{2}})*(?P={name})\d{{3}}(?!\d)"
    return rf"(?!0)\d{{1,3}}{sep}\d{{3}}(?!\d)(?:(?P={name})\d{{3}}(?!\d))*"


@cache
def _number_pattern(fmt: NumberFormat) -> str:
    """One number literal; each reading is one alternative whose integer/fraction groups are named."""
    own_point = re.escape(fmt.decimal)
    foreign_group, foreign_point = (",", r"\.") if fmt.decimal == "," else (r"\.", ",")
    points = _characters((fmt.decimal, *(char for char in fmt.group if char in ".,")))
    readings = [
        rf"(?P<i0>{_grouped(_characters(fmt.group), 's0')})(?:{own_point}(?P<f0>\d+))?",
        # Both marks, the other way round ("1,210.50" in German): the last one is the decimal mark.
        rf"(?P<i1>{_grouped(foreign_group, 's1')}){foreign_point}(?P<f1>\d+)",
        rf"(?P<i2>\d+)(?:{points}(?P<f2>\d+))?",
    ]
    if fmt.indian:
        lakh = _grouped(_characters(fmt.group), "s3", indian=True)
        readings.insert(1, rf"(?P<i3>{lakh})(?:{own_point}(?P<f3>\d+))?")
    return _PREFIX + "(?:" + "|".join(readings) + ")"


@cache
def _number(fmt: NumberFormat) -> re.Pattern[str]:
    return re.compile(_number_pattern(fmt))


@cache
def _whole_number(fmt: NumberFormat) -> re.Pattern[str]:
    return re.compile(rf"\s*{_number_pattern(fmt)}\s*[.。]?\s*")


def _value(match: re.Match[str]) -> Decimal | None:
    """The value of a match of ``_number``: the one reading that matched gives integer and fraction."""
    reading = next(index for index in range(4) if match.groupdict().get(f"i{index}") is not None)
    integer = "".join(_ascii_digit(char) for char in match.group(f"i{reading}") if char.isdigit())
    fraction = match.group(f"f{reading}")
    text = integer + ("." + "".join(_ascii_digit(char) for char in fraction) if fraction else "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return -value if match.group("sign") else value


def _ascii_digit(char: str) -> str:
    value = unicodedata.digit(char, None)
    return str(value) if value is not None else char


def parse_number(text: str, fmt: NumberFormat = ENGLISH) -> Decimal | None:
    """The value of one number literal (``"2,125"`` -> 2125, ``"$18.00"`` -> 18, ``"১২"`` -> 12), or
    None when ``text`` (surrounding whitespace aside) is not exactly one number in ``fmt``."""
    match = _number(fmt).fullmatch(text.strip())
    return _value(match) if match else None


def number_at(text: str, position: int, fmt: NumberFormat = ENGLISH) -> Decimal | None:
    """The number that starts exactly at ``position`` (after an "The answer is" phrase), else None."""
    match = _number(fmt).match(text, position)
    return _value(match) if match else None


def last_number(text: str, fmt: NumberFormat = ENGLISH) -> Decimal | None:
    """The last number anywhere in ``text`` (the "flexible" extraction)."""
    matches = list(_number(fmt).finditer(text))
    return _value(matches[-1]) if matches else None


def whole_number(text: str, fmt: NumberFormat = ENGLISH) -> Decimal | None:
    """The number when ``text`` is nothing but one number (optionally followed by a full stop)."""
    match = _whole_number(fmt).fullmatch(text)
    return _value(match) if match else None


def numbers_equal(predicted: Decimal | None, gold: Decimal) -> bool:
    return predicted is not None and predicted == gold
