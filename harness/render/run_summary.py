"""The terminal summary of a run: one row per language (English first), one column per task metric,
and the mean over the non-English languages at the bottom."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from rich.console import Console
from rich.table import Table

from harness.api.languages import ENGLISH

# Per task: the headline metric and the next one; only the headline when many tasks share the table.
METRICS_SHOWN, METRICS_SHOWN_MANY_TASKS, MANY_TASKS = 2, 1, 4


def _cell(metric: dict[str, Any] | None) -> str:
    if metric is None:
        return "-"
    value, stderr, unit = metric["value"], metric.get("stderr"), metric.get("unit", "fraction")
    if unit == "count":
        return f"{value:g}"
    scale = 100 if unit == "fraction" else 1
    text = f"{scale * value:.1f}"
    if stderr is not None and not math.isnan(stderr):
        text += f" ± {scale * stderr:.1f}"
    return text


def summary_table(result: dict[str, Any]) -> Table:
    """A rich Table from a results.json document (plain data, as written or as loaded)."""
    shown = METRICS_SHOWN_MANY_TASKS if len(result["tasks"]) >= MANY_TASKS else METRICS_SHOWN
    columns = [(task, metric) for task in result["tasks"] for metric in task["metrics"][:shown]]
    rows = {task["name"] + task["variant"] + task["split"]: _rows_of(task) for task in result["tasks"]}
    languages: dict[str, str] = {}
    for task_rows in rows.values():
        for key, language in task_rows.items():
            languages.setdefault(key, f"{language['name']} ({language['code']})")
    order = sorted(languages, key=lambda key: (key != ENGLISH, languages[key]))
    table = Table(title=f"{result['model']['name_or_path']} · {result['backend']['name']} · run {result['run_id']}")
    table.add_column("language", no_wrap=True)
    for task, metric in columns:
        table.add_column(f"{task['name']}:{task['variant']}\n{metric}{_unit_suffix(task, metric)}", justify="right")
    for key in order:
        row = [languages[key]]
        for task, metric in columns:
            entry = rows[task["name"] + task["variant"] + task["split"]].get(key)
            row.append(_cell(entry["metrics"].get(metric) if entry else None))
        table.add_row(*row, end_section=key == order[-1])
    table.add_row("mean (non-English)", *(_non_english_mean(task, metric) for task, metric in columns))
    return table


def _unit_suffix(task: dict[str, Any], metric: str) -> str:
    units = {
        entry["metrics"][metric].get("unit", "fraction")
        for entry in task["languages"].values()
        if metric in entry["metrics"]
    }
    return " (%)" if units == {"fraction"} else ""


def _non_english_mean(task: dict[str, Any], metric: str) -> str:
    entries = [
        entry["metrics"][metric]
        for entry in task["languages"].values()
        if entry["flores"] != ENGLISH and metric in entry["metrics"]
    ]
    if not entries:
        return "-"
    mean = sum(entry["value"] for entry in entries) / len(entries)
    return _cell({"value": mean, "stderr": None, "unit": entries[0].get("unit", "fraction")})


def _rows_of(task: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A task's entries by table row: rows are languages (FLORES code), shared by all tasks, but a task with
    several entries for one language (FLORES-200: eng_Latn-deu_Latn and deu_Latn-eng_Latn are both German)
    gets a row per entry."""
    entries = task["languages"].values()
    counts = Counter(entry["flores"] for entry in entries)
    return {
        entry["flores"] if counts[entry["flores"]] == 1 else f"{entry['flores']}|{entry['code']}": entry
        for entry in entries
    }


def print_summary(result: dict[str, Any], console: Console | None = None) -> None:
    # Pipes and CI logs get a wide table rather than rich's 80-column default.
    console = console or Console(width=None if Console().is_terminal else 160)
    console.print(summary_table(result))
    for task in result["tasks"]:
        for code, reason in task.get("skipped", {}).items():
            console.print(f"[yellow]skipped {task['name']}/{code}: {reason}[/yellow]")
