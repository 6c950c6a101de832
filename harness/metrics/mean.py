"""Means and counts over per-sample scores (accuracy, exact match, unparsable answers), and the per-sample
score of a multiple-choice answer.

Both own their sufficient statistics (``harness.api.metric.SufficientStatistics``): one column, the item's
score; a mean divides its sum by the number of items, a count is the sum. A score stored as null (NaN) stays NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from harness.api.metric import MetricValue, SampleScore, Unit, mean, mean_stderr
from harness.api.requests import ChoiceScores, Response


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
            unit=Unit.FRACTION,
        )

    def item_values(self, samples: Sequence[SampleScore]) -> list[float]:
        """Each sample's score (the numbers averaged)."""
        return score_column(self.name, samples)

    def item_statistics(self, samples: Sequence[SampleScore]) -> np.ndarray:
        """One column: the sample's score."""
        return np.asarray(score_column(self.name, samples), dtype=np.float64).reshape(-1, 1)

    def value_from_totals(self, totals: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """The summed score over the number of items."""
        return np.asarray(totals, dtype=np.float64)[:, 0] / np.asarray(counts, dtype=np.float64)


def score_column(name: str, samples: Sequence[SampleScore]) -> list[float]:
    """``scores[name]`` of every sample, a null score (how results store NaN) as NaN.

    Raises:
        KeyError: a sample without that score.
    """
    return [math.nan if sample.scores[name] is None else float(sample.scores[name]) for sample in samples]


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
            unit=Unit.COUNT,
        )

    def item_statistics(self, samples: Sequence[SampleScore]) -> np.ndarray:
        """One column: the sample's score (1 for an unparsable answer)."""
        return np.asarray(score_column(self.name, samples), dtype=np.float64).reshape(-1, 1)

    def value_from_totals(self, totals: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """The summed score."""
        return np.asarray(totals, dtype=np.float64)[:, 0].copy()
