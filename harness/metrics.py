"""Metrics as pure functions, split in two: per-sample scores, then aggregation with a standard error.

A task's ``score`` turns one example's responses into per-sample numbers; a ``Metric`` aggregates the
samples of one language into a ``MetricValue`` that carries its signature (how it was computed), so a
number in a results file can always be reproduced.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from harness.requests import ChoiceScores, Response


@dataclass(frozen=True)
class SampleScore:
    """One example scored: what was extracted from the response, the gold answer, and per-sample numbers
    keyed by metric name (plus any extra fields worth keeping in ``samples.jsonl``).

    Mean-style metrics read ``scores``; corpus metrics (BLEU, chrF++, F1 over classes) read ``extracted``
    and ``gold`` of every sample.
    """

    extracted: Any
    gold: Any
    scores: dict[str, float]
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricValue:
    """An aggregated metric. ``unit`` says how to read ``value``: "fraction" (0..1, shown as %), "score"
    (already on a 0..100 scale, like sacrebleu's BLEU and chrF) or "count"."""

    value: float
    stderr: float | None
    signature: str
    unit: str = "fraction"


class Metric(Protocol):
    """Aggregates per-sample scores of one language. ``name`` is the key in results files."""

    @property
    def name(self) -> str: ...

    def aggregate(self, samples: Sequence[SampleScore]) -> MetricValue: ...


def mean(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("mean of no values")
    return math.fsum(values) / len(values)


def mean_stderr(values: Sequence[float]) -> float:
    """Standard error of the mean with the sample standard deviation (ddof=1), as lm-eval reports it.

    NaN for fewer than two values (no spread can be estimated from one sample).
    """
    n = len(values)
    if n < 2:
        return float("nan")
    return float(np.std(np.asarray(values, dtype=np.float64), ddof=1) / math.sqrt(n))


@dataclass(frozen=True)
class MeanMetric:
    """The mean over samples of one per-sample score (accuracy, exact match, ...)."""

    name: str
    description: str = ""

    def aggregate(self, samples: Sequence[SampleScore]) -> MetricValue:
        values = [sample.scores[self.name] for sample in samples]
        return MetricValue(
            value=mean(values),
            stderr=mean_stderr(values),
            signature=f"{self.name}|agg:mean|stderr:sample_std_ddof1/sqrt(n)|n:{len(values)}",
        )


def choice_predictions(loglikelihoods: Sequence[float], continuations: Sequence[str]) -> tuple[int, int]:
    """Index of the best continuation by raw log-likelihood (``acc``) and by log-likelihood per character
    of the continuation (``acc_norm``, lm-eval's length normalisation).

    Ties go to the first index, as ``numpy.argmax`` does in lm-eval.
    """
    lls = np.asarray(loglikelihoods, dtype=np.float64)
    lengths = np.asarray([float(len(c)) for c in continuations])
    return int(np.argmax(lls)), int(np.argmax(lls / lengths))


def choice_sample_score(
    response: Response, continuations: Sequence[str], names: Sequence[str], gold: int
) -> SampleScore:
    """``acc`` and ``acc_norm`` of one multiple-choice answer. ``continuations`` are the choice texts whose
    length normalises ``acc_norm`` (without the target delimiter, as lm-eval); ``names`` are how results
    name each choice (a label, a letter)."""
    if not isinstance(response, ChoiceScores):
        raise TypeError(f"a multiple-choice task got a {type(response).__name__} response")
    pred, pred_norm = choice_predictions(response.loglikelihoods, continuations)
    return SampleScore(
        extracted=names[pred],
        gold=names[gold],
        scores={"acc": float(pred == gold), "acc_norm": float(pred_norm == gold)},
        details={"loglikelihoods": list(response.loglikelihoods), "prediction_norm": names[pred_norm]},
    )


@dataclass(frozen=True)
class SumMetric:
    """A count over samples (e.g. unparsable answers); no standard error."""

    name: str

    def aggregate(self, samples: Sequence[SampleScore]) -> MetricValue:
        return MetricValue(
            value=math.fsum(sample.scores[self.name] for sample in samples),
            stderr=None,
            signature=f"{self.name}|agg:sum|n:{len(samples)}",
            unit="count",
        )
