"""Paired significance on per-item data: two runs scored on the same items, compared item by item.

Items are parallel across runs (the same ``id`` is the same question), so differences between two runs are
tested on the pairs, not on two independent samples: the noise that comes from which items happen to be in
a benchmark cancels out, and far smaller differences are detectable.

- **Exact McNemar** for binary per-item scores (accuracy, exact match). Only the discordant pairs carry
  information: ``b`` items right in the baseline and wrong in the candidate, ``c`` the other way round.
  Under "no difference" each discordant item is a fair coin, so ``p = min(1, 2 * P[Binomial(b + c, 1/2)
  <= min(b, c)])`` (McNemar 1947; the exact form is statsmodels' ``mcnemar(exact=True)``). Computed with
  integer binomial coefficients, so it stays exact for any number of items.
- **Paired bootstrap** for any metric, and the test used where per-item scores are not 0/1: corpus metrics
  (chrF++, BLEU, F1 over classes), whose value is not a mean of per-item numbers, and means of graded scores
  (token F1) (Koehn 2004, "Statistical significance tests for machine translation evaluation"). Resample
  ``r`` draws ``n`` item positions with replacement, ``numpy.random.default_rng(seed).integers(0, n,
  size=n)`` (the ``r``-th such draw), recomputes the metric on *both* runs with those same items, and keeps
  the difference ``d_r``. The interval is the percentile interval of the ``d_r``; the two-sided p-value
  shifts the bootstrap distribution to the null (Berg-Kirkpatrick et al. 2012): ``p = (1 + #{|d_r - d| >=
  |d|}) / (R + 1)``, where ``d`` is the observed difference. Its resolution is ``1 / (R + 1)``: with many
  languages under Holm, ``R`` must be large (see ``min_p_value``).
- **Holm** (1979) step-down correction of the p-values of a family (the languages of one task and metric):
  controls the family-wise error rate without assuming independence between languages.

Metrics are recomputed with the task's own metric objects, through ``harness.metrics.statistics``: a metric
that owns its sufficient statistics (``harness.api.metric.SufficientStatistics``: means of a per-item score,
sacrebleu's corpus metrics from per-segment statistics, F1 from per-class counts) is evaluated on a resample
from column sums, without copying samples; any other metric is called on the resampled samples
(``metric.aggregate``), which gives the same numbers, only slower. McNemar's test applies where a metric is
the mean of per-item numbers (``harness.api.metric.MeanOfItems``) and those are all 0 or 1.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import NamedTuple, TypeVar

import numpy as np

from harness.api.metric import MeanOfItems, Metric, SampleScore
from harness.metrics.statistics import CHUNK_ELEMENTS, Statistic, statistic_of
from harness.seeds import DEFAULT_SEED

DEFAULT_RESAMPLES = 10_000

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


class McNemarResult(NamedTuple):
    """Exact McNemar test of two runs' binary scores on the same items.

    Attributes:
        b: items right in the baseline and wrong in the candidate.
        c: items wrong in the baseline and right in the candidate.
        n: items compared.
        delta: candidate minus baseline mean score, ``(c - b) / n``.
        p_value: two-sided exact p-value.
    """

    b: int
    c: int
    n: int
    delta: float
    p_value: float


class BootstrapResult(NamedTuple):
    """Paired bootstrap of a metric difference, candidate (``b``) minus baseline (``a``), in the metric's own
    units (a fraction for accuracy, 0-100 for chrF++).

    Attributes:
        delta: the observed difference on all paired items.
        low: lower end of the percentile interval of the resampled differences.
        high: upper end of that interval.
        p_value: two-sided p-value of "no difference" (``1`` when ``delta`` is 0).
    """

    delta: float
    low: float
    high: float
    p_value: float


# -- pairing ------------------------------------------------------------------------------------------------
def pair_by_id(a: Mapping[K, T], b: Mapping[K, T]) -> tuple[list[K], list[T], list[T]]:
    """The ids present in both mappings (in ``a``'s order) and the two runs' entries, position by position."""
    ids = [key for key in a if key in b]
    return ids, [a[key] for key in ids], [b[key] for key in ids]


# -- exact McNemar ------------------------------------------------------------------------------------------
def is_binary(values: Sequence[float]) -> bool:
    """Whether every per-item score is 0 or 1 (the data McNemar's test is for)."""
    return all(value in (0.0, 1.0) for value in values)


def mcnemar_exact(baseline: Sequence[float], candidate: Sequence[float]) -> McNemarResult:
    """Exact two-sided McNemar test of binary per-item scores, paired by position.

    Raises:
        ValueError: different lengths, no items, or a score that is not 0 or 1.
    """
    if len(baseline) != len(candidate):
        raise ValueError(f"McNemar needs paired scores: {len(baseline)} baseline vs {len(candidate)} candidate")
    if not baseline:
        raise ValueError("McNemar of no items")
    if not (is_binary(baseline) and is_binary(candidate)):
        raise ValueError("McNemar needs binary per-item scores (0 or 1)")
    b = sum(1 for x, y in zip(baseline, candidate, strict=True) if x == 1.0 and y == 0.0)
    c = sum(1 for x, y in zip(baseline, candidate, strict=True) if x == 0.0 and y == 1.0)
    return McNemarResult(b=b, c=c, n=len(baseline), delta=(c - b) / len(baseline), p_value=_binomial_two_sided(b, c))


def _binomial_two_sided(b: int, c: int) -> float:
    """``min(1, 2 * P[Binomial(b + c, 1/2) <= min(b, c)])`` from integer coefficients (exact; Python's int
    division rounds the final ratio correctly however large the numbers get)."""
    discordant = b + c
    tail = sum(math.comb(discordant, k) for k in range(min(b, c) + 1))
    return min(1.0, 2 * tail / 2**discordant)


# -- Holm ---------------------------------------------------------------------------------------------------
def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values, in the order given: the ``i``-th smallest is multiplied by ``m - i`` (``i``
    from 0), made non-decreasing in that order, and capped at 1 (statsmodels' ``multipletests(method="holm")``).
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda index: p_values[index])
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def min_p_value(n_resamples: int) -> float:
    """The smallest p-value a paired bootstrap with ``n_resamples`` can give (before any correction)."""
    return 1.0 / (n_resamples + 1)


# -- a metric on resampled items ----------------------------------------------------------------------------
def per_item_scores(metric: Metric, samples: Sequence[SampleScore]) -> list[float] | None:
    """The per-item numbers a metric averages (accuracy's 0/1 per item), or None when the metric is not a mean
    of per-item scores (chrF++, F1 over classes, or a metric that does not say: ``MeanOfItems``)."""
    return metric.item_values(samples) if isinstance(metric, MeanOfItems) else None


def item_statistic(metric: Metric, samples: Sequence[SampleScore]) -> Statistic:
    """The metric's value on resamples of ``samples``: item positions (resamples x n) -> values
    (``harness.metrics.statistics.statistic_of``)."""
    return statistic_of(metric, samples)


def metric_value(metric: Metric, samples: Sequence[SampleScore]) -> float:
    """The metric on all of ``samples`` (what ``metric.aggregate(samples).value`` gives, without its stderr)."""
    if not samples:
        raise ValueError(f"{metric.name}: no samples")
    return float(item_statistic(metric, samples)(np.arange(len(samples))[None, :])[0])


# -- paired bootstrap ---------------------------------------------------------------------------------------
def paired_bootstrap(
    a_samples: Sequence[SampleScore],
    b_samples: Sequence[SampleScore],
    metric: Metric,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = 0.95,
) -> BootstrapResult:
    """Paired bootstrap of ``metric(b) - metric(a)`` on items paired by position.

    Args:
        a_samples: the baseline's scored items (rebuild them from samples.jsonl as ``SampleScore(extracted,
            gold, scores, details)``).
        b_samples: the candidate's scored items, ``b_samples[i]`` the same item as ``a_samples[i]``
            (``pair_by_id`` pairs two runs by item id).
        metric: the task's metric object (``get_task(name).metrics(variant)``); any ``Metric`` works.
        n_resamples: bootstrap resamples ``R``; the smallest p-value possible is ``1 / (R + 1)``.
        seed: seed of ``numpy.random.default_rng``; the same seed gives the same resamples.
        confidence: coverage of the percentile interval ``(low, high)``.

    Returns:
        ``BootstrapResult(delta, low, high, p_value)`` in the metric's own units (fractions stay fractions).

    Raises:
        ValueError: unpaired inputs, no items, or fewer than one resample.
    """
    if len(a_samples) != len(b_samples):
        raise ValueError(f"paired bootstrap needs paired samples: {len(a_samples)} vs {len(b_samples)}")
    if not a_samples:
        raise ValueError("paired bootstrap of no items")
    items = np.arange(len(a_samples))
    return bootstrap_statistics(
        item_statistic(metric, a_samples),
        items,
        item_statistic(metric, b_samples),
        items,
        n_resamples,
        seed,
        confidence,
    )


def bootstrap_statistics(
    statistic_a: Statistic,
    items_a: np.ndarray,
    statistic_b: Statistic,
    items_b: np.ndarray,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = 0.95,
) -> BootstrapResult:
    """``paired_bootstrap`` on statistics built once per run (``item_statistic`` over all of a run's samples
    of a language, which may be more than the paired ones): the ``i``-th paired item is ``items_a[i]`` in the
    baseline's samples and ``items_b[i]`` in the candidate's. Resamples draw paired positions ``0..n-1``,
    exactly as ``paired_bootstrap`` does."""
    n = len(items_a)
    if n != len(items_b) or n == 0:
        raise ValueError(f"paired bootstrap needs the same positive number of items: {n} vs {len(items_b)}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    delta = float(statistic_b(items_b[None, :])[0] - statistic_a(items_a[None, :])[0])
    rng = np.random.default_rng(seed)
    chunk = max(1, CHUNK_ELEMENTS // n)
    differences = []
    for start in range(0, n_resamples, chunk):
        # Row by row, one (rows x n) draw is the same numbers as ``rows`` successive draws of size n.
        positions = rng.integers(0, n, size=(min(chunk, n_resamples - start), n))
        differences.append(statistic_b(items_b[positions]) - statistic_a(items_a[positions]))
    resampled = np.concatenate(differences)
    tail = (1.0 - confidence) / 2
    low, high = np.quantile(resampled, [tail, 1.0 - tail])
    extreme = int(np.count_nonzero(np.abs(resampled - delta) >= abs(delta)))
    return BootstrapResult(delta=delta, low=float(low), high=float(high), p_value=(1 + extreme) / (n_resamples + 1))


__all__ = [
    "DEFAULT_RESAMPLES",
    "DEFAULT_SEED",
    "BootstrapResult",
    "Statistic",
    "bootstrap_statistics",
    "McNemarResult",
    "holm",
    "is_binary",
    "item_statistic",
    "mcnemar_exact",
    "metric_value",
    "min_p_value",
    "pair_by_id",
    "paired_bootstrap",
    "per_item_scores",
]
