"""MGSM: Multilingual Grade School Math (Shi et al. 2022, "Language models are multilingual
chain-of-thought reasoners", arXiv:2210.03057).

- Data: 250 GSM8K test problems translated into 10 languages + English (parallel: row i is the same
  problem everywhere), and 8 solved exemplars per language for few-shot. Local: ``DATA_DIR/mgsm/``
  (``mgsm_<lang>.tsv`` and ``mgsm_exemplars.json`` from google-research/url-nlp, see its SOURCE.md). Hub:
  ``juletxara/mgsm`` (config = language; ``test``, and ``train`` = the exemplars). Licence CC BY 4.0.
- Languages: bn de en es fr ja ru sw te th zh.
- Variants (lm-eval 0.4.13 ``mgsm_direct_*``, ``mgsm_native_cot_*``, ``mgsm_en_cot_*``):
  ``direct``: ``"{Q} {question}\n{A}"`` with lm-eval's localised question/answer words, greedy until the
  question word; ``native_cot``: ``"{Q} {question}\n{step-by-step cue}"`` in the language, the model
  reasons in the language and ends with the localised "The answer is N"; ``en_cot``: the same with the
  English cue "Step-by-Step Answer:", reasoning in English.
- Few-shot (``SHOTS=k``, k <= 8): the first k MGSM exemplars in their published order (the paper's
  setting; the seed is not used). ``SHOTS_FROM=en`` shows the English exemplars to every language
  (cross-lingual few-shot). In ``en_cot`` a demonstration is the question in the shot language with the
  English chain of thought, as in the paper's EN-CoT setting.
- Metrics: ``direct``: ``exact_match`` (the whole answer is the gold number: lm-eval's
  ``remove_whitespace`` filter) and ``flexible_match`` (the last number); CoT variants: ``strict_match``
  (the number after the "The answer is" phrase of the language) and ``flexible_match``. All compare
  *numbers* (``18.00`` = 18, native digits), read in the answer's own number format
  (``harness.kit.answers.NUMBER_FORMATS``: ``1.210`` and ``19,50`` in German, ``80 000`` in French; the English
  format in ``en_cot``, whose reasoning is English). ``unparsable`` counts answers without any number.
- Where xlh's numbers differ from lm-eval's (deliberately): lm-eval reads every language the English way
  and compares strings with punctuation deleted, so ``18.00`` fails for gold 18, and its regexes stop at a
  space, so French, Spanish and Russian ``1 250`` is read as 250. 23 of the 250 gold answers are >= 1000: a
  model that answers every item right in its language's own format scored 0.908 in de/fr/es/ru under
  the English reading (xlh before version 3), which depressed those languages and inflated the transfer
  gap. The lm-eval-compatible scores (``*_lmeval``: lm-eval's filters and string comparison, unchanged)
  are reported beside xlh's, so results stay comparable with published lm-eval numbers.
- Where xlh differs from lm-eval in the CoT variants (deliberately; zero-shot prompts otherwise equal):
  the cues and "answer is" phrases are the MGSM exemplars' own strings. lm-eval's Russian cue has a typo
  ("Пошаговоерешение:"), its Japanese and Chinese cues use an ASCII colon where the exemplars use "：", and
  its strict patterns for bn ("The answer is", English), de ("Die Antwort lautet") and ja ("答えはNです。")
  miss the exemplars' own wording ("উত্তর হল N", "Die Antwort ist N", "答えはN個です"), so a model that
  imitates the exemplars loses strict credit there. lm-eval's own patterns are kept in ``strict_match_lmeval``.
- Output health (``health_view``, ``xlh health``): ``direct`` and ``native_cot``: the whole generation, expected
  in the item's language (a bare number has no language: "undetected"). ``en_cot`` reasons in English by design,
  so only its final sentence is checked (``final_sentence``: the text after the last ``.!?`` + space, ``。！？`` or
  line break), which may be in the item's language or English. Parsed: a number was found (see ``unparsable``).
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from harness.api.languages import ENGLISH as ENGLISH_FLORES
from harness.api.languages import Language, from_code
from harness.api.metric import Metric, SampleScore
from harness.api.requests import GenerationRequest, Request, Response
from harness.api.task import HealthView, HubSource, Shot, Task, check_language_table
from harness.data import read_json, read_tsv
from harness.errors import ConfigError, DataError
from harness.kit.answers import (
    ENGLISH,
    NUMBER_FORMATS,
    NumberFormat,
    last_number,
    number_at,
    numbers_equal,
    parse_number,
    whole_number,
)
from harness.kit.hub import OneHubConfig
from harness.metrics.mean import MeanMetric, SumMetric

VERSION = 3  # 2: native_cot / en_cot variants, few-shot exemplars; 3: per-language number formats
SPLIT = "test"
EXEMPLARS = "exemplars"  # the few-shot pool (the Hub's "train" split), not an evaluation split
EXPECTED_ROWS = 250
EXPECTED_EXEMPLARS = 8
EXEMPLARS_FILE = "mgsm_exemplars.json"
VARIANTS = ("direct", "native_cot", "en_cot")
DIRECT_VARIANT, NATIVE_COT_VARIANT, EN_COT_VARIANT = VARIANTS  # code compares with these, never with literals
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


@dataclass(frozen=True)
class CotWords:
    cue: str  # the step-by-step answer cue, colon included
    answer_is: tuple[str, ...]  # the closing "The answer is" phrase(s), space included; N follows directly


# Source: mgsm_exemplars.json (google-research/url-nlp mgsm/exemplars.py): the "a" prefix of every
# exemplar and the final sentence of its chain of thought (tests check all 88 exemplars match).
NATIVE_COT: dict[str, CotWords] = {
    "bn": CotWords("ধাপে ধাপে উত্তর:", ("উত্তর হল ",)),
    "de": CotWords("Schritt-für-Schritt-Antwort:", ("Die Antwort ist ", "Die Antwort lautet ")),  # both occur
    "en": CotWords("Step-by-Step Answer:", ("The answer is ",)),
    "es": CotWords("Respuesta paso a paso:", ("La respuesta es ",)),
    "fr": CotWords("Réponse étape par étape :", ("La réponse est ",)),
    "ja": CotWords("ステップごとの答え：", ("答えは",)),  # then です or 個です
    "ru": CotWords("Пошаговое решение:", ("Ответ — ",)),
    "sw": CotWords("Jibu la Hatua kwa Hatua:", ("Jibu ni ",)),
    "te": CotWords("దశలవారీగా సమాధానం:", ("సమాధానం ",)),
    "th": CotWords("คำตอบทีละขั้นตอน:", ("คำตอบคือ ",)),
    "zh": CotWords("逐步解答：", ("答案是 ", "答案是")),  # the exemplars put a space; models often do not
}
check_language_table("mgsm", "NATIVE_COT", NATIVE_COT, [lang.code for lang in LANGUAGES])
ENGLISH_COT = NATIVE_COT["en"]
check_language_table("mgsm", "NUMBER_FORMATS", NUMBER_FORMATS, [lang.code for lang in LANGUAGES])

# Source: lm-eval 0.4.13 mgsm/native_cot/mgsm_native_cot_<lang>.yaml, filter "strict-match" (en_cot uses the
# English one everywhere). Kept verbatim, bugs included, for the *_lmeval metrics.
LMEVAL_STRICT: dict[str, str] = {
    "bn": r"The answer is (\-?[0-9\.\,]+)",
    "de": r"Die Antwort lautet (\-?[0-9\.\,]+)",
    "en": r"The answer is (\-?[0-9\.\,]+)",
    "es": r"La respuesta es (\-?[0-9\.\,]+)",
    "fr": r"La réponse est (\-?[0-9\.\,]+)",
    "ja": r"答えは(\-?[0-9\.\,]+)です。",
    "ru": r"Ответ — (\-?[0-9\.\,]+)",
    "sw": r"Jibu ni (\-?[0-9\.\,]+)",
    "te": r"సమాధానం (\-?[0-9\.\,]+)",
    "th": r"คำตอบคือ (\-?[0-9\.\,]+)",
    "zh": r"答案是 (\-?[0-9\.\,]+)。",
}
check_language_table("mgsm", "LMEVAL_STRICT", LMEVAL_STRICT, [lang.code for lang in LANGUAGES])

# Where a sentence ends: . ! ? or the danda before a space, a full-width end mark, or a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?।])\s+|(?<=[。！？])|\n+")
# lm-eval's flexible-extract filter for MGSM direct (last match, first non-empty group).
_LMEVAL_FLEXIBLE = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


@dataclass(frozen=True)
class MgsmExample:
    id: str
    question: str  # without the "Question:" prefix
    answer: Decimal
    # Exemplars only: the chain of thought after the cue, in the language and in English (same problem).
    reasoning: str | None = None
    reasoning_en: str | None = None


def parse_gold(text: str) -> Decimal | None:
    """The data writes gold answers the English way in every language (``2,125``), see its SOURCE.md."""
    return parse_number(text.strip(), ENGLISH)


def number_format(language: Language, variant: str) -> NumberFormat:
    """How the answer writes numbers: the item's language, except in ``en_cot`` (reasoning in English)."""
    return ENGLISH if variant == EN_COT_VARIANT else NUMBER_FORMATS[language.code]


