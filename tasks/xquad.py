"""XQuAD: Cross-lingual Question Answering Dataset (Artetxe, Ruder and Yogatama 2020, "On the
Cross-lingual Transferability of Monolingual Representations", ACL, arXiv:1910.11856).

- Data: 240 paragraphs and 1,190 questions of the SQuAD v1.1 dev set, professionally translated
  (parallel: a question has the same id in every language; one gold answer span each). Local:
  ``DATA_DIR/xquad/xquad.<lang>.json`` (SQuAD v1.1 JSON from ``google-deepmind/xquad``; see its
  SOURCE.md). Hub: ``google/xquad``, config ``xquad.<lang>``, split ``validation`` (the only split; xlh
  names it the same). Licence CC BY-SA 4.0.
- Languages: ar de el en es hi ro ru th tr vi zh (ro was added by the authors after the paper).
- Variant ``default``: lm-eval 0.4.13 ``xquad_<lang>``: ``"{Context}: {context}\\n\\n{Question}:
  {question}\\n\\n{Answer}:"`` with localised words, greedy generation until a newline (at most 256 new
  tokens, lm-eval's default ``max_gen_toks``). Few-shot demonstrations are prompt + " " + first gold
  answer, drawn from the same split but never from the item's paragraph (its context is in the prompt,
  and another question on it can give the answer away).
- Metrics (per sample in [0, 1], as lm-eval reports them): ``f1`` (headline: generated answers rarely
  copy the gold span exactly, and F1 gives partial credit for overlap; the XQuAD paper reports F1
  first), ``exact_match``, and ``f1_lmeval`` / ``exact_match_lmeval``, which reproduce lm-eval exactly.

Where xlh's ``f1`` / ``exact_match`` deliberately differ from lm-eval's (``harness.metrics.qa``):
- best over ALL gold answers (SQuAD's rule); lm-eval reads only the first. XQuAD has one answer per
  question, so this matters only for other data given to the same code;
- language-aware normalisation (MLQA's official script): Unicode punctuation (lm-eval removes ASCII
  punctuation only, so "«", "。", "،" stay in), the language's own articles (lm-eval deletes English
  a/an/the in every language: Spanish/Romanian "a" is a preposition), and none where none are defined;
- F1 over characters for zh and th (Latin words and numbers inside stay whole): lm-eval splits on
  whitespace, so a Chinese or Thai answer is one token and its F1 equals exact match. The price: chance
  overlap of single characters gives babbling models a small non-zero F1 there (a random model scores a
  few % on th).
The lm-eval prompt word for Arabic "context", "سيا", is a truncation of "سياق"; it is kept for
comparability, as are the other prompt words.

Output health (``health_view``, ``xlh health``): the answer as scored (the generation stripped); it is
unparsable when nothing of it is left after the normalisation above (blank, or only punctuation and articles).
Its language is not checked: answers are short spans, often names, numbers or words shared across languages, and
the detector tells them apart no better than chance. Of the gold answers themselves, the detector puts 45% of the
German and 63% of the Spanish ones it decides in another language (26% of the Spanish ones of 8 words or more).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.api.languages import Language, from_code
from harness.api.metric import Metric, SampleScore
from harness.api.requests import GenerationRequest, Request, Response
from harness.api.task import HealthView, HubSource, Shot, Task, check_language_table
from harness.data import read_json
from harness.errors import DataError
from harness.kit.hub import OneHubConfig
from harness.metrics.qa import (
    QaMeanMetric,
    best_over_references,
    exact_match,
    lmeval_exact_match,
    lmeval_f1,
    normalize_answer,
    require_rules,
    token_f1,
)

VERSION = 1
SPLIT = "validation"
EXPECTED_QUESTIONS = 1190
# lm-eval's HFLM.max_gen_toks (the xquad YAMLs do not set one).
MAX_NEW_TOKENS = 256
STOP = ("\n",)  # lm-eval: generation_kwargs.until
TARGET_DELIMITER = " "  # lm-eval's target_delimiter, between a demonstration's prompt and its answer
LANGUAGES: tuple[Language, ...] = tuple(
    from_code(code, flores)
    for code, flores in (
        ("ar", "arb_Arab"),
        ("de", None),
        ("el", None),
        ("en", None),
        ("es", None),
        ("hi", None),
        ("ro", None),
        ("ru", None),
        ("th", None),
        ("tr", None),
        ("vi", None),
        ("zh", None),
    )
)


@dataclass(frozen=True)
class PromptWords:
    context: str  # colon included ("Kontext:")
    question: str  # "Frage:"
    answer: str  # "Antwort:"


# Source: lm-eval 0.4.13 lm_eval/tasks/xquad/xquad_<lang>.yaml (doc_to_text). "سيا" (ar) is lm-eval's
# truncation of "سياق"; ro keeps the English-looking "Context:", which is also the Romanian word.
WORDS: dict[str, PromptWords] = {
    "ar": PromptWords("سيا:", "سؤال:", "إجابة:"),
    "de": PromptWords("Kontext:", "Frage:", "Antwort:"),
    "el": PromptWords("Συμφραζόμενα:", "Ερώτηση:", "Απάντηση:"),
    "en": PromptWords("Context:", "Question:", "Answer:"),
    "es": PromptWords("Contexto:", "Pregunta:", "Respuesta:"),
    "hi": PromptWords("प्रसंग:", "सवाल:", "उत्तर:"),
    "ro": PromptWords("Context:", "Întrebare:", "Răspuns:"),
    "ru": PromptWords("Контекст:", "Вопрос:", "Ответ:"),
    "th": PromptWords("บริบท:", "คำถาม:", "คำตอบ:"),
    "tr": PromptWords("Bağlam:", "Soru:", "Cevap:"),
    "vi": PromptWords("Bối cảnh:", "Câu hỏi:", "Trả lời:"),
    "zh": PromptWords("语境:", "问题:", "回答:"),
}
check_language_table("xquad", "WORDS", WORDS, [lang.code for lang in LANGUAGES])
require_rules("xquad", [lang.code for lang in LANGUAGES])


@dataclass(frozen=True)
class XquadExample:
    """One question. ``paragraph`` identifies its context across languages ("article/paragraph" position
    in the file, parallel in every language) or is None where unknown (Hub rows carry no position)."""

    id: str
    context: str
    question: str
    answers: tuple[str, ...]  # every gold answer; lm-eval uses answers[0]
    answer_starts: tuple[int, ...]
    paragraph: str | None


def prompt(example: XquadExample, language: Language) -> str:
    words = WORDS[language.code]
    return f"{words.context} {example.context}\n\n{words.question} {example.question}\n\n{words.answer}"


def demonstration(example: XquadExample, language: Language) -> str:
    """A solved question: the prompt, then its first gold answer (lm-eval: text + delimiter + target)."""
    return prompt(example, language) + TARGET_DELIMITER + example.answers[0]


def render(example: XquadExample, language: Language, prefix: str = "") -> GenerationRequest:
    return GenerationRequest(prompt=prefix + prompt(example, language), stop=STOP, max_new_tokens=MAX_NEW_TOKENS)


def score_answer(prediction: str, answers: Sequence[str], language: Language) -> dict[str, float]:
    """xlh's scores (best over all answers, language-aware) and lm-eval's (first answer, English rules)."""
    code = language.code
    return {
        "f1": best_over_references(token_f1, prediction, answers, code),
        "exact_match": best_over_references(exact_match, prediction, answers, code),
        "f1_lmeval": lmeval_f1(prediction, answers[0]),
        "exact_match_lmeval": lmeval_exact_match(prediction, answers[0]),
    }


def parse_squad(document: Any, path: Path) -> list[XquadExample]:
    """Questions of a SQuAD v1.1 JSON document, in file order; structural errors name the file and item."""
    articles = _get(document, "data", list, "the document", path)
    examples = []
    for a, article in enumerate(articles):
        paragraphs = _get(article, "paragraphs", list, f"data[{a}]", path)
        for p, paragraph in enumerate(paragraphs):
            where = f"data[{a}].paragraphs[{p}]"
            context = _get(paragraph, "context", str, where, path)
            for q, qa in enumerate(_get(paragraph, "qas", list, where, path)):
                item = f"{where}.qas[{q}]"
                answers = _get(qa, "answers", list, item, path)
                if not answers:
                    raise DataError(f"{item}: no gold answer", path)
                examples.append(
                    XquadExample(
                        id=_get(qa, "id", str, item, path),
                        context=context,
                        question=_get(qa, "question", str, item, path),
                        answers=tuple(
                            _get(ans, "text", str, f"{item}.answers[{i}]", path) for i, ans in enumerate(answers)
                        ),
                        answer_starts=tuple(
                            _get(ans, "answer_start", int, f"{item}.answers[{i}]", path)
                            for i, ans in enumerate(answers)
                        ),
                        paragraph=f"{a}/{p}",
                    )
                )
    return examples


def _get(record: Any, key: str, kind: type, where: str, path: Path) -> Any:
    if not isinstance(record, dict) or not isinstance(record.get(key), kind):
        raise DataError(f"{where}: expected {kind.__name__} field {key!r}", path)
    return record[key]


class Xquad(OneHubConfig[XquadExample], Task[XquadExample]):
    name = "xquad"
    version = VERSION
    description = "extractive question answering, answer generated"
    languages = LANGUAGES
    splits = (SPLIT,)
    default_split = SPLIT
    data_folder = "xquad"

    def local_files(self, data_dir: Path, language: Language, split: str) -> tuple[Path, ...]:
        return (data_dir / self.data_folder / f"xquad.{language.code}.json",)

    def load_local(self, data_dir: Path, language: Language, split: str) -> list[XquadExample]:
        (path,) = self.local_files(data_dir, language, split)
        examples = parse_squad(read_json(path), path)
        if len(examples) != EXPECTED_QUESTIONS:
            raise DataError(f"expected {EXPECTED_QUESTIONS} questions, found {len(examples)}", path)
        ids = [example.id for example in examples]
        if len(set(ids)) != len(ids):
            raise DataError("question ids are not unique", path)
        return examples

    def expected_examples(self, split: str) -> int:
        return EXPECTED_QUESTIONS

    def hub_source(self, language: Language, split: str) -> HubSource:
        return HubSource(path="google/xquad", name=f"xquad.{language.code}", split=split)

    def from_hub_record(self, record: dict[str, Any], index: int, language: Language) -> XquadExample:
        return XquadExample(
            id=record["id"],
            context=record["context"],
            question=record["question"],
            answers=tuple(record["answers"]["text"]),
            answer_starts=tuple(int(start) for start in record["answers"]["answer_start"]),
            paragraph=None,
        )

    def requests(
        self, example: XquadExample, language: Language, variant: str, shots: Sequence[Shot[XquadExample]] = ()
    ) -> list[Request]:
        return [render(example, language, self.fewshot_prefix(shots, variant))]

    def demonstration(self, shot: Shot[XquadExample], variant: str) -> str:
        return demonstration(shot.example, shot.language)

    def leaks(self, shot: XquadExample, example: XquadExample) -> bool:
        """The item itself, or any question on the same paragraph (same context in the same language, or
        the same paragraph position in any language)."""
        same_paragraph = shot.paragraph is not None and shot.paragraph == example.paragraph
        return shot.id == example.id or same_paragraph or shot.context == example.context

    def score(
        self, example: XquadExample, language: Language, variant: str, responses: Sequence[Response]
    ) -> SampleScore:
        (response,) = responses
        assert isinstance(response, str)
        return SampleScore(
            extracted=response.strip(),
            gold=list(example.answers),
            scores=score_answer(response, example.answers, language),
            details={
                "normalized": normalize_answer(response, language.code),
                "normalized_gold": [normalize_answer(answer, language.code) for answer in example.answers],
            },
        )

    def metrics(self, variant: str) -> tuple[Metric, ...]:
        ours = "refs:max|norm:nfc+lower+unicode_punct+lang_articles|tok:whitespace;chars(zh,th)"
        lmeval = "refs:first|norm:squad_en(ascii_punct,a/an/the)|tok:whitespace|impl:transformers.squad_metrics"
        return (
            QaMeanMetric("f1", ours),
            QaMeanMetric("exact_match", ours),
            QaMeanMetric("f1_lmeval", lmeval),
            QaMeanMetric("exact_match_lmeval", lmeval),
        )

    def notes(self, variant: str) -> tuple[str, ...]:
        return (
            "f1/exact_match: best over all gold answers, MLQA-style language-aware normalisation, "
            "character F1 for zh and th; f1_lmeval/exact_match_lmeval: lm-eval 0.4.13 xquad (first answer, "
            "English SQuAD normalisation, whitespace tokens)",
        )

    def health_view(
        self, language: Language, variant: str, generation: str, extracted: Any, details: Mapping[str, Any]
    ) -> HealthView:
        answer = generation.strip()
        parsed = bool(normalize_answer(answer, language.code))  # something left to compare with the gold answers
        return HealthView(answer, (), "answer", parsed=parsed)  # no language check: see the module docstring


TASKS = (Xquad(),)
