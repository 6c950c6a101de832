"""Means and counts over per-sample scores (accuracy, exact match, unparsable answers), and the per-sample
score of a multiple-choice answer."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from harness.api.metric import MetricValue, SampleScore, mean, mean_stderr
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
        )


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
            unit="count",
        )
