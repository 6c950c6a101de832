"""The metric API's ``Unit``: scale, formatting as tables print values, unknown units, and results files that
keep holding the plain strings."""

from __future__ import annotations

import dataclasses
import json

import pytest

from harness.api.metric import MetricValue, Unit


def test_scale_and_points() -> None:
    assert (Unit.FRACTION.scale, Unit.SCORE.scale, Unit.COUNT.scale) == (100.0, 1.0, 1.0)
    assert Unit.FRACTION.points(0.25) == 25.0
    assert Unit.SCORE.points(31.5) == 31.5
    assert Unit.COUNT.points(3.0) == 3.0


@pytest.mark.parametrize(
    ("unit", "value", "options", "text"),
    [
        (Unit.FRACTION, 0.4567, {}, "45.7"),
        (Unit.FRACTION, 0.4567, {"digits": 2}, "45.67"),
        (Unit.FRACTION, 0.012, {"signed": True}, "+1.2"),
        (Unit.FRACTION, -0.012, {"signed": True}, "-1.2"),
        (Unit.FRACTION, -0.012, {"signed": True, "minus": "−"}, "−1.2"),
        (Unit.FRACTION, -0.0004, {"signed": True}, "+0.0"),  # a difference that rounds to zero has no sign
        (Unit.FRACTION, -0.0004, {}, "0.0"),
        (Unit.SCORE, 54.321, {}, "54.3"),
        (Unit.SCORE, -2.06, {"signed": True, "digits": 2}, "-2.06"),
        (Unit.COUNT, 3.0, {}, "3.0"),
        (Unit.FRACTION, float("nan"), {}, "nan"),
    ],
)
def test_format_as_tables_print(unit: Unit, value: float, options: dict, text: str) -> None:
    assert unit.format(value, **options) == text


def test_labels_and_headings() -> None:
    assert [unit.label for unit in Unit] == ["%", "0-100", "count"]
    assert Unit.FRACTION.heading("acc") == "acc (%)"
    assert Unit.SCORE.heading("chrf++") == "chrf++ (0-100)"
    assert Unit.COUNT.heading("unparsable") == "unparsable"


def test_of_reads_names_and_rejects_unknown_units() -> None:
    assert Unit.of("fraction") is Unit.FRACTION
    assert Unit.of("score") is Unit.SCORE
    assert Unit.of(Unit.COUNT) is Unit.COUNT
    with pytest.raises(ValueError, match=r"unknown metric unit 'percent': expected one of 'fraction', 'score'"):
        Unit.of("percent")


def test_units_are_their_plain_strings() -> None:
    assert Unit.FRACTION == "fraction" and "score" == Unit.SCORE
    assert {"fraction": 100}[Unit.FRACTION] == 100 and {Unit.COUNT: 1}["count"] == 1  # type: ignore[index]
    assert len({Unit.FRACTION, "fraction"}) == 1
    assert str(Unit.SCORE) == f"{Unit.SCORE}" == "score"
    assert f"{Unit.COUNT:>6}" == " count"


def test_metric_value_unit_defaults_to_fraction_and_is_checked() -> None:
    assert MetricValue(0.5, None, "acc").unit is Unit.FRACTION
    old_reader = MetricValue(12.0, None, "chrf", "score")  # type: ignore[arg-type]  # a plain string, as before
    assert old_reader.unit is Unit.SCORE
    with pytest.raises(ValueError, match="unknown metric unit 'points'"):
        MetricValue(1.0, None, "x", "points")  # type: ignore[arg-type]


def test_json_round_trip_is_the_plain_string() -> None:
    written = json.dumps(dataclasses.asdict(MetricValue(54.3, 0.4, "chrF2++|...", Unit.SCORE)))
    assert '"unit": "score"' in written
    read = MetricValue(**json.loads(written))
    assert read.unit is Unit.SCORE and read == MetricValue(54.3, 0.4, "chrF2++|...", Unit.SCORE)
    assert json.dumps({"unit": Unit.FRACTION}, indent=2) == '{\n  "unit": "fraction"\n}'  # results.json's form
