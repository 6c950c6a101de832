"""Extractive-QA answer comparison (SQuAD, XQuAD, MLQA): normalisation, exact match and token F1 as pure
functions, language-aware, plus lm-eval's English-only versions kept for comparison.

The language-aware rules follow MLQA's official evaluation script (Lewis et al. 2020,
``facebookresearch/MLQA`` ``mlqa_evaluation_v1.py``), which generalises SQuAD v1.1's ``evaluate-v1.1.py``:

1. lower-case (after Unicode NFC, so canonically equivalent spellings compare equal; MLQA does not do this);
2. delete punctuation: every character of Unicode category P*, plus ASCII ``string.punctuation`` (which
   also covers the symbols ``$+<=>^`|~``), exactly MLQA's ``PUNCT``;
3. delete the language's articles (``ANSWER_RULES``), where an official script defines them;
4. split into tokens: on whitespace, or for languages written without spaces (zh, ja, th) every character
   of those scripts is a token of its own and other runs (Latin words, digits) split on whitespace
   (MLQA's "mixed segmentation" for zh, extended to Japanese kana and Thai).

Exact match compares the token sequences; F1 is the harmonic mean of token precision and recall (a
multiset overlap). Both are 0 or 1 / in [0, 1] per sample, like lm-eval's (MLQA and XTREME print x100).
With several gold answers the best score over them counts (SQuAD's ``metric_max_over_ground_truths``).

Why characters for zh/ja/th: whitespace tokens there are whole phrases, so a prediction that overlaps
the gold answer but is not identical gets F1 0 and F1 equals exact match (lm-eval's and XTREME's XQuAD
scores for zh and th have this flaw).
"""

from __future__ import annotations

import dataclasses
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from harness.api.metric import MetricValue, SampleScore
from harness.metrics.mean import MeanMetric


@dataclass(frozen=True)
class AnswerRules:
    """How answers of one language are normalised and tokenised.

    Attributes:
        articles: whole words deleted after lower-casing and punctuation removal.
        article_prefixes: articles written attached to the next word, deleted at the start of a word.
        segmentation: ``whitespace`` or ``characters`` (each character of a script written without spaces
            is one token; see ``_CHARACTER_TOKEN``).
        source: where the rule comes from.
    """

    articles: tuple[str, ...] = ()
    article_prefixes: tuple[str, ...] = ()
    segmentation: Literal["whitespace", "characters"] = "whitespace"
    source: str = ""


_MLQA = "MLQA mlqa_evaluation_v1.py normalize_answer"
_NO_ARTICLES = "no standalone articles"
_NOT_DEFINED = "articles not defined by SQuAD/MLQA: none removed"

ANSWER_RULES: dict[str, AnswerRules] = {
    "en": AnswerRules(articles=("a", "an", "the"), source=f"SQuAD v1.1 evaluate-v1.1.py; {_MLQA}"),
    "es": AnswerRules(articles=("un", "una", "unos", "unas", "el", "la", "los", "las"), source=_MLQA),
    "de": AnswerRules(
        articles=("ein", "eine", "einen", "einem", "eines", "einer", "der", "die", "das", "den", "dem", "des"),
        source=_MLQA,
    ),
    # MLQA's list, kept as the official rule although only cái/chiếc/những are article-like (classifiers,
    # plural marker); của ("of") and là ("is") are function words.
    "vi": AnswerRules(articles=("của", "là", "cái", "chiếc", "những"), source=_MLQA),
    # MLQA's regex ``\sال^|ال`` deletes the letters alif-lam anywhere, also inside words (مال "money"
    # becomes م): its first alternative can never match. Its intent, the definite-article prefix, is kept.
    "ar": AnswerRules(article_prefixes=("ال",), source=f"{_MLQA} (word-initial only)"),
    "hi": AnswerRules(source=f"{_MLQA} (Hindi has no formal articles)"),
    "zh": AnswerRules(segmentation="characters", source=f"{_MLQA} (mixed segmentation)"),
    "ja": AnswerRules(segmentation="characters", source="as zh: no spaces between words, no articles"),
    "th": AnswerRules(segmentation="characters", source="as zh: no spaces between words, no articles"),
    # Romanian articles are suffixes and Greek ones are separate words, but no official QA script lists
    # them: nothing is removed (lm-eval, by contrast, deletes English a/an/the in every language).
    "el": AnswerRules(source=_NOT_DEFINED),
    "ro": AnswerRules(source=_NOT_DEFINED),
    "ru": AnswerRules(source=_NO_ARTICLES),
    "tr": AnswerRules(source=_NO_ARTICLES),
}

