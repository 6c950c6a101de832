"""The regress renderer on hand-made reports: values by unit, table order, what is hidden, PASS and FAIL."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from harness.analysis.regress_report import (
    BOOTSTRAP,
    IMPROVEMENT,
    MCNEMAR,
    REGRESSION,
    UNCHANGED,
    WITHIN_TOL,
    Options,
    RegressCell,
    RunRef,
    new_report,
)
from harness.api.metric import Unit
from harness.records.comparability import ModelIdentity
from harness.render.regress import SHOWN_ROWS, print_report, shown, shown_cells

BASE = ModelIdentity("e4714e9aaaaaaaaa")
LORA = ModelIdentity("e4714e9aaaaaaaaa", adapter="1a2b3c4bbbbbbbb")


def _cell(
    language: str, verdict: str, delta: float = 0.0, unit: Unit = Unit.FRACTION, metric: str = "acc"
) -> RegressCell:
    return RegressCell(
        task="xnli", variant="sentence", split="test", language=language, metric=metric, unit=unit,
        test=MCNEMAR if unit is Unit.FRACTION else BOOTSTRAP, n=60, baseline=50.0, candidate=50.0 + delta,
        delta=delta, ci_low=delta - 1, ci_high=delta + 1, p_value=0.01, p_holm=0.02, verdict=verdict,
    )  # fmt: skip


def _ref(name: str, identity: ModelIdentity | None) -> RunRef:
    return RunRef(f"runs/{name}", f"run-{name}", name, "e4714e9", "2026-03-02T09:00:00+00:00", identity)


def _printed(cells: list[RegressCell], candidate: ModelIdentity | None = LORA, show_all: bool = False) -> str:
    report = new_report(_ref("base", BASE), _ref("cand", candidate), Options(tol=1.0), cells, ["a note"])
    stream = io.StringIO()
    print_report(report, show_all, Console(file=stream, width=200, color_system=None))
    return stream.getvalue()


@pytest.mark.parametrize(
    ("unit", "points", "difference", "text"),
    [
        (Unit.FRACTION, 62.0, False, "62.00%"),
        (Unit.FRACTION, -2.0, True, "-2.00 pp"),
        (Unit.FRACTION, -0.001, True, "+0.00 pp"),  # never -0.00
        (Unit.SCORE, 45.2, False, "45.20"),
        (Unit.SCORE, 1.2, True, "+1.20"),
    ],
)
def test_values_are_shown_in_their_unit(unit: Unit, points: float, difference: bool, text: str) -> None:
    assert shown(unit, points, difference=difference) == text


def test_regressions_come_first_and_unchanged_cells_hide_in_long_tables() -> None:
    cells = [_cell("en", UNCHANGED), _cell("de", IMPROVEMENT, 3.0), _cell("fr", REGRESSION, -4.0),
             _cell("es", WITHIN_TOL, -0.5)]  # fmt: skip
    report = new_report(_ref("base", BASE), _ref("cand", LORA), Options(), cells, [])
    assert [cell.language for cell in shown_cells(report)] == ["fr", "es", "de", "en"]
    many = cells + [_cell(f"x{i}", UNCHANGED) for i in range(SHOWN_ROWS)]
    long = new_report(_ref("base", BASE), _ref("cand", LORA), Options(), many, [])
    assert [cell.language for cell in shown_cells(long)] == ["fr", "es", "de"]
    assert len(shown_cells(long, show_all=True)) == len(many)
    assert "(not listed; --show-all lists them)" in _printed(many)


def test_a_regression_fails_and_names_both_models() -> None:
    out = _printed([_cell("fr", REGRESSION, -4.0), _cell("en", UNCHANGED)])
    assert "baseline:  base · model e4714e9 · run run-base (runs/base)" in out
    assert "candidate: cand · model e4714e9 +lora 1a2b3c4 · run run-cand (runs/cand)" in out
    assert "the same model" not in out
    assert "note: a note" in out
    assert "-4.00 pp [-5.00, -3.00]" in out and "McNemar" in out
    assert "2 tests: 1 regression, 0 improvements, 1 without significant change" in out
    assert "FAIL: 1 significant drop larger than 1 points" in out


def test_a_rerun_passes_and_says_it_is_the_same_model() -> None:
    out = _printed([_cell("en", UNCHANGED, unit=Unit.SCORE, metric="chrf++")], candidate=BASE)
    assert "the same model in both runs" in out
    assert "50.00" in out and "50.00%" not in out and "bootstrap" in out
    assert "PASS: no significant drop larger than the tolerance" in out


def test_a_report_without_cells_prints_no_table() -> None:
    out = _printed([], candidate=None)
    assert "candidate: cand · run run-cand" in out and "xnli" not in out
    assert "0 tests" in out and "PASS" in out
