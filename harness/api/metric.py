"""The metric protocol of the plugin API: per-sample scores, then aggregation with a standard error.

A task's ``score`` turns one example's responses into a ``SampleScore``; a ``Metric`` aggregates the samples of
one language into a ``MetricValue`` that carries its signature (how it was computed) and its ``Unit``, so a
number in a results file can always be reproduced and read. Implementations live in ``harness.metrics``.

A metric may also own its *sufficient statistics*, as sacrebleu's metrics do (``SufficientStatistics``): then
its value on any resample of the items is computed from column sums, without copying samples, which is what
makes the bootstrap and paired significance tests of ``harness.analysis.paired_stats`` fast. A metric whose
value is the mean of one number per item also says so (``MeanOfItems``), for tests made for such numbers
(McNemar's on 0/1 scores). Both are optional: ``harness.metrics.statistics.statistic_of`` serves any other
metric by calling its ``aggregate`` on every resample (the same numbers, only slower).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol, runtime_checkable

import numpy as np


class Unit(str, Enum):
    """The unit of a metric value: how to read it and how tables show it.

    A ``str`` subclass: a member equals (and hashes as) its plain string, so ``results.json`` holds
    ``"fraction"``, ``"score"`` or ``"count"`` and code comparing with those strings keeps working.

    - ``FRACTION``: 0..1 (accuracy, F1), shown as a percentage (x100).
    - ``SCORE``: already on a 0..100 scale (sacrebleu's BLEU and chrF++), shown as it is.
    - ``COUNT``: a number of samples (unparsable answers), shown as it is.
    """

    FRACTION = "fraction"
    SCORE = "score"
    COUNT = "count"

    def __str__(self) -> str:
        return self.value  # "fraction", not "Unit.FRACTION" (CSV cells, f-strings)

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @classmethod
    def of(cls, text: str) -> Unit:
        """The unit named ``text`` (a member passes through).

        Raises:
            ValueError: ``text`` names no unit; the message lists the known ones.
        """
        try:
            return cls(text)
        except ValueError:
            known = ", ".join(repr(unit.value) for unit in cls)
            raise ValueError(f"unknown metric unit {text!r}: expected one of {known}") from None

    @property
    def scale(self) -> float:
        """What a value is multiplied by to be shown: 100 for a fraction, 1 otherwise."""
        return _SCALE[self]

    @property
    def label(self) -> str:
        """The unit as a header names it: ``"%"``, ``"0-100"`` or ``"count"``."""
        return _LABEL[self]

    def heading(self, name: str) -> str:
        """A metric's name as a table heading: ``"acc (%)"``, ``"chrf++ (0-100)"``; a count's name alone
        (``"unparsable"`` already says what is counted)."""
        return name if self is Unit.COUNT else f"{name} ({self.label})"

    def points(self, value: float) -> float:
        """``value`` on the scale it is shown on (a fraction as percent). Differences convert the same way:
        a difference of two fractions becomes percentage points."""
        return value * self.scale

    # Shadows str.format on purpose: a unit is never a format template, and "unit.format(value)" reads right.
    def format(self, value: float, *, signed: bool = False, digits: int = 1, minus: str = "-") -> str:  # type: ignore[override]
        """``value`` as tables show it: in points, rounded to ``digits`` decimals, never ``-0.0``.

        Args:
            value: a metric value (or a difference, a standard error) in this unit.
            signed: always print the sign (differences): ``+1.5``.
            digits: decimals after the point.
            minus: the minus sign to print (``"−"`` for typeset tables).

        Returns:
            e.g. ``Unit.FRACTION.format(0.4567)`` is ``"45.7"``, ``Unit.SCORE.format(-0.04, signed=True)`` is
            ``"+0.0"``.
        """
        shown = round(self.points(value), digits) + 0.0  # + 0.0 turns a -0.0 into 0.0
        text = f"{shown:+.{digits}f}" if signed else f"{shown:.{digits}f}"
        return text.replace("-", minus)


_SCALE = {Unit.FRACTION: 100.0, Unit.SCORE: 1.0, Unit.COUNT: 1.0}
_LABEL = {Unit.FRACTION: "%", Unit.SCORE: "0-100", Unit.COUNT: "count"}


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
    """An aggregated metric. ``unit`` says how to read ``value`` (a plain string such as ``"score"`` is taken
    as its ``Unit``; an unknown one raises ValueError)."""

    value: float
    stderr: float | None
    signature: str
    unit: Unit = Unit.FRACTION

    def __post_init__(self) -> None:
        object.__setattr__(self, "unit", Unit.of(self.unit))


class Metric(Protocol):
    """Aggregates per-sample scores of one language. ``name`` is the key in results files.

    A metric may also implement ``SufficientStatistics`` and ``MeanOfItems``; a subclass that changes
    ``aggregate`` must change those methods with it.
    """

    @property
    def name(self) -> str: ...

    def aggregate(self, samples: Sequence[SampleScore]) -> MetricValue: ...


@runtime_checkable
class SufficientStatistics(Protocol):
    """A metric whose value is a function of column sums of per-item statistics (sacrebleu's design).

    Contract, for samples ``s_1..s_n`` and ``S = item_statistics([s_1..s_n])`` (an ``n x k`` float array):
    for any multiset of those items, item ``i`` taken ``c_i`` times (``c`` not all 0),
    ``value_from_totals((c @ S)[None, :], np.array([c.sum()]))[0]`` equals ``aggregate`` of that multiset's
    samples (up to floating-point summation order). ``k`` and the meaning of the columns may depend on the
    samples given (F1 over the classes observed in them): totals are only ever sums of rows of one
    ``item_statistics`` call.
    """

    def item_statistics(self, samples: Sequence[SampleScore]) -> np.ndarray:
        """One row of sufficient statistics per sample: an ``(len(samples), k)`` float64 array.

        Raises:
            ValueError, TypeError: what ``aggregate`` raises on these samples (a label outside the declared
                classes, a hypothesis that is not a string).
        """
        ...

    def value_from_totals(self, totals: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Metric values from summed statistics, vectorised.

        Args:
            totals: ``(rows, k)`` column sums of ``item_statistics`` rows, one multiset of items per row.
            counts: ``(rows,)`` how many items (with repeats) each row sums.

        Returns:
            ``(rows,)`` float64 metric values, in the metric's own unit (what ``aggregate(...).value`` gives).
        """
        ...


@runtime_checkable
class MeanOfItems(Protocol):
    """A metric whose value is the mean of one number per item (accuracy: 0/1; token F1: in [0, 1])."""

    def item_values(self, samples: Sequence[SampleScore]) -> list[float]:
        """The per-item numbers averaged, in sample order (a null score, stored for NaN, is NaN)."""
        ...


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
