"""Paired statistics checked against direct computations on the same data: scipy's binomial test and
statsmodels' McNemar for the exact test, statsmodels' Holm, and a literal bootstrap loop that calls each
metric's own ``aggregate`` on every resample."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binomtest
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from harness.analysis.paired_stats import (
    BootstrapResult,
    bootstrap_statistics,
    holm,
    item_statistic,
    mcnemar_exact,
    metric_value,
    min_p_value,
    pair_by_id,
    paired_bootstrap,
    per_item_scores,
)
from harness.api.metric import Metric, MetricValue, SampleScore
from harness.metrics.classification import MacroF1, WeightedF1
from harness.metrics.mean import MeanMetric, SumMetric
from harness.metrics.qa import QaMeanMetric
from harness.metrics.translation import Bleu, ChrF
from tasks.sib200 import LABELS

HAND_RESAMPLES = 150  # the literal loop calls aggregate 2 x this many times per metric


def _hand_bootstrap(
    a: Sequence[SampleScore], b: Sequence[SampleScore], metric: Metric, resamples: int, seed: int
) -> BootstrapResult:
    """The paired bootstrap written out: resample r is the r-th ``integers(0, n, size=n)`` draw; the metric
    is aggregated on both runs' resampled lists."""
    rng = np.random.default_rng(seed)
    n = len(a)
    delta = metric.aggregate(b).value - metric.aggregate(a).value
    differences = []
    for _ in range(resamples):
        positions = rng.integers(0, n, size=n)
        differences.append(
            metric.aggregate([b[i] for i in positions]).value - metric.aggregate([a[i] for i in positions]).value
        )
    low, high = np.quantile(differences, [0.025, 0.975])
    extreme = sum(abs(d - delta) >= abs(delta) for d in differences)
    return BootstrapResult(delta, float(low), float(high), (1 + extreme) / (resamples + 1))


def _close(ours: BootstrapResult, theirs: BootstrapResult) -> None:
    assert ours.delta == pytest.approx(theirs.delta, abs=1e-9)
    assert ours.low == pytest.approx(theirs.low, abs=1e-9)
    assert ours.high == pytest.approx(theirs.high, abs=1e-9)
    assert ours.p_value == pytest.approx(theirs.p_value, abs=1e-12)


# -- McNemar ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("n", "p_a", "p_b", "seed"), [(60, 0.35, 0.35, 0), (60, 0.6, 0.3, 1), (5010, 0.5, 0.52, 2)])
def test_mcnemar_matches_statsmodels_and_scipy(n: int, p_a: float, p_b: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = (rng.random(n) < p_a).astype(float).tolist()
    b = (rng.random(n) < p_b).astype(float).tolist()
    result = mcnemar_exact(a, b)
    pairs = list(zip(a, b, strict=True))
    table = [[pairs.count((1.0, 1.0)), pairs.count((1.0, 0.0))], [pairs.count((0.0, 1.0)), pairs.count((0.0, 0.0))]]
    assert (result.b, result.c, result.n) == (table[0][1], table[1][0], n)
    assert result.delta == pytest.approx(np.mean(b) - np.mean(a))
    assert result.p_value == pytest.approx(mcnemar(table, exact=True).pvalue, rel=1e-9)
    scipy_p = binomtest(min(result.b, result.c), result.b + result.c, 0.5).pvalue
    assert result.p_value == pytest.approx(scipy_p, rel=1e-9)


def test_mcnemar_extremes() -> None:
    same = [1.0, 0.0, 1.0]
    assert mcnemar_exact(same, same).p_value == 1.0  # no discordant pair
    all_lost = mcnemar_exact([1.0] * 20, [0.0] * 20)
    assert (all_lost.b, all_lost.c, all_lost.delta) == (20, 0, -1.0)
    assert all_lost.p_value == pytest.approx(2 * 0.5**20)
    with pytest.raises(ValueError, match="binary"):
        mcnemar_exact([0.5], [1.0])
    with pytest.raises(ValueError, match="paired"):
        mcnemar_exact([1.0], [1.0, 0.0])


# -- Holm ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_holm_matches_statsmodels(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p_values = [*rng.random(7) ** 3, 0.01, 0.01, 1.0]  # ties and a 1 included
    reject, corrected, *_ = multipletests(p_values, alpha=0.05, method="holm")
    assert holm(p_values) == pytest.approx(list(corrected), abs=1e-15)
    assert [p <= 0.05 for p in holm(p_values)] == list(reject)


def test_holm_of_one_and_none() -> None:
    assert holm([0.03]) == [0.03]
    assert holm([]) == []


# -- paired bootstrap against the literal loop --------------------------------------------------------------
def _sentences(data_dir: Path, code: str, count: int) -> list[str]:
    path = data_dir / "flores200" / "flores200_dataset" / "devtest" / f"{code}.devtest"
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()[:count]]