def answer_cue(language: Language, variant: str) -> str:
    if variant == DIRECT_VARIANT:
        return DIRECT_WORDS[language.code].answer
    return (NATIVE_COT[language.code] if variant == NATIVE_COT_VARIANT else ENGLISH_COT).cue


def prompt(example: MgsmExample, language: Language, variant: str) -> str:
    return f"{DIRECT_WORDS[language.code].question} {example.question}\n{answer_cue(language, variant)}"


def demonstration(example: MgsmExample, language: Language, variant: str) -> str:
    """A solved exemplar: its prompt, then the number (direct) or the chain of thought (CoT variants)."""
    solution: str | None = _format_gold(example.answer)
    if variant != DIRECT_VARIANT:
        solution = example.reasoning if variant == NATIVE_COT_VARIANT else example.reasoning_en
    if solution is None:
        raise ConfigError(f"mgsm: exemplar {example.id} ({language.code}) has no {variant} chain of thought")
    return f"{prompt(example, language, variant)} {solution}"


def render(
    example: MgsmExample, language: Language, variant: str, prefix: str = "", shot_languages: Sequence[Language] = ()
) -> GenerationRequest:
    """The prompt after its demonstrations (``prefix``); generation stops where the model starts a new
    question, in the item's language or in the language of the shots (English exemplars teach "Question:")."""
    stops = dict.fromkeys(DIRECT_WORDS[lang.code].question for lang in (language, *shot_languages))
    return GenerationRequest(prompt=prefix + prompt(example, language, variant), stop=tuple(stops))