# Scripts written without spaces between words: Thai, kana, CJK ideographs (BMP blocks and planes 2-3).
_CHARACTER_SCRIPTS = (
    "\u0e00-\u0e7f\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
)
_CHARACTER_TOKEN = re.compile(f"[{_CHARACTER_SCRIPTS}]|[^\\s{_CHARACTER_SCRIPTS}]+")
_ASCII_PUNCTUATION = frozenset(string.punctuation)


def require_rules(owner: str, codes: Sequence[str]) -> None:
    """Fail at import when a task's language has no answer rules (naming the task and the languages)."""
    missing = sorted(set(codes) - set(ANSWER_RULES))
    if missing:
        raise RuntimeError(f"{owner}: harness.metrics.qa.ANSWER_RULES has no rules for {', '.join(missing)}")


def is_punctuation(char: str) -> bool:
    return char in _ASCII_PUNCTUATION or unicodedata.category(char).startswith("P")


def answer_tokens(text: str, language: str) -> list[str]:
    """The normalised tokens of an answer in ``language`` (a code of ``ANSWER_RULES``)."""
    rules = ANSWER_RULES[language]
    text = unicodedata.normalize("NFC", text).lower()
    # Deleted, not replaced by a space, as SQuAD and MLQA do: "U.S." -> "us", "1,000" -> "1000".
    text = "".join(char for char in text if not is_punctuation(char))
    words = text.split()
    if rules.articles:
        words = [word for word in words if word not in rules.articles]
    for prefix in rules.article_prefixes:
        words = [word[len(prefix) :] if word.startswith(prefix) and len(word) > len(prefix) else word for word in words]
    if rules.segmentation == "characters":
        return [token for word in words for token in _CHARACTER_TOKEN.findall(word)]
    return words


def normalize_answer(text: str, language: str) -> str:
    """The normalised answer as one string (tokens joined by single spaces)."""
    return " ".join(answer_tokens(text, language))


def exact_match(prediction: str, reference: str, language: str) -> float:
    return float(answer_tokens(prediction, language) == answer_tokens(reference, language))


def token_f1(prediction: str, reference: str, language: str) -> float:
    """F1 of the token overlap. Two answers that normalise to nothing agree (1.0), as in SQuAD 2.0 and
    lm-eval's ``compute_f1``; MLQA's script gives 0 there, below its own exact match of 1."""
    predicted, gold = answer_tokens(prediction, language), answer_tokens(reference, language)
    if not predicted or not gold:
        return float(predicted == gold)
    overlap = sum((Counter(predicted) & Counter(gold)).values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(predicted), overlap / len(gold)
    return 2 * precision * recall / (precision + recall)


def best_over_references(
    score: Callable[[str, str, str], float], prediction: str, references: Sequence[str], language: str
) -> float:
    """The best score of ``prediction`` against any gold answer (SQuAD's metric_max_over_ground_truths)."""
    if not references:
        raise ValueError("no reference answers to compare with")
    return max(score(prediction, reference, language) for reference in references)


# -- lm-eval's versions ---------------------------------------------------------------------------------
# lm-eval 0.4.13 (tasks/xquad/utils.py, also squadv2) scores against the FIRST gold answer with
# transformers' SQuAD 2.0 functions: English normalisation (ASCII punctuation, a/an/the) for every
# language, whitespace tokens. The same functions are called here so the numbers agree by construction.
# transformers is imported lazily: the module takes seconds to import and task discovery imports this one.


def lmeval_exact_match(prediction: str, reference: str) -> float:
    from transformers.data.metrics.squad_metrics import compute_exact

    return float(compute_exact(reference, prediction))


def lmeval_f1(prediction: str, reference: str) -> float:
    from transformers.data.metrics.squad_metrics import compute_f1

    return float(compute_f1(reference, prediction))


def lmeval_normalize_answer(text: str) -> str:
    from transformers.data.metrics.squad_metrics import normalize_answer as squad_normalize

    return str(squad_normalize(text))


# -- aggregation ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QaMeanMetric:
    """The mean of a per-sample QA score, with how answers were compared in its signature."""

    name: str
    comparison: str  # e.g. "refs:max|norm:mlqa-lang|tok:lang"

    def aggregate(self, samples: Sequence[SampleScore]) -> MetricValue:
        value = MeanMetric(self.name).aggregate(samples)
        return dataclasses.replace(value, signature=f"{value.signature}|{self.comparison}")

    def item_values(self, samples: Sequence[SampleScore]) -> list[float]:
        """Each sample's score (the numbers averaged)."""
        return MeanMetric(self.name).item_values(samples)

    def item_statistics(self, samples: Sequence[SampleScore]) -> np.ndarray:
        """One column: the sample's score (``MeanMetric``'s)."""
        return MeanMetric(self.name).item_statistics(samples)

    def value_from_totals(self, totals: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """The summed score over the number of items."""
        return MeanMetric(self.name).value_from_totals(totals, counts)
