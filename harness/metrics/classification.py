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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from harness.api.metric import MetricValue, SampleScore


def f1(golds: Sequence[Any], predictions: Sequence[Any], average: str, labels: Sequence[Any] | None) -> float:
    """scikit-learn's F1 with the given averaging over ``labels`` (all observed classes when None)."""
    from sklearn.metrics import f1_score

    if not golds:
        raise ValueError("F1 of no samples")
    if labels is not None:
        unknown = sorted({str(label) for label in (*golds, *predictions) if label not in labels})
        if unknown:  # scikit-learn would silently leave them out of the average
            raise ValueError(f"F1: labels {unknown} are not among the declared classes {list(labels)}")
    return float(
        f1_score(
            list(golds),
            list(predictions),
            average=average,
            labels=None if labels is None else list(labels),
            zero_division=0,
        )
    )


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
        )


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
