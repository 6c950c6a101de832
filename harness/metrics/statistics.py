"""A metric's value on many resamples of its items at once, for the bootstrap and paired significance tests.

A resample is a row of item positions (drawn with replacement); a ``Statistic`` maps a ``(resamples, n)``
array of positions to one metric value per row. ``statistic_of`` builds it from the metric's own sufficient
statistics (``harness.api.metric.SufficientStatistics``): how often each item is drawn, times the per-item
statistics, gives the column sums that the metric turns into values. A metric without that protocol (a
third-party plugin's) is served by calling its ``aggregate`` on every resample: the same numbers, slower.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from harness.api.metric import Metric, SampleScore, SufficientStatistics

# Metric values of many resamples at once: item positions (resamples x n) -> one value per resample.
Statistic = Callable[[np.ndarray], np.ndarray]

CHUNK_ELEMENTS = 4_000_000  # item positions counted at once (their count matrix is 32 MB of int64)


def item_counts(positions: np.ndarray, n: int) -> np.ndarray:
    """How often each of ``n`` items is drawn in each row of ``positions`` (resamples x draws)."""
    rows = positions.shape[0]
    offsets = positions + n * np.arange(rows, dtype=np.int64)[:, None]
    return np.bincount(offsets.ravel(), minlength=rows * n).reshape(rows, n)


def statistic_of(metric: Metric, samples: Sequence[SampleScore]) -> Statistic:
    """The metric's value on resamples of ``samples``: positions into ``samples`` (resamples x draws) -> values.

    Uses the metric's sufficient statistics when it has them, else ``metric.aggregate`` on each resample.

    Raises:
        ValueError, TypeError: what the metric's ``item_statistics`` raises on these samples (eagerly, before
            any resample), or statistics of the wrong shape.
    """
    if not isinstance(metric, SufficientStatistics):
        return _resampling_statistic(metric, samples)
    stats = np.asarray(metric.item_statistics(samples), dtype=np.float64)
    if stats.ndim != 2 or stats.shape[0] != len(samples):
        raise ValueError(f"{metric.name}: item_statistics gave shape {stats.shape} for {len(samples)} samples")
    finite = np.isfinite(stats).all(axis=0)
    summable, exceptional = np.where(finite, stats, 0.0), np.flatnonzero(~finite)
    n = len(samples)

    def totals(positions: np.ndarray) -> np.ndarray:
        summed = item_counts(positions, n) @ summable
        # Counts times statistics would make 0 * NaN = NaN of an item not drawn: columns holding NaN or inf
        # are summed over the drawn items themselves.
        for column in exceptional:
            summed[:, column] = stats[positions, column].sum(axis=1)
        return summed

    def values(positions: np.ndarray) -> np.ndarray:
        positions = np.asarray(positions, dtype=np.int64)
        if positions.ndim != 2:
            raise ValueError(f"positions must be (resamples x draws), got shape {positions.shape}")
        rows, draws = positions.shape
        chunk = max(1, CHUNK_ELEMENTS // max(1, n, draws))
        parts = [np.zeros(0)]
        for start in range(0, rows, chunk):
            block = positions[start : start + chunk]
            counts = np.full(len(block), draws, dtype=np.int64)
            parts.append(np.asarray(metric.value_from_totals(totals(block), counts), dtype=np.float64))
        return np.concatenate(parts)

    return values


def _resampling_statistic(metric: Metric, samples: Sequence[SampleScore]) -> Statistic:
    """The generic path: the metric aggregated on each resample's list of samples."""

    def values(positions: np.ndarray) -> np.ndarray:
        return np.asarray([metric.aggregate([samples[i] for i in row]).value for row in positions], dtype=np.float64)

    return values


__all__ = ["CHUNK_ELEMENTS", "Statistic", "item_counts", "statistic_of"]
