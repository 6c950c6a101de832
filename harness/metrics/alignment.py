"""Cross-lingual alignment of sentence representations (issue 16's building blocks): MEXA and mean cosine.

MEXA (Kargaran et al. 2024; reference code cisnlp/MEXA ``compute_mexa.py``): for one layer, the cosine
similarities of N parallel sentence pairs form a matrix whose rows are the pivot language's sentences (English)
and whose columns are the other language's; pair ``i`` is aligned when its similarity is strictly greater than
every other entry of its row and of its column (a tie is not aligned), and the score is the share of aligned
pairs. Cosines in float64, as the reference computes them. Language Ranker's measure (Li et al. 2024) is the mean
cosine similarity of the parallel pairs (the matrix's diagonal). Pooling over layers (mean, max) is MEXA's
reporting: its hosted scores use the mean over layers for ARC-style tasks and the max for Belebele-style ones.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


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


def mexa_alignment(similarity: np.ndarray) -> float:
    """The share of pairs whose similarity is strictly the largest of its row and of its column."""
    matrix = np.asarray(similarity, dtype=np.float64)
    n = matrix.shape[0]
    if matrix.shape != (n, n) or n == 0:
        raise ValueError(f"a square similarity matrix of at least one pair is needed, got {matrix.shape}")
    diagonal = np.diag(matrix)
    off = matrix.copy()
    np.fill_diagonal(off, -np.inf)  # a single pair has no rival: aligned
    aligned = (diagonal > off.max(axis=1)) & (diagonal > off.max(axis=0))
    return float(aligned.mean())


def mean_cosine(similarity: np.ndarray) -> float:
    """The mean similarity of the parallel pairs (the diagonal)."""
    return float(np.mean(np.diag(np.asarray(similarity, dtype=np.float64))))


def pooled(per_layer: Sequence[float]) -> tuple[float, float]:
    """(mean, max) of a score over layers."""
    values = np.asarray(per_layer, dtype=np.float64)
    if values.size == 0:
        raise ValueError("no layers to pool")
    return float(values.mean()), float(values.max())
