"""Metrics own their sufficient statistics: for every metric, summed ``item_statistics`` turned into values by
``value_from_totals`` are its own ``aggregate`` on the same (multi)set of items; ``statistic_of`` serves a
metric without that protocol through ``aggregate``."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pytest

from harness.analysis.paired_stats import paired_bootstrap
from harness.api.metric import MeanOfItems, Metric, MetricValue, SampleScore, SufficientStatistics
from harness.metrics import statistics
from harness.metrics.classification import MacroF1, WeightedF1
from harness.metrics.mean import MeanMetric, SumMetric
from harness.metrics.qa import QaMeanMetric
from harness.metrics.statistics import statistic_of
from harness.metrics.translation import Bleu, ChrF

LABELS = ("yes", "no", "maybe", "never")
REFERENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "A stitch in time saves nine, says the old proverb.",
    "Rain is expected in the north of the country tomorrow.",
    "She sold her first painting when she was twelve years old.",
    "The committee will meet again after the summer holidays.",
    "Trains to the airport leave every fifteen minutes.",
)


def _scored(n: int = 24, seed: int = 0) -> list[SampleScore]:
    """Classification-like samples: a predicted and a gold label (only three of the four labels occur),
    0/1 accuracy, a graded f1 and an unparsable flag."""
    rng = np.random.default_rng(seed)
    golds, guesses = rng.integers(0, 3, size=n), rng.integers(0, 3, size=n)
    right = rng.random(n) < 0.5
    return [
        SampleScore(
            extracted=LABELS[g if ok else guess],
            gold=LABELS[g],
            scores={"acc": float(ok or g == guess), "f1": float(f1), "unparsable": float(f1 < 0.2)},
        )
        for g, guess, ok, f1 in zip(golds, guesses, right, rng.random(n), strict=True)
    ]


def _translated() -> list[SampleScore]:
    hypotheses = [" ".join(ref.split()[: 3 + i]) for i, ref in enumerate(REFERENCES)]
    return [SampleScore(h, r, {}) for h, r in zip(hypotheses, REFERENCES, strict=True)]


SCORED_METRICS: list[Metric] = [
    MeanMetric("acc"),
    QaMeanMetric("f1", "refs:max"),
    SumMetric("unparsable"),
    MacroF1("macro_f1", labels=LABELS),
    WeightedF1("f1_weighted", labels=LABELS),
    MacroF1("macro_f1_observed"),
    WeightedF1("f1_weighted_observed"),
]
TRANSLATION_METRICS: list[Metric] = [ChrF(resamples=2), Bleu(resamples=2)]  # resamples: only the stderr's


def _cases() -> list[tuple[Metric, list[SampleScore]]]:
    return [(m, _scored()) for m in SCORED_METRICS] + [(m, _translated()) for m in TRANSLATION_METRICS]


def _ids() -> list[str]:
    return [m.name for m in SCORED_METRICS + TRANSLATION_METRICS]


@pytest.mark.parametrize(("metric", "samples"), _cases(), ids=_ids())
def test_summed_statistics_give_the_aggregate(metric: Metric, samples: list[SampleScore]) -> None:
    assert isinstance(metric, SufficientStatistics)
    stats = metric.item_statistics(samples)
    assert stats.dtype == np.float64 and stats.ndim == 2 and stats.shape[0] == len(samples)
    value = metric.value_from_totals(stats.sum(axis=0)[None, :], np.array([len(samples)]))
    assert value.shape == (1,)
    assert value[0] == pytest.approx(metric.aggregate(samples).value, abs=1e-12)


@pytest.mark.parametrize(("metric", "samples"), _cases(), ids=_ids())
def test_any_multiset_of_items_gives_the_aggregate(metric: Metric, samples: list[SampleScore]) -> None:
    assert isinstance(metric, SufficientStatistics)
    stats = metric.item_statistics(samples)
    rng = np.random.default_rng(1)
    counts = rng.integers(0, 3, size=(8, len(samples)))
    counts[0] = 0
    counts[0, 2] = 4  # one item repeated: F1 with most classes absent
    values = metric.value_from_totals(counts @ stats, counts.sum(axis=1))
    expected = [
        metric.aggregate([s for s, c in zip(samples, row, strict=True) for _ in range(c)]).value for row in counts
    ]
    assert values == pytest.approx(expected, abs=1e-12)


def test_only_means_give_their_per_item_values() -> None:
    samples = _scored()
    means = [m for m in SCORED_METRICS + TRANSLATION_METRICS if isinstance(m, MeanOfItems)]
    assert [m.name for m in means] == ["acc", "f1"]
    assert MeanMetric("acc").item_values(samples) == [s.scores["acc"] for s in samples]


@pytest.mark.parametrize(("metric", "samples"), _cases(), ids=_ids())
def test_statistic_of_resamples_is_the_aggregate_of_each(
    metric: Metric, samples: list[SampleScore], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(statistics, "CHUNK_ELEMENTS", 3 * len(samples))  # several chunks of 3 resamples
    positions = np.random.default_rng(2).integers(0, len(samples), size=(10, len(samples)))
    expected = [metric.aggregate([samples[i] for i in row]).value for row in positions]
    assert statistic_of(metric, samples)(positions) == pytest.approx(expected, abs=1e-12)


def test_a_null_score_only_touches_resamples_that_draw_it() -> None:
    # None: how results store NaN
    samples = [SampleScore(None, None, {"acc": v}) for v in (1.0, 0.0, None, 1.0)]  # type: ignore[dict-item]
    values = statistic_of(MeanMetric("acc"), samples)(np.array([[0, 1, 3, 3], [0, 2, 1, 1]]))
    assert values[0] == 0.75 and np.isnan(values[1])


def test_statistics_raise_what_aggregate_raises() -> None:
    samples = [dataclasses.replace(s, extracted="whatever") for s in _scored(4)]
    with pytest.raises(ValueError, match=r"labels \['whatever'\] are not among the declared classes"):
        statistic_of(MacroF1(labels=LABELS), samples)
    with pytest.raises(TypeError, match="hypothesis as a string"):
        statistic_of(ChrF(), [SampleScore(None, "a reference", {})])
    with pytest.raises(ValueError, match="no samples"):
        ChrF().item_statistics([])


@dataclasses.dataclass(frozen=True)
class TrimmedMean:
    """A third-party metric without the statistics protocol: the mean of ``f1`` without its extremes."""

    name: str = "trimmed_f1"

    def aggregate(self, samples: Sequence[SampleScore]) -> MetricValue:
        values = sorted(s.scores["f1"] for s in samples)
        kept = values[1:-1] or values
        return MetricValue(sum(kept) / len(kept), None, "trimmed_f1")


@dataclasses.dataclass(frozen=True)
class Precision:
    """A third-party metric with the protocol: a ratio of two sums (right answers over answered ones)."""

    name: str = "precision"

    def aggregate(self, samples: Sequence[SampleScore]) -> MetricValue:
        answered = [s for s in samples if s.scores["unparsable"] == 0.0]
        return MetricValue(sum(s.scores["acc"] for s in answered) / len(answered), None, "precision")

    def item_statistics(self, samples: Sequence[SampleScore]) -> np.ndarray:
        return np.asarray(
            [[s.scores["acc"] * (1 - s.scores["unparsable"]), 1 - s.scores["unparsable"]] for s in samples]
        )

    def value_from_totals(self, totals: np.ndarray, counts: np.ndarray) -> np.ndarray:
        return totals[:, 0] / totals[:, 1]


@pytest.mark.parametrize("metric", [TrimmedMean(), Precision()], ids=["without-protocol", "with-protocol"])
def test_third_party_metrics_bootstrap(metric: Metric) -> None:
    a, b = _scored(30, seed=3), _scored(30, seed=4)
    assert isinstance(metric, SufficientStatistics) == (metric.name == "precision")
    positions = np.random.default_rng(5).integers(0, 30, size=(6, 30))
    expected = [metric.aggregate([a[i] for i in row]).value for row in positions]
    assert statistic_of(metric, a)(positions) == pytest.approx(expected, abs=1e-12)
    result = paired_bootstrap(a, b, metric, n_resamples=50, seed=1)
    assert result.delta == pytest.approx(metric.aggregate(b).value - metric.aggregate(a).value, abs=1e-12)
    assert result.low <= result.high and 0 < result.p_value <= 1


def test_statistics_of_the_wrong_shape_are_refused() -> None:
    @dataclasses.dataclass(frozen=True)
    class Broken(Precision):
        def item_statistics(self, samples: Sequence[SampleScore]) -> np.ndarray:
            return np.zeros(len(samples))

    with pytest.raises(ValueError, match=r"item_statistics gave shape \(3,\) for 3 samples"):
        statistic_of(Broken(), _scored(3))
