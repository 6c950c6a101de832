"""Cross-lingual alignment of sentence representations (issue 16's building blocks): MEXA and mean cosine.

MEXA (Kargaran et al. 2024; reference code cisnlp/MEXA ``compute_mexa.py``): for one layer, the cosine
similarities of N parallel sentence pairs form a matrix whose rows are the pivot language's sentences (English)
and whose columns are the other language's; pair ``i`` is aligned when its similarity is strictly greater than
every other entry of its row and of its column (a tie is not aligned), and the score is the share of aligned
pairs. Cosines in float64, as the reference computes them. Language Ranker's measure (Li et al. 2024) is the mean
cosine similarity of the parallel pairs (the matrix's diagonal). Pooling over layers (mean, max) is MEXA's
reporting: its hosted scores use the mean over layers for ARC-style tasks and the max for Belebele-style ones.

Per item: pair ``i``'s per-layer flags (aligned or not) and cosines are its *curves* (kept in ``samples.jsonl``);
a language's MEXA at one layer is the mean of its pairs' flags there, so the mean over layers is the mean of each
pair's mean flag (``LayerMean``), while the max over layers needs every layer's column (``LayerMax``). Both own
their sufficient statistics (the curves), so bootstrap intervals and paired tests work on them as on accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from harness.api.metric import MetricValue, SampleScore, Unit, mean_stderr


def cosine_matrix(pivot: np.ndarray, other: np.ndarray) -> np.ndarray:
    """(N, N) cosine similarities in float64: row ``i`` is the pivot's sentence ``i``, column ``j`` the other
    language's sentence ``j``. A zero vector has similarity 0 with everything."""
    a, b = np.asarray(pivot, dtype=np.float64), np.asarray(other, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"parallel sentence vectors must have one shape (N, dim): {a.shape} vs {b.shape}")
    a_norm, b_norm = np.linalg.norm(a, axis=1, keepdims=True), np.linalg.norm(b, axis=1, keepdims=True)
    a_unit = np.divide(a, a_norm, out=np.zeros_like(a), where=a_norm > 0)
    b_unit = np.divide(b, b_norm, out=np.zeros_like(b), where=b_norm > 0)
    return a_unit @ b_unit.T


def aligned_pairs(similarity: np.ndarray) -> np.ndarray:
    """Per pair, whether its similarity is strictly the largest of its row and of its column (bool, (N,))."""
    matrix = np.asarray(similarity, dtype=np.float64)
    n = matrix.shape[0]
    if matrix.shape != (n, n) or n == 0:
        raise ValueError(f"a square similarity matrix of at least one pair is needed, got {matrix.shape}")
    diagonal = np.diag(matrix)
    off = matrix.copy()
    np.fill_diagonal(off, -np.inf)  # a single pair has no rival: aligned
    return (diagonal > off.max(axis=1)) & (diagonal > off.max(axis=0))  # type: ignore[no-any-return]


def mexa_alignment(similarity: np.ndarray) -> float:
    """The share of pairs whose similarity is strictly the largest of its row and of its column."""
    return float(aligned_pairs(similarity).mean())