def strict_extract(response: str, language: Language, variant: str) -> Decimal | None:
    """The number after the first "The answer is" phrase that a number follows (of the language, or English
    in ``en_cot``), read in the language's number format."""
    words = NATIVE_COT[language.code] if variant == NATIVE_COT_VARIANT else ENGLISH_COT
    phrase = "|".join(re.escape(text) for text in sorted(words.answer_is, key=len, reverse=True))
    fmt = number_format(language, variant)
    for match in re.finditer(phrase, response):
        number = number_at(response, match.end(), fmt)
        if number is not None:
            return number
    return None


def lmeval_strict_extract(response: str, language: Language, variant: str) -> str:
    """lm-eval's "strict-match" filter of the CoT variants: first regex match, else "[invalid]"."""
    pattern = LMEVAL_STRICT[language.code] if variant == NATIVE_COT_VARIANT else LMEVAL_STRICT["en"]
    matches = re.findall(pattern, response)
    return matches[0].strip() if matches else "[invalid]"


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


def final_sentence(text: str) -> str:
    """The last non-empty sentence of a generation ("" for a blank one): where a chain of thought answers."""
    sentences = [part.strip() for part in _SENTENCE_END.split(text) if part.strip()]
    return sentences[-1] if sentences else ""


def _format_gold(gold: Decimal) -> str:
    return str(int(gold)) if gold == gold.to_integral_value() else str(gold)


