"""MGSM: Multilingual Grade School Math (Shi et al. 2022, "Language models are multilingual
chain-of-thought reasoners", arXiv:2210.03057).

- Data: 250 GSM8K test problems translated into 10 languages + English (parallel: row i is the same
  problem everywhere). Local: ``DATA_DIR/mgsm/mgsm_<lang>.tsv`` from google-research/url-nlp (see its
  SOURCE.md). Hub: ``juletxara/mgsm`` (config = language, split ``test``). Licence CC BY 4.0.
- Languages: bn de en es fr ja ru sw te th zh.
- Variants: ``direct`` (lm-eval 0.4.13 ``mgsm_direct_<lang>``: ``"{Q} {question}\\n{A}"`` with the
  localised question/answer words, greedy until the localised question word).
- Metrics: ``exact_match`` (the whole answer is the gold number: lm-eval's ``remove_whitespace``
  filter), ``flexible_match`` (the last number in the answer), both comparing *numbers*; ``unparsable``
  (count of answers with no number). ``exact_match_lmeval`` / ``flexible_match_lmeval`` reproduce
  lm-eval's string comparison (lower-case, punctuation deleted), which scores ``18.00`` as wrong for
  gold 18: xlh's headline metrics do better and the lm-eval ones are kept for comparison.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from harness.answers import last_number, numbers_equal, parse_number, whole_number
from harness.data import read_tsv
from harness.errors import DataError
from harness.languages import Language, from_code
from harness.metrics import MeanMetric, Metric, SampleScore, SumMetric
from harness.requests import GenerationRequest, Request, Response
from harness.task import HubSource, Shot, Task, check_language_table

VERSION = 1
SPLIT = "test"
EXPECTED_ROWS = 250
LANGUAGES: tuple[Language, ...] = tuple(
    from_code(code, flores)
    for code, flores in (
        ("bn", None),
        ("de", None),
        ("en", None),
        ("es", None),
        ("fr", None),
        ("ja", None),
        ("ru", None),
        ("sw", "swh_Latn"),
        ("te", None),
        ("th", None),
        ("zh", None),
    )
)


@dataclass(frozen=True)
class PromptWords:
    question: str  # prefix of the question, colon included ("Frage:")
    answer: str  # answer cue, colon included ("Antwort:")


# Source: lm-eval 0.4.13 lm_eval/tasks/mgsm/direct/mgsm_direct_<lang>.yaml (doc_to_text for the test
# split, where the question has no prefix yet). lm-eval keeps the English "Answer:" for bn ja ru sw te th zh.
DIRECT_WORDS: dict[str, PromptWords] = {
    "bn": PromptWords("প্রশ্ন:", "Answer:"),
    "de": PromptWords("Frage:", "Antwort:"),
    "en": PromptWords("Question:", "Answer:"),
    "es": PromptWords("Pregunta:", "Respuesta:"),
    "fr": PromptWords("Question :", "Réponse :"),
    "ja": PromptWords("問題：", "Answer:"),
    "ru": PromptWords("Задача:", "Answer:"),
    "sw": PromptWords("Swali:", "Answer:"),
    "te": PromptWords("ప్రశ్న:", "Answer:"),
    "th": PromptWords("โจทย์:", "Answer:"),
    "zh": PromptWords("问题：", "Answer:"),
}
check_language_table("mgsm", "DIRECT_WORDS", DIRECT_WORDS, [lang.code for lang in LANGUAGES])

# lm-eval's flexible-extract filter for MGSM direct (last match, first non-empty group).
_LMEVAL_FLEXIBLE = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


@dataclass(frozen=True)
class MgsmExample:
    id: str
    question: str
    answer: Decimal


def parse_gold(text: str) -> Decimal | None:
    return parse_number(text.strip())


def render_direct(example: MgsmExample, language: Language) -> GenerationRequest:
    words = DIRECT_WORDS[language.code]
    return GenerationRequest(
        prompt=f"{words.question} {example.question}\n{words.answer}",
        stop=(words.question,),
    )


def lmeval_flexible_extract(response: str) -> str:
    matches = _LMEVAL_FLEXIBLE.findall(response)
    if not matches:
        return "[invalid]"
    groups = [group for group in matches[-1] if group]
    return groups[0].strip() if groups else "[invalid]"


def lmeval_exact_match(prediction: str, gold: Decimal) -> float:
    """lm-eval's exact_match with ignore_case and ignore_punctuation against ``str(answer_number)``."""
    return float(_lmeval_normalise(prediction) == _lmeval_normalise(_format_gold(gold)))


