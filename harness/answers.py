"""Parsing numbers out of generated text: shared by math tasks (MGSM now, GSM-style tasks later).

lm-eval compares strings after deleting punctuation, so ``18.00`` never equals ``18`` and ``2,125``
only matches by accident. xlh parses numbers (thousands separators, decimals, signs, native digits such
as Bengali or Thai) and compares values.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

# A number: optional sign and currency, digits with optional comma thousands groups, optional decimals.
# `\d` matches any Unicode decimal digit, so native-script numerals are found too.
NUMBER_PATTERN = r"-?[$€£¥]?\s?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_NUMBER = re.compile(NUMBER_PATTERN)
_WHOLE_NUMBER = re.compile(rf"\s*({NUMBER_PATTERN})\s*[.。]?\s*")


def parse_number(text: str) -> Decimal | None:
    """The value of one number literal (``"2,125"`` -> 2125, ``"$18.00"`` -> 18, ``"১২"`` -> 12)."""
    digits = "".join(_ascii_digit(ch) for ch in text if ch not in "$€£¥, \u00a0")
    try:
        return Decimal(digits)
    except InvalidOperation:
        return None


def _ascii_digit(ch: str) -> str:
    value = unicodedata.digit(ch, None)
    return str(value) if value is not None and not ch.isascii() else ch


def last_number(text: str) -> Decimal | None:
    """The last number anywhere in ``text`` (the "flexible" extraction)."""
    matches = _NUMBER.findall(text)
    return parse_number(matches[-1]) if matches else None


def whole_number(text: str) -> Decimal | None:
    """The number when ``text`` is nothing but one number (optionally followed by a full stop)."""
    match = _WHOLE_NUMBER.fullmatch(text)
    return parse_number(match.group(1)) if match else None


def numbers_equal(predicted: Decimal | None, gold: Decimal) -> bool:
    return predicted is not None and predicted == gold