def _after_prefix(text: str) -> str:
    """The text after its leading "Question:" / "Step-by-Step Answer:" prefix (ASCII or full-width colon)."""
    match = re.match(r"[^:：]*[:：] ?", text)
    return text[match.end() :] if match else text


def load_exemplars(path: Path, language: Language) -> list[MgsmExample]:
    """The 8 exemplars of one language, with the English chain of thought of the same problems."""
    data = read_json(path)
    try:
        numbers = data["EXEMPLAR_NUMBER_ANSWERS"]
        native, english = data["MGSM_EXEMPLARS"][language.code], data["MGSM_EXEMPLARS"]["en"]
    except (KeyError, TypeError) as missing:
        raise DataError(f"no exemplars for {language.code!r} ({missing!r} missing)", path) from None
    if not (len(numbers) == len(native) == len(english) == EXPECTED_EXEMPLARS):
        raise DataError(f"expected {EXPECTED_EXEMPLARS} exemplars for {language.code}, found {len(native)}", path)
    cue = NATIVE_COT[language.code].cue
    examples = []
    for number, answer in enumerate(numbers, start=1):
        item = native[str(number)]
        if not item["a"].startswith(cue):
            raise DataError(f"exemplar {number} ({language.code}) does not start with {cue!r}", path)
        examples.append(
            MgsmExample(
                id=f"exemplar-{number}",
                question=_after_prefix(item["q"]),
                answer=Decimal(answer),
                reasoning=_after_prefix(item["a"]),
                reasoning_en=_after_prefix(english[str(number)]["a"]),
            )
        )
    return examples


