"""The terminal view of a finished ``RegressReport``: who was compared, the notes, a table of the tests
(regressions first), and PASS or FAIL. Numbers are formatted by their ``Unit``; nothing here computes."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

from harness.analysis.regress_report import (
    IMPROVEMENT,
    MCNEMAR,
    OFF_TARGET,
    REGRESSION,
    UNCHANGED,
    VERDICTS,
    WITHIN_TOL,
    RegressCell,
    RegressReport,
    RunRef,
)
from harness.api.metric import Unit

SHOWN_ROWS = 60  # more cells than this: the table lists only significant ones (show_all: every one)
WIDE = 180  # console width when the output is not a terminal
DIGITS = 2  # decimals of the values shown (in points)

STYLES = {REGRESSION: "bold red", WITHIN_TOL: "yellow", IMPROVEMENT: "green", UNCHANGED: "dim"}
ORDER = {name: rank for rank, name in enumerate(VERDICTS)}


def shown(unit: Unit, points: float, *, difference: bool = False) -> str:
    """A value of a cell (already in points) as the table shows it: ``62.00%`` and ``+2.00 pp`` for a fraction,
    ``45.20`` and ``+1.20`` for a 0-100 score."""
    text = unit.format(points / unit.scale, signed=difference, digits=DIGITS)
    if unit is Unit.FRACTION:
        text += " pp" if difference else "%"
    return text


def p_value(value: float) -> str:
    """Two significant digits; tiny p-values in scientific notation."""
    return f"{value:.2g}" if value >= 0.001 else f"{value:.1e}"


def _interval(cell: RegressCell) -> str:
    low, high = (cell.unit.format(v / cell.unit.scale, signed=True, digits=DIGITS) for v in (cell.ci_low, cell.ci_high))
    return f"{shown(cell.unit, cell.delta, difference=True)} [{low}, {high}]"


def shown_cells(report: RegressReport, show_all: bool = False) -> list[RegressCell]:
    """The cells a table lists, in its order: regressions first, then drops within tolerance, improvements, the
    rest (left out when there are more than ``SHOWN_ROWS`` cells, unless ``show_all``)."""
    cells = sorted(report.cells, key=lambda c: (ORDER[c.verdict], c.task, c.metric, c.p_holm, c.language))
    if not show_all and len(cells) > SHOWN_ROWS:
        cells = [cell for cell in cells if cell.verdict != UNCHANGED]
    return cells


def report_table(report: RegressReport, show_all: bool = False) -> Table:
    """A rich Table of the report's cells (``shown_cells``)."""
    table = Table(title=f"candidate vs baseline (alpha {report.alpha:g} after Holm, tolerance {report.tol:g} points)")
    for column in ("task", "language", "metric", "test", "n"):
        table.add_column(column, no_wrap=column != "task")
    for column in ("baseline", "candidate", "delta [95% CI]", "p", "p (Holm)"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    for cell in shown_cells(report, show_all):
        style = STYLES[cell.verdict]
        table.add_row(
            f"{cell.task}:{cell.variant}",
            cell.language,
            cell.metric,
            "McNemar" if cell.test == MCNEMAR else "bootstrap",
            str(cell.n),
            shown(cell.unit, cell.baseline),
            shown(cell.unit, cell.candidate),
            _interval(cell),
            p_value(cell.p_value),
            p_value(cell.p_holm),
            f"[{style}]{cell.verdict}[/{style}]",
        )
    return table


def run_line(side: str, run: RunRef) -> str:
    """``baseline:  <model> · model e4714e9+lora 1a2b3c4 · run <id> (<folder>)``."""
    identity = f" · model {run.identity.short()}" if run.identity is not None else ""
    return f"{side + ':':<10} {run.model}{identity} · run {run.run_id} ({run.path})"


def print_report(report: RegressReport, show_all: bool = False, console: Console | None = None) -> None:
    """The report on the terminal (a CI log gets a wide console: rich would wrap the table at 80 columns)."""
    if console is None:
        console = Console() if sys.stdout.isatty() else Console(width=WIDE)
    console.print(run_line("baseline", report.baseline), highlight=False)
    console.print(run_line("candidate", report.candidate), highlight=False)
    if report.baseline.identity is not None and report.baseline.identity == report.candidate.identity:
        console.print("the same model in both runs (a rerun)")
    for note in report.notes:
        console.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    if report.cells:
        console.print(report_table(report, show_all))
    hidden = len(report.cells) > SHOWN_ROWS and not show_all
    unchanged = sum(cell.verdict == UNCHANGED for cell in report.cells)
    console.print(
        f"{_count(len(report.cells), 'test')}: {_count(report.regressions, 'regression')}, "
        f"{_count(report.improvements, 'improvement')}, {unchanged} without significant change"
        + (" (not listed; --show-all lists them)" if hidden else "")
    )
    if report.regressions:
        rises = sum(cell.verdict == REGRESSION and cell.metric == OFF_TARGET for cell in report.cells)
        found = [f"{_count(report.regressions - rises, 'significant drop')} larger than {report.tol:g} points"]
        if rises:
            found.append(f"{_count(rises, 'significant rise')} in off-target output larger than "
                         f"{report.off_target_tol:g} points")  # fmt: skip
        console.print(f"[bold red]FAIL[/bold red]: {'; '.join(found)}")
    else:
        console.print("[green]PASS[/green]: no significant drop larger than the tolerance")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