def layer_curves(pivot: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """From (layers, N, dim) vectors of N parallel sentences in the pivot and the other language: each pair's
    per-layer MEXA flag (0/1) and cosine, both (N, layers) float64."""
    if pivot.shape != other.shape or pivot.ndim != 3:
        raise ValueError(f"parallel vectors must have one shape (layers, N, dim): {pivot.shape} vs {other.shape}")
    flags, cosines = [], []
    for layer in range(pivot.shape[0]):
        similarity = cosine_matrix(pivot[layer], other[layer])
        flags.append(aligned_pairs(similarity).astype(np.float64))
        cosines.append(np.diag(similarity).copy())
    return np.stack(flags, axis=1), np.stack(cosines, axis=1)


def mean_cosine(similarity: np.ndarray) -> float:
    """The mean similarity of the parallel pairs (the diagonal)."""
    return float(np.mean(np.diag(np.asarray(similarity, dtype=np.float64))))


@dataclass(frozen=True)
class _LayerCurveMetric:
    """A metric over each pair's per-layer curve ``details[curve]``: its sufficient statistics are the curves."""

    name: str
    curve: str
    description: str = ""

    def item_statistics(self, samples: Sequence[SampleScore]) -> np.ndarray:
        """One column per layer: the pair's curve."""
        return curve_rows(self.curve, samples)

    @staticmethod
    def _per_layer(totals: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """(rows, layers): each resample's mean over pairs at every layer."""
        return np.asarray(totals, dtype=np.float64) / np.asarray(counts, dtype=np.float64)[:, None]


@dataclass(frozen=True)
class LayerMean(_LayerCurveMetric):
    """The mean over layers of a per-layer alignment score, each layer's the mean over pairs of the curve
    ``curve`` (a key of each sample's details): MEXA's "mean" pooling, or Language Ranker's cosine averaged over
    layers. Equal to the mean over pairs of each pair's mean over layers, which is its per-sample score
    ``scores[name]`` (stderr: theirs, ddof 1)."""

    def aggregate(self, samples: Sequence[SampleScore]) -> MetricValue:
        rows = self.item_statistics(samples)
        values = rows.mean(axis=1)
        return MetricValue(
            value=float(values.mean()),
            stderr=mean_stderr(list(values)),
            signature=_signature(self.name, self.curve, "mean", rows, "sample_std_ddof1(pair_means)/sqrt(n)"),
            unit=Unit.FRACTION,
        )

    def item_values(self, samples: Sequence[SampleScore]) -> list[float]:
        """Each pair's mean over layers."""
        return [float(value) for value in self.item_statistics(samples).mean(axis=1)]

    def value_from_totals(self, totals: np.ndarray, counts: np.ndarray) -> np.ndarray:
        return self._per_layer(totals, counts).mean(axis=1)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class LayerMax(_LayerCurveMetric):
    """The best layer's score: the max over layers of the mean over pairs of the curve ``curve`` (MEXA's "max"
    pooling). Its stderr is that of the best layer's pair values (the layer's choice is not resampled)."""

    def aggregate(self, samples: Sequence[SampleScore]) -> MetricValue:
        rows = self.item_statistics(samples)
        per_layer = rows.mean(axis=0)
        best = int(per_layer.argmax())
        return MetricValue(
            value=float(per_layer[best]),
            stderr=mean_stderr(list(rows[:, best])),
            signature=_signature(self.name, self.curve, "max", rows, "best_layer_sample_std_ddof1/sqrt(n)"),
            unit=Unit.FRACTION,
        )

    def value_from_totals(self, totals: np.ndarray, counts: np.ndarray) -> np.ndarray:
        return self._per_layer(totals, counts).max(axis=1)  # type: ignore[no-any-return]


def curve_rows(curve: str, samples: Sequence[SampleScore]) -> np.ndarray:
    """(samples, layers) float64: each sample's per-layer values under ``details[curve]``.

    Raises:
        ValueError: no samples, or curves of different lengths (samples of different models).
    """
    if not samples:
        raise ValueError(f"no samples to pool {curve!r} over")
    lengths = {len(sample.details[curve]) for sample in samples}
    if len(lengths) != 1:
        raise ValueError(f"{curve!r} curves of different lengths {sorted(lengths)}: samples of different models")
    return np.asarray([sample.details[curve] for sample in samples], dtype=np.float64)


def _signature(name: str, curve: str, pooling: str, rows: np.ndarray, stderr: str) -> str:
    """How the value was computed (never what it came out as: not the best layer, nor the model's depth, so that
    models of different depths share a column)."""
    return f"{name}|curve:{curve}|layers:{pooling}|pairs:{rows.shape[0]}|stderr:{stderr}"
