"""MGSM reads numbers the way each language writes them: checked against every gold answer and every
exemplar of the 11 languages, and with a stand-in model that answers every item right in its own format."""

from decimal import Decimal
from pathlib import Path

import pytest

from harness.api.languages import Language
from harness.kit.answers import NUMBER_FORMATS, NumberFormat, last_number
from tasks.mgsm import EXEMPLARS, EXPECTED_ROWS, LANGUAGES, NATIVE_COT, Mgsm, MgsmExample, strict_extract

TASK = Mgsm()

# How a sentence ends after "The answer is N" (the exemplars' own endings).
SENTENCE_END = {"bn": "।", "ja": "です。", "th": "", "zh": "。"}


def _written(value: Decimal, separator: str, indian: bool = False) -> str:
    """An integer with its digits grouped by ``separator`` (threes, or Indian 2-2-3 where ``indian``)."""
    assert value == value.to_integral_value()
    digits = str(abs(int(value)))
    groups = [digits[-3:]] if len(digits) > 3 else [digits]
    rest = digits[:-3] if len(digits) > 3 else ""
    size = 2 if indian else 3
    while rest:
        groups.insert(0, rest[-size:])
        rest = rest[:-size]
    return ("-" if value < 0 else "") + separator.join(groups)


def _writings(value: Decimal, fmt: NumberFormat) -> list[str]:
    """``value`` with every group separator of the format, plus Indian grouping where the format has it."""
    writings = [_written(value, separator) for separator in fmt.group]
    if fmt.indian:
        writings.append(_written(value, fmt.group[0], indian=True))
    return writings


def _sentence(language: Language, number: str) -> str:
    """A chain of thought ending in the exemplars' "The answer is N" phrase, an arithmetic step before it."""
    end = SENTENCE_END.get(language.code, ".")
    return f"3 + 4 = 7{end} {NATIVE_COT[language.code].answer_is[0]}{number}{end}"


def test_written_groups_digits() -> None:
    assert _written(Decimal(114200), ",") == "114,200"
    assert _written(Decimal(114200), ",", indian=True) == "1,14,200"
    assert _written(Decimal(1234567), ".", indian=False) == "1.234.567"
    assert _written(Decimal(18), " ") == "18"


@pytest.mark.parametrize("language", LANGUAGES, ids=lambda lang: lang.code)
def test_every_gold_answer_written_in_the_language_format_reads_back(data_dir: Path, language: Language) -> None:
    fmt = NUMBER_FORMATS[language.code]
    examples = TASK.load_local(data_dir, language, "test")
    assert len(examples) == EXPECTED_ROWS
    assert sum(example.answer >= 1000 for example in examples) == 23
    for example in examples:
        for number in _writings(example.answer, fmt):
            sentence = _sentence(language, number)
            assert strict_extract(sentence, language, "native_cot") == example.answer, sentence
            assert last_number(sentence, fmt) == example.answer, sentence


@pytest.mark.parametrize("language", LANGUAGES, ids=lambda lang: lang.code)
def test_every_exemplar_answer_is_read_from_its_own_solution(data_dir: Path, language: Language) -> None:
    exemplars = TASK.load_local(data_dir, language, EXEMPLARS)
    assert len(exemplars) == 8
    for exemplar in exemplars:
        for variant, solution in (("native_cot", exemplar.reasoning), ("en_cot", exemplar.reasoning_en)):
            assert solution is not None
            scores = TASK.score(exemplar, language, variant, [" " + solution]).scores
            assert scores["strict_match"] == scores["flexible_match"] == 1, (variant, solution)


@pytest.mark.parametrize("code", ["de", "fr", "es", "ru"])
def test_a_model_right_in_its_own_format_scores_one(data_dir: Path, code: str) -> None:
    """Every test item answered right, with each group separator of the language: accuracy 1.0 (0.908
    with the English reading, which loses the 23 answers >= 1000)."""
    language = TASK.language(code)
    fmt = NUMBER_FORMATS[code]
    examples = TASK.load_local(data_dir, language, "test")
    assert len(examples) == EXPECTED_ROWS
    for separator in fmt.group:
        totals: dict[str, float] = {}
        for example in examples:
            number = _written(example.answer, separator)
            for variant, response in (("direct", f" {number}"), ("native_cot", " " + _sentence(language, number))):
                for name, score in TASK.score(example, language, variant, [response]).scores.items():
                    totals[f"{variant}/{name}"] = totals.get(f"{variant}/{name}", 0.0) + score
        accuracy = {name: total / len(examples) for name, total in totals.items()}
        for name in ("direct/exact_match", "direct/flexible_match", "native_cot/strict_match"):
            assert accuracy[name] == 1.0, (repr(separator), name)
        assert accuracy["native_cot/flexible_match"] == 1.0
        assert totals["direct/unparsable"] == totals["native_cot/unparsable"] == 0


def test_lmeval_scores_keep_lmevals_reading() -> None:
    """The *_lmeval metrics stay lm-eval's: its regex stops at a space, so French "1 210" is 210 there."""
    example = MgsmExample(id="0", question="", answer=Decimal(1210))
    french = TASK.score(example, TASK.language("fr"), "native_cot", [" La réponse est 1 210."]).scores
    assert french["strict_match"] == french["flexible_match"] == 1
    assert french["strict_match_lmeval"] == french["flexible_match_lmeval"] == 0
    german = TASK.score(example, TASK.language("de"), "direct", [" 1.210"]).scores
    assert german["exact_match"] == german["exact_match_lmeval"] == 1  # lm-eval deletes the point


@pytest.mark.parametrize(
    ("variant", "response", "right"),
    [
        ("native_cot", " Die Antwort ist 1.210.", 1),
        ("native_cot", " Die Antwort ist 1,210.", 0),  # German: 1.21
        ("en_cot", " The answer is 1,210.", 1),  # English reasoning: English format
        ("en_cot", " The answer is 1.210.", 0),
    ],
)
def test_en_cot_reads_numbers_the_english_way(variant: str, response: str, right: int) -> None:
    example = MgsmExample(id="0", question="", answer=Decimal(1210))
    scores = TASK.score(example, TASK.language("de"), variant, [response]).scores
    assert scores["strict_match"] == scores["flexible_match"] == right
