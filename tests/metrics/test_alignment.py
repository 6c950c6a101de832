"""MEXA and mean cosine against a direct implementation of the reference code's definition (cisnlp/MEXA
compute_mexa.py: scipy cosine; strict maximum of row and column; ties not aligned)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cosine

from harness.api.metric import SampleScore
from harness.metrics.alignment import LayerMax, LayerMean, cosine_matrix, layer_curves, mean_cosine, mexa_alignment


def _reference_similarities(pivot: np.ndarray, other: np.ndarray) -> np.ndarray:
    n = len(pivot)
    return np.array([[1 - cosine(pivot[p].astype(np.float64), other[q].astype(np.float64)) for q in range(n)]
                     for p in range(n)])  # fmt: skip


def _reference_mexa(matrix: np.ndarray) -> float:
    count = 0
    for i in range(matrix.shape[0]):
        row, column = matrix[i, :], matrix[:, i]
        if matrix[i, i] > max(np.delete(row, i)) and matrix[i, i] > max(np.delete(column, i)):
            count += 1
    return count / matrix.shape[0]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mexa_and_cosines_equal_the_reference_definition(seed: int) -> None:
    rng = np.random.default_rng(seed)
    pivot = rng.normal(size=(40, 16)).astype(np.float32)
    other = (pivot + rng.normal(scale=1.2, size=pivot.shape)).astype(np.float32)  # partly aligned
    expected = _reference_similarities(pivot, other)
    similarity = cosine_matrix(pivot, other)
    assert np.allclose(similarity, expected, atol=1e-12)
    score = mexa_alignment(similarity)
    assert score == _reference_mexa(expected) and 0 < score < 1
    assert mean_cosine(similarity) == pytest.approx(float(np.mean(np.diag(expected))), abs=1e-12)


def test_ties_count_as_not_aligned() -> None:
    matrix = np.array([[0.9, 0.9, 0.1], [0.2, 0.95, 0.3], [0.1, 0.3, 0.7]])  # pair 0 ties in its row
    assert mexa_alignment(matrix) == _reference_mexa(matrix) == pytest.approx(2 / 3)
    column_tie = np.array([[0.9, 0.2, 0.1], [0.9, 0.95, 0.3], [0.1, 0.3, 0.7]])  # pair 0 ties in its column
    assert mexa_alignment(column_tie) == _reference_mexa(column_tie) == pytest.approx(2 / 3)
    assert mexa_alignment(np.eye(3)) == 1.0 and mexa_alignment(np.ones((3, 3))) == 0.0
    assert mexa_alignment(np.array([[0.3]])) == 1.0  # one pair: nothing to confuse it with


def test_layer_curves_hold_each_layers_mexa_and_cosines() -> None:
    rng = np.random.default_rng(3)
    pivot = rng.normal(size=(4, 30, 8))
    other = pivot + rng.normal(scale=np.array([0.3, 1.0, 2.0, 5.0])[:, None, None], size=pivot.shape)
    flags, cosines = layer_curves(pivot, other)
    assert flags.shape == cosines.shape == (30, 4)
    for layer in range(4):
        expected = _reference_similarities(pivot[layer], other[layer])
        assert flags[:, layer].mean() == _reference_mexa(expected)
        assert np.allclose(cosines[:, layer], np.diag(expected), atol=1e-12)
    assert flags[:, 0].mean() > flags[:, 3].mean()  # less noise, more pairs aligned


def _curve_samples(rows: np.ndarray) -> list[SampleScore]:
    return [SampleScore(None, None, {}, {"aligned_weighted": [int(v) for v in row]}) for row in rows]


def test_mean_and_max_over_layers_and_their_sufficient_statistics() -> None:
    rows = np.array([[1, 0, 1], [1, 1, 0], [0, 1, 1], [0, 1, 1]])  # 4 pairs, 3 layers: per layer .5 .75 .75
    samples = _curve_samples(rows)
    mean, best = LayerMean("mexa_mean", "aligned_weighted"), LayerMax("mexa_max", "aligned_weighted")
    assert mean.aggregate(samples).value == pytest.approx(2 / 3)  # mean of .5, .75, .75
    assert best.aggregate(samples).value == 0.75
    assert (
        best.aggregate(samples).signature
        == "mexa_max|curve:aligned_weighted|layers:max|pairs:4|stderr:best_layer_sample_std_ddof1/sqrt(n)"
    )
    assert mean.item_values(samples) == pytest.approx([2 / 3, 2 / 3, 2 / 3, 2 / 3])
    counts = np.array([2.0, 0.0, 1.0, 0.0])  # a resample: pair 0 twice, pair 2 once
    for metric in (mean, best):
        totals = (counts @ metric.item_statistics(samples))[None, :]
        resampled = _curve_samples(np.array([rows[0], rows[0], rows[2]]))
        assert metric.value_from_totals(totals, np.array([3.0]))[0] == pytest.approx(metric.aggregate(resampled).value)
    with pytest.raises(ValueError, match="different lengths"):
        mean.aggregate([*samples, SampleScore(None, None, {}, {"aligned_weighted": [1]})])


def test_bad_shapes() -> None:
    with pytest.raises(ValueError, match="one shape"):
        layer_curves(np.ones((2, 3, 4)), np.ones((2, 2, 4)))
    with pytest.raises(ValueError, match="same shape|one shape"):
        cosine_matrix(np.ones((3, 4)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="square"):
        mexa_alignment(np.ones((2, 3)))
