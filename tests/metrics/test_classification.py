from fractions import Fraction

import pytest
import sklearn

from harness.api.metric import SampleScore
from harness.metrics.classification import MacroF1, WeightedF1

# Per class (gold a a a b b c, predicted a a b b c c):
#   a: P 2/2, R 2/3, F1 4/5;  b: P 1/2, R 1/2, F1 1/2;  c: P 1/2, R 1/1, F1 2/3.
GOLD = ("a", "a", "a", "b", "b", "c")
PRED = ("a", "a", "b", "b", "c", "c")
MACRO = Fraction(4, 5) + Fraction(1, 2) + Fraction(2, 3)  # / number of classes
WEIGHTED = (3 * Fraction(4, 5) + 2 * Fraction(1, 2) + 1 * Fraction(2, 3)) / 6  # = 61/90


def _samples(gold=GOLD, pred=PRED) -> list[SampleScore]:
    return [SampleScore(extracted=p, gold=g, scores={}) for g, p in zip(gold, pred, strict=True)]


def test_macro_and_weighted_golden_values() -> None:
    assert MacroF1().aggregate(_samples()).value == pytest.approx(float(MACRO / 3), abs=1e-12)
    assert WeightedF1().aggregate(_samples()).value == pytest.approx(float(WEIGHTED), abs=1e-12)
    assert float(MACRO / 3) == pytest.approx(0.655556, abs=1e-6) and float(WEIGHTED) == pytest.approx(
        0.677778, abs=1e-6
    )


def test_declared_classes_fix_the_macro_denominator() -> None:
    # "d" is neither gold nor predicted: F1 0 in the macro average, weight 0 in the weighted one.
    labels = ("a", "b", "c", "d")
    assert MacroF1(labels=labels).aggregate(_samples()).value == pytest.approx(float(MACRO / 4), abs=1e-12)
    assert WeightedF1(labels=labels).aggregate(_samples()).value == pytest.approx(float(WEIGHTED), abs=1e-12)


def test_a_class_never_predicted_counts_zero_without_warning(recwarn) -> None:
    value = MacroF1(labels=("a", "b")).aggregate(_samples(gold=("a", "b"), pred=("a", "a"))).value
    # a: P 1/2, R 1, F1 2/3; b: never predicted, F1 0.
    assert value == pytest.approx(1 / 3, abs=1e-12)
    assert not [w for w in recwarn if "ill-defined" in str(w.message)]


def test_weighted_f1_equals_lm_evals_aggregation() -> None:
    from lm_eval.utils import weighted_f1_score

    # lm-eval aggregates (gold index, predicted index) pairs.
    index = {"a": 0, "b": 1, "c": 2}
    items = [(index[g], index[p]) for g, p in zip(GOLD, PRED, strict=True)]
    assert WeightedF1().aggregate(_samples()).value == pytest.approx(weighted_f1_score(items), abs=1e-15)


def test_signature_records_average_labels_and_sklearn_version() -> None:
    macro = MacroF1("macro_f1", labels=("a", "b", "c")).aggregate(_samples())
    assert macro.stderr is None
    assert (
        macro.signature == f"macro_f1|f1|average:macro|labels:a,b,c|zero_division:0|n:6|sklearn:{sklearn.__version__}"
    )
    weighted = WeightedF1().aggregate(_samples())
    assert weighted.signature.startswith("f1_weighted|f1|average:weighted|labels:observed|")


def test_a_label_outside_the_declared_classes_fails_loudly() -> None:
    with pytest.raises(ValueError, match=r"labels \['z'\] are not among the declared classes"):
        MacroF1(labels=("a", "b", "c")).aggregate(_samples(gold=("a", "z"), pred=("a", "a")))


def test_no_samples_is_an_error() -> None:
    with pytest.raises(ValueError, match="no samples"):
        WeightedF1().aggregate([])
