"""The metric protocol of the plugin API: per-sample scores, then aggregation with a standard error.

A task's ``score`` turns one example's responses into a ``SampleScore``; a ``Metric`` aggregates the samples of
one language into a ``MetricValue`` that carries its signature (how it was computed), so a number in a results
file can always be reproduced. Implementations live in ``harness.metrics``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


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