class Mgsm(OneHubConfig[MgsmExample], Task[MgsmExample]):
    name = "mgsm"
    version = VERSION
    description = "grade-school math word problems, answer generated"
    languages = LANGUAGES
    splits = (SPLIT,)
    default_split = SPLIT
    variants = VARIANTS
    default_variant = DIRECT_VARIANT
    data_folder = "mgsm"

    def local_files(self, data_dir: Path, language: Language, split: str) -> tuple[Path, ...]:
        if split == EXEMPLARS:
            return (data_dir / self.data_folder / EXEMPLARS_FILE,)
        return (data_dir / self.data_folder / f"mgsm_{language.code}.tsv",)

    def load_local(self, data_dir: Path, language: Language, split: str) -> list[MgsmExample]:
        (path,) = self.local_files(data_dir, language, split)
        if split == EXEMPLARS:
            return load_exemplars(path, language)
        examples = []
        for index, (line, (question, answer)) in enumerate(read_tsv(path, columns=2)):
            gold = parse_gold(answer)
            if gold is None:
                raise DataError(f"answer {answer!r} is not a number", path, line)
            examples.append(MgsmExample(id=str(index), question=question, answer=gold))
        if len(examples) != EXPECTED_ROWS:
            raise DataError(f"expected {EXPECTED_ROWS} rows, found {len(examples)}", path)
        return examples

    def expected_examples(self, split: str) -> int:
        return EXPECTED_EXEMPLARS if split == EXEMPLARS else EXPECTED_ROWS

    def hub_source(self, language: Language, split: str) -> HubSource:
        return HubSource(path="juletxara/mgsm", name=language.code, split="train" if split == EXEMPLARS else split)

    def from_hub_record(self, record: dict[str, Any], index: int, language: Language) -> MgsmExample:
        if record.get("answer"):  # a "train" row: an exemplar with its prefixes and chain of thought
            return MgsmExample(
                id=f"exemplar-{index + 1}",
                question=_after_prefix(record["question"]),
                answer=Decimal(record["answer_number"]),
                reasoning=_after_prefix(record["answer"]),
                reasoning_en=None,  # the Hub row has no English chain of thought: en_cot needs local data
            )
        return MgsmExample(id=str(index), question=record["question"], answer=Decimal(record["answer_number"]))

    # -- prompts ------------------------------------------------------------------------------------
    def requests(
        self, example: MgsmExample, language: Language, variant: str, shots: Sequence[Shot[MgsmExample]] = ()
    ) -> list[Request]:
        prefix = self.fewshot_prefix(shots, variant)
        return [render(example, language, variant, prefix, [shot.language for shot in shots])]

    def demonstration(self, shot: Shot[MgsmExample], variant: str) -> str:
        return demonstration(shot.example, shot.language, variant)

    def shot_split(self, split: str) -> str:
        return EXEMPLARS

    def select_shots(self, pool: Sequence[MgsmExample], example: MgsmExample, k: int, seed: int) -> list[MgsmExample]:
        """The first ``k`` exemplars in their published order (MGSM's few-shot setting)."""
        if k > len(pool):
            raise ConfigError(f"mgsm: SHOTS={k} but MGSM has {len(pool)} exemplars per language")
        return list(pool[:k])

    def score(
        self, example: MgsmExample, language: Language, variant: str, responses: Sequence[Response]
    ) -> SampleScore:
        (response,) = responses
        assert isinstance(response, str)
        fmt = number_format(language, variant)
        flexible, lmeval_flexible = last_number(response, fmt), lmeval_flexible_extract(response)
        if variant == DIRECT_VARIANT:
            strict, lmeval_strict = whole_number(response.strip(), fmt), response.strip()
            strict_name, lmeval_strict_filter = "exact_match", "remove_whitespace"
        else:
            strict, lmeval_strict = (
                strict_extract(response, language, variant),
                lmeval_strict_extract(response, language, variant),
            )
            strict_name, lmeval_strict_filter = "strict_match", "strict-match"
        return SampleScore(
            extracted=None if flexible is None else str(flexible),
            gold=_format_gold(example.answer),
            scores={
                strict_name: float(numbers_equal(strict, example.answer)),
                "flexible_match": float(numbers_equal(flexible, example.answer)),
                "unparsable": float(flexible is None),
                f"{strict_name}_lmeval": lmeval_exact_match(lmeval_strict, example.answer),
                "flexible_match_lmeval": lmeval_exact_match(lmeval_flexible, example.answer),
            },
            details={
                "extracted_strict": None if strict is None else str(strict),
                "extracted_lmeval": {lmeval_strict_filter: lmeval_strict, "flexible-extract": lmeval_flexible},
            },
        )

    def metrics(self, variant: str) -> tuple[Metric, ...]:
        strict = "exact_match" if variant == DIRECT_VARIANT else "strict_match"
        return (
            MeanMetric(strict),
            MeanMetric("flexible_match"),
            SumMetric("unparsable"),
            MeanMetric(f"{strict}_lmeval"),
            MeanMetric("flexible_match_lmeval"),
        )

    def health_view(self, language: Language, variant: str, generation: str, extracted: Any,
                    details: Mapping[str, Any]) -> HealthView:  # fmt: skip
        """The generation (``en_cot``: its final sentence), in the item's language (``en_cot``: or English)."""
        parsed = extracted is not None  # the last number, what ``unparsable`` counts the absence of
        if variant == EN_COT_VARIANT:
            expected = tuple(dict.fromkeys((language.flores, ENGLISH_FLORES)))
            return HealthView(final_sentence(generation), expected, "final sentence", parsed=parsed)
        return HealthView(generation.strip(), (language.flores,), "generation", parsed=parsed)


TASKS = (Mgsm(),)
