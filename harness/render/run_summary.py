"""The terminal summary of a run: one row per language (English first), one column per task metric,
and the mean over the non-English languages at the bottom."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from rich.console import Console
from rich.table import Table

from harness.api.languages import ENGLISH
from harness.api.metric import MetricValue, Unit
from harness.records.schema import LanguageResult, RunResult, TaskResult

# Per task: the headline metric and the next one; only the headline when many tasks share the table.
METRICS_SHOWN, METRICS_SHOWN_MANY_TASKS, MANY_TASKS = 2, 1, 4


def _cell(metric: MetricValue | None) -> str:
    if metric is None:
        return "-"
    if metric.unit is Unit.COUNT:
        return f"{metric.value:g}"
    text = metric.unit.format(metric.value)
    if metric.stderr is not None and not math.isnan(metric.stderr):
        text += f" ± {metric.unit.format(metric.stderr)}"
    return text


def summary_table(result: RunResult) -> Table:
    """A rich Table of a run's record."""
    shown = METRICS_SHOWN_MANY_TASKS if len(result.tasks) >= MANY_TASKS else METRICS_SHOWN
    columns = [(task, metric) for task in result.tasks for metric in task.metrics[:shown]]
    rows = {id(task): _rows_of(task) for task in result.tasks}
    languages: dict[str, str] = {}
    for task_rows in rows.values():
        for key, language in task_rows.items():
            languages.setdefault(key, f"{language.name} ({language.code})")
    order = sorted(languages, key=lambda key: (key != ENGLISH, languages[key]))
    table = Table(title=f"{result.model.name_or_path} · {result.backend.name} · run {result.run_id}")
    table.add_column("language", no_wrap=True)
    for task, metric in columns:
        table.add_column(f"{task.name}:{task.variant}\n{metric}{_unit_suffix(task, metric)}", justify="right")
    for key in order:
        row = [languages[key]]
        for task, metric in columns:
            entry = rows[id(task)].get(key)
            row.append(_cell(entry.metrics.get(metric) if entry else None))
        table.add_row(*row, end_section=key == order[-1])
    table.add_row("mean (non-English)", *(_non_english_mean(task, metric) for task, metric in columns))
    return table


def _unit_suffix(task: TaskResult, metric: str) -> str:
    units = {entry.metrics[metric].unit for entry in task.languages.values() if metric in entry.metrics}
    return " (%)" if units == {Unit.FRACTION} else ""


def _non_english_mean(task: TaskResult, metric: str) -> str:
    entries = [entry for entry in task.languages.values() if entry.flores != ENGLISH]
    values = [entry.metrics[metric] for entry in entries if metric in entry.metrics]
    if not values:
        return "-"
    mean = math.fsum(value.value for value in values) / len(values)
    return _cell(MetricValue(mean, None, "", values[0].unit))


def _rows_of(task: TaskResult) -> dict[str, LanguageResult]:
    """A task's entries by table row: rows are languages (FLORES code), shared by all tasks, but a task with
    several entries for one language (FLORES-200: eng_Latn-deu_Latn and deu_Latn-eng_Latn are both German)
    gets a row per entry."""
    entries = task.languages.values()
    counts = Counter(entry.flores for entry in entries)
    return {entry.flores if counts[entry.flores] == 1 else f"{entry.flores}|{entry.code}": entry for entry in entries}


def print_summary(result: RunResult, console: Console | None = None) -> None:
    # Pipes and CI logs get a wide table rather than rich's 80-column default.
    console = console or Console(width=None if Console().is_terminal else 160)
    console.print(summary_table(result))
    for task in result.tasks:
        for code, reason in task.skipped.items():
            console.print(f"[yellow]skipped {task.name}/{code}: {reason}[/yellow]")


def workers_line(timings: dict[str, Any]) -> str:
    """One line on a run's workers: each one's requests and compute time, and what was retried."""
    shares = ", ".join(
        f"{name} {share['requests']} requests in {share['compute_s']:.1f} s ({share['where']})"
        for name, share in timings["workers"].items()
    )
    line = f"workers: {shares or 'none needed'}"
    if timings.get("retried_chunks"):
        lost = sorted({retry["worker"] for retry in timings.get("retries", [])})
        line += (
            f"; retried {timings['retried_chunks']} chunk(s), {timings['retried_requests']} requests, "
            f"after losing {', '.join(lost)}"
        )
    return line
