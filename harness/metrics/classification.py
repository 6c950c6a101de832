"""F1 over classes, a corpus metric: computed from the predicted and gold label of every sample at once.

Per-sample scoring puts the predicted class in ``SampleScore.extracted`` and the gold class in
``SampleScore.gold``; these metrics hand both lists to scikit-learn's ``f1_score``. lm-eval reports the
same numbers with the same function (``lm_eval.utils.weighted_f1_score`` for AfroBench's SIB-200 is
``f1_score(golds, preds, average="weighted")``).

- ``labels``: the classes averaged over. A task with a fixed label set passes it, so the number of classes
  in a macro average does not depend on what a model happened to predict; a class that is neither in the
  gold labels nor predicted (possible only on a LIMIT subset) then counts as F1 = 0 in the macro average
  and with weight 0 in the weighted one. ``None`` means scikit-learn's default: the classes seen in gold
  or predictions.
- ``zero_division=0``: a class never predicted has precision 0/0, taken as 0 (scikit-learn's default
  value, without its warning).
- No standard error: F1 is not a mean of independent per-sample scores.

Sufficient statistics (``harness.api.metric.SufficientStatistics``): per class, true positives, false positives
and false negatives. An item adds 1 to its class's true positives, or 1 to the predicted class's false positives
and 1 to the gold class's false negatives; the F1 of any resample follows from their sums with scikit-learn's
conventions (``zero_division=0``; without declared labels, the classes seen as gold or predicted in the
resample are the ones averaged).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from harness.api.metric import MetricValue, SampleScore, Unit


def f1(golds: Sequence[Any], predictions: Sequence[Any], average: str, labels: Sequence[Any] | None) -> float:
    """scikit-learn's F1 with the given averaging over ``labels`` (all observed classes when None)."""
    from sklearn.metrics import f1_score

    if not golds:
        raise ValueError("F1 of no samples")
    check_labels(golds, predictions, labels)
    return float(
        f1_score(
            list(golds),
            list(predictions),
            average=average,
            labels=None if labels is None else list(labels),
            zero_division=0,
        )
    )


def check_labels(golds: Sequence[Any], predictions: Sequence[Any], labels: Sequence[Any] | None) -> None:
    """Raise ValueError naming every gold or predicted label outside the declared ``labels`` (if declared):
    scikit-learn would silently leave them out of the average."""
    if labels is not None:
        unknown = sorted({str(label) for label in (*golds, *predictions) if label not in labels})
        if unknown:
            raise ValueError(f"F1: labels {unknown} are not among the declared classes {list(labels)}")


def f1_signature(name: str, average: str, labels: Sequence[Any] | None, n: int) -> str:
    import sklearn

    classes = "observed" if labels is None else ",".join(str(label) for label in labels)
    return f"{name}|f1|average:{average}|labels:{classes}|zero_division:0|n:{n}|sklearn:{sklearn.__version__}"


@dataclass(frozen=True)
class _F1Metric:
    """F1 of ``SampleScore.extracted`` against ``SampleScore.gold`` over all samples of one language."""

    average: ClassVar[str]
    name: str
    labels: tuple[Any, ...] | None = None

    def aggregate(self, samples: Sequence[SampleScore]) -> MetricValue:
        golds = [sample.gold for sample in samples]
        predictions = [sample.extracted for sample in samples]
        return MetricValue(
            value=f1(golds, predictions, self.average, self.labels),
            stderr=None,
            signature=f1_signature(self.name, self.average, self.labels, len(samples)),
            unit=Unit.FRACTION,
        )

    def item_statistics(self, samples: Sequence[SampleScore]) -> np.ndarray:
        """Per sample, ``k`` true-positive, then ``k`` false-positive, then ``k`` false-negative indicator
        columns, one per class: the declared labels, else the classes seen in ``samples`` (gold or predicted).

        Raises:
            ValueError: a label outside the declared classes.
        """
        golds = [sample.gold for sample in samples]
        predictions = [sample.extracted for sample in samples]
        check_labels(golds, predictions, self.labels)
        classes = list(self.labels) if self.labels is not None else sorted({*golds, *predictions}, key=str)
        column = {label: index for index, label in enumerate(classes)}
        k = len(classes)
        indicators = np.zeros((len(samples), 3 * k), dtype=np.float64)
        for row, (gold, predicted) in enumerate(zip(golds, predictions, strict=True)):
            if gold == predicted:
                indicators[row, column[gold]] = 1.0
            else:
                indicators[row, k + column[predicted]] = 1.0
                indicators[row, 2 * k + column[gold]] = 1.0
        return indicators

    def value_from_totals(self, totals: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """scikit-learn's averaged F1 from summed per-class counts: a class's F1 is ``2tp / (2tp + fp + fn)``,
        0 where that is 0/0. Macro averages the declared classes, or those seen in the row (``2tp + fp + fn >
        0``); weighted weighs each class by its gold count ``tp + fn``."""
        if self.average not in ("macro", "weighted"):
            raise NotImplementedError(f"{self.name}: no F1 from class counts for average={self.average!r}")
        totals = np.asarray(totals, dtype=np.float64)
        k = totals.shape[1] // 3
        tp, fp, fn = totals[:, :k], totals[:, k : 2 * k], totals[:, 2 * k :]
        denominator = 2 * tp + fp + fn
        f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
        counted = np.ones_like(tp) if self.labels is not None else (denominator > 0).astype(np.float64)
        weights = (tp + fn) * counted if self.average == "weighted" else counted
        return (f1 * weights).sum(axis=1) / weights.sum(axis=1)


@dataclass(frozen=True)
class MacroF1(_F1Metric):
    """Unweighted mean of the per-class F1 scores: every class counts the same, however rare."""

    average: ClassVar[str] = "macro"
    name: str = "macro_f1"


@dataclass(frozen=True)
class WeightedF1(_F1Metric):
    """Mean of the per-class F1 scores weighted by each class's number of gold samples (lm-eval's SIB F1)."""

    average: ClassVar[str] = "weighted"
    name: str = "f1_weighted"