def _translation_runs(data_dir: Path) -> tuple[list[SampleScore], list[SampleScore]]:
    """Real FLORES references; the baseline 'translates' by copying the English source, the candidate copies
    only its first half (a worse system on most sentences, not on all)."""
    references, sources = _sentences(data_dir, "deu_Latn", 24), _sentences(data_dir, "eng_Latn", 24)
    a = [SampleScore(source, reference, {}) for source, reference in zip(sources, references, strict=True)]
    b = [
        SampleScore(source[: len(source) // 2] if i % 3 else source, reference, {})
        for i, (source, reference) in enumerate(zip(sources, references, strict=True))
    ]
    return a, b


def _classification_runs(seed: int, n: int = 80) -> tuple[list[SampleScore], list[SampleScore]]:
    rng = np.random.default_rng(seed)
    golds = rng.integers(0, len(LABELS), size=n)
    right_a, right_b = rng.random(n) < 0.6, rng.random(n) < 0.45
    guesses_a, guesses_b = rng.integers(0, len(LABELS), size=n), rng.integers(0, len(LABELS), size=n)

    def run(right: np.ndarray, guesses: np.ndarray) -> list[SampleScore]:
        return [
            SampleScore(LABELS[g if ok else guess], LABELS[g], {"acc": float(ok or guess == g)})
            for g, ok, guess in zip(golds, right, guesses, strict=True)
        ]

    return run(right_a, guesses_a), run(right_b, guesses_b)


@dataclasses.dataclass(frozen=True)
class MedianScore:
    """A metric of a form paired_stats does not know: served by calling ``aggregate`` on each resample."""

    name: str = "median_f1"

    def aggregate(self, samples: Sequence[SampleScore]) -> MetricValue:
        return MetricValue(float(np.median([s.scores["f1"] for s in samples])), None, "median_f1")


def test_bootstrap_of_a_mean_matches_the_loop() -> None:
    a, b = _classification_runs(seed=3)
    _close(
        paired_bootstrap(a, b, MeanMetric("acc"), HAND_RESAMPLES, seed=7),
        _hand_bootstrap(a, b, MeanMetric("acc"), HAND_RESAMPLES, 7),
    )


def test_bootstrap_of_token_f1_and_an_unknown_metric_matches_the_loop() -> None:
    rng = np.random.default_rng(4)
    a = [SampleScore("x", "y", {"f1": float(v)}) for v in rng.random(50)]
    b = [SampleScore("x", "y", {"f1": float(v)}) for v in rng.random(50) * 0.8]
    for metric in (QaMeanMetric("f1", "refs:max"), MedianScore()):
        _close(
            paired_bootstrap(a, b, metric, HAND_RESAMPLES, seed=11), _hand_bootstrap(a, b, metric, HAND_RESAMPLES, 11)
        )


@pytest.mark.parametrize(
    "metric",
    [MacroF1("macro_f1", labels=LABELS), WeightedF1("f1_weighted", labels=LABELS), MacroF1("macro_f1_observed")],
    ids=["macro", "weighted", "macro-observed-classes"],
)
def test_bootstrap_of_f1_matches_the_loop(metric: Metric) -> None:
    a, b = _classification_runs(seed=5, n=30)  # small: some classes drop out of some resamples
    _close(paired_bootstrap(a, b, metric, HAND_RESAMPLES, seed=3), _hand_bootstrap(a, b, metric, HAND_RESAMPLES, 3))


@pytest.mark.parametrize("metric", [ChrF(resamples=2), Bleu(resamples=2)], ids=["chrf++", "bleu"])
def test_bootstrap_of_corpus_translation_metrics_matches_the_loop(metric: Metric, data_dir: Path) -> None:
    # resamples=2: only the metric's own stderr bootstrap, which the value does not depend on, is cut short
    a, b = _translation_runs(data_dir)
    ours = paired_bootstrap(a, b, metric, HAND_RESAMPLES, seed=5)
    _close(ours, _hand_bootstrap(a, b, metric, HAND_RESAMPLES, 5))
    assert ours.delta < 0 and ours.high < 0  # halving most hypotheses is clearly worse


def test_metric_value_is_what_aggregate_gives(data_dir: Path) -> None:
    a, _ = _translation_runs(data_dir)
    for metric in (ChrF(), Bleu()):
        assert metric_value(metric, a) == pytest.approx(metric.aggregate(a).value, abs=1e-12)
    c, _ = _classification_runs(seed=9)
    for classification in (MeanMetric("acc"), MacroF1("macro_f1", labels=LABELS), WeightedF1("w", labels=LABELS)):
        assert metric_value(classification, c) == pytest.approx(classification.aggregate(c).value, abs=1e-12)


def test_per_item_scores_only_of_means() -> None:
    """McNemar's data: the numbers a mean averages (``MeanOfItems``); no per-item numbers for other metrics."""
    a, _ = _classification_runs(seed=8, n=6)
    assert per_item_scores(MeanMetric("acc"), a) == [s.scores["acc"] for s in a]
    assert per_item_scores(QaMeanMetric("acc", "refs:max"), a) == [s.scores["acc"] for s in a]
    for metric in (SumMetric("acc"), MacroF1("macro_f1", labels=LABELS), ChrF(), MedianScore()):
        assert per_item_scores(metric, a) is None


def test_identical_runs_have_no_difference() -> None:
    a, _ = _classification_runs(seed=1)
    result = paired_bootstrap(a, a, MacroF1("macro_f1", labels=LABELS), 500, seed=1)
    assert result == BootstrapResult(0.0, 0.0, 0.0, 1.0)


def test_seeded_and_resolution_limited() -> None:
    a, b = _classification_runs(seed=2)
    metric = MeanMetric("acc")
    assert paired_bootstrap(a, b, metric, 300, seed=4) == paired_bootstrap(a, b, metric, 300, seed=4)
    assert paired_bootstrap(a, b, metric, 300, seed=4) != paired_bootstrap(a, b, metric, 300, seed=5)
    worse = [dataclasses.replace(s, scores={"acc": 0.0}) for s in a]
    assert paired_bootstrap(a, worse, metric, 99, seed=1).p_value == pytest.approx(min_p_value(99)) == 0.01


def test_statistics_on_a_subset_are_the_bootstrap_of_that_subset() -> None:
    """Statistics built on all of a run's items, evaluated at the paired positions, give what the paired
    bootstrap of the paired items alone gives (a run with a larger LIMIT than the other)."""
    a, b = _classification_runs(seed=6, n=60)
    keep_a, keep_b = np.arange(10, 60), np.arange(0, 50)  # item i of a is item i-10 of b
    b_shifted = b[:10] + b  # b's items 0..49 are a's items 10..59
    metric = MacroF1("macro_f1", labels=LABELS)
    subset = bootstrap_statistics(
        item_statistic(metric, a), keep_a, item_statistic(metric, b_shifted[10:]), keep_b, 200, 8
    )
    direct = paired_bootstrap(a[10:], b_shifted[10:60], metric, 200, 8)
    _close(subset, direct)


def test_pairing_and_bad_input() -> None:
    ids, left, right = pair_by_id({"2": "a2", "1": "a1", "3": "a3"}, {"1": "b1", "2": "b2", "9": "b9"})
    assert (ids, left, right) == (["2", "1"], ["a2", "a1"], ["b2", "b1"])
    a, b = _classification_runs(seed=0, n=5)
    with pytest.raises(ValueError, match="paired"):
        paired_bootstrap(a, b[:4], MeanMetric("acc"))
    with pytest.raises(ValueError, match="no items"):
        paired_bootstrap([], [], MeanMetric("acc"))
    with pytest.raises(ValueError, match="not among the declared classes"):
        paired_bootstrap(a, [dataclasses.replace(s, extracted="weather") for s in b], MacroF1("m", labels=LABELS))
