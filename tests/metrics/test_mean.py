import math
import statistics

import pytest

from harness.api.metric import SampleScore, mean_stderr
from harness.metrics.mean import MeanMetric, SumMetric, choice_predictions


def _samples(name: str, values: list[float]) -> list[SampleScore]:
    return [SampleScore(extracted=None, gold=None, scores={name: v}) for v in values]


def test_mean_stderr_matches_the_textbook_formula() -> None:
    values = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]
    assert mean_stderr(values) == pytest.approx(statistics.stdev(values) / math.sqrt(len(values)))


def test_mean_stderr_of_one_sample_is_nan() -> None:
    assert math.isnan(mean_stderr([1.0]))


def test_mean_metric_aggregates_and_signs() -> None:
    value = MeanMetric("acc").aggregate(_samples("acc", [1.0, 0.0, 1.0, 1.0]))
    assert value.value == 0.75
    assert value.stderr == pytest.approx(statistics.stdev([1, 0, 1, 1]) / 2)
    assert value.signature.startswith("acc|agg:mean")


def test_sum_metric_counts() -> None:
    value = SumMetric("unparsable").aggregate(_samples("unparsable", [1.0, 0.0, 1.0]))
    assert (value.value, value.stderr) == (2.0, None)


def test_acc_norm_divides_by_characters_of_the_choice() -> None:
    # Raw log-likelihood prefers the short choice; per character the long one wins.
    acc, acc_norm = choice_predictions([-4.0, -6.0], ["ab", "abcdefgh"])
    assert (acc, acc_norm) == (0, 1)


def test_ties_go_to_the_first_choice() -> None:
    assert choice_predictions([-1.0, -1.0, -2.0], ["a", "b", "c"]) == (0, 0)