def _lmeval_normalise(text: str) -> str:
    return text.lower().translate(_PUNCTUATION)


def _format_gold(gold: Decimal) -> str:
    return str(int(gold)) if gold == gold.to_integral_value() else str(gold)


class Mgsm(Task[MgsmExample]):
    name = "mgsm"
    version = VERSION
    description = "grade-school math word problems, answer generated"
    languages = LANGUAGES
    splits = (SPLIT,)
    default_split = SPLIT
    variants = ("direct",)
    default_variant = "direct"
    data_folder = "mgsm"

    def local_files(self, data_dir: Path, language: Language, split: str) -> tuple[Path, ...]:
        return (data_dir / self.data_folder / f"mgsm_{language.code}.tsv",)

    def load_local(self, data_dir: Path, language: Language, split: str) -> list[MgsmExample]:
        (path,) = self.local_files(data_dir, language, split)
        examples = []
        for index, (line, (question, answer)) in enumerate(read_tsv(path, columns=2)):
            gold = parse_gold(answer)
            if gold is None:
                raise DataError(f"answer {answer!r} is not a number", path, line)
            examples.append(MgsmExample(id=str(index), question=question, answer=gold))
        if len(examples) != EXPECTED_ROWS:
            raise DataError(f"expected {EXPECTED_ROWS} rows, found {len(examples)}", path)
        return examples

    def hub_source(self, language: Language, split: str) -> HubSource:
        return HubSource(path="juletxara/mgsm", name=language.code, split=split)

    def from_hub_record(self, record: dict[str, Any], index: int, language: Language) -> MgsmExample:
        return MgsmExample(id=str(index), question=record["question"], answer=Decimal(record["answer_number"]))

    def requests(
        self, example: MgsmExample, language: Language, variant: str, shots: Sequence[Shot[MgsmExample]] = ()
    ) -> list[Request]:
        return [render_direct(example, language)]

    def score(
        self, example: MgsmExample, language: Language, variant: str, responses: Sequence[Response]
    ) -> SampleScore:
        (response,) = responses
        assert isinstance(response, str)
        strict, flexible = whole_number(response.strip()), last_number(response)
        lmeval_strict, lmeval_flexible = response.strip(), lmeval_flexible_extract(response)
        return SampleScore(
            extracted=None if flexible is None else str(flexible),
            gold=_format_gold(example.answer),
            scores={
                "exact_match": float(numbers_equal(strict, example.answer)),
                "flexible_match": float(numbers_equal(flexible, example.answer)),
                "unparsable": float(flexible is None),
                "exact_match_lmeval": lmeval_exact_match(lmeval_strict, example.answer),
                "flexible_match_lmeval": lmeval_exact_match(lmeval_flexible, example.answer),
            },
            details={
                "extracted_strict": None if strict is None else str(strict),
                "extracted_lmeval": {"remove_whitespace": lmeval_strict, "flexible-extract": lmeval_flexible},
            },
        )

    def metrics(self, variant: str) -> tuple[Metric, ...]:
        return (
            MeanMetric("exact_match"),
            MeanMetric("flexible_match"),
            SumMetric("unparsable"),
            MeanMetric("exact_match_lmeval"),
            MeanMetric("flexible_match_lmeval"),
        )


TASKS = (Mgsm(),)
