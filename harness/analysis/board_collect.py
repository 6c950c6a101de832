"""Reading a results folder for the leaderboard: every xlh run folder through ``harness.records.io``, every
lm-eval results file through ``lmeval_import``, each task result one ``BoardEntry``.

A file that claims to be results (``results.json``, ``results_*.json``) and cannot be read is a ``Problem``
naming the file and why; the rest still build. Hidden folders (a run still being written is staged under
``.<run-id>.partial``) are never read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from harness.analysis.board import XLH, BoardEntry, ColumnConfig, LanguageScore, Problem, number
from harness.analysis.lmeval_import import is_lmeval, read_lmeval
from harness.errors import DataError
from harness.records.comparability import ModelIdentity, Setting, data_key, run_name
from harness.records.io import read_run, run_folders
from harness.records.schema import RESULTS_FILE, RunResult, TaskResult


@dataclass
class Collected:
    """Everything read under a results folder."""

    entries: list[BoardEntry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # lm-eval tasks without an xlh counterpart
    files_read: int = 0


def run_entries(run: RunResult, path: Path) -> list[BoardEntry]:
    """The entries of one xlh run: per task result, the headline metric of every language that has it (a
    language whose headline was left out, or is NaN, is not a score)."""
    identity = ModelIdentity.of(run)
    entries = []
    for task in run.tasks:
        entry = _task_entry(run, task, identity, path)
        if entry is not None:
            entries.append(entry)
    return entries


def _task_entry(run: RunResult, task: TaskResult, identity: ModelIdentity, path: Path) -> BoardEntry | None:
    if not task.metrics:
        return None
    headline = task.metrics[0]
    languages: dict[str, LanguageScore] = {}
    units = []
    for code, language in task.languages.items():
        metric = language.metrics.get(headline)
        value = number(metric.value) if metric else None
        if metric is None or value is None:
            continue  # a metric left out for this language (see the task's notes)
        units.append(metric.unit)
        languages[code] = LanguageScore(
            code=code,
            flores=language.flores,
            name=language.name,
            value=value,
            stderr=None if metric.stderr is None else number(metric.stderr),
            n=language.n,
            data=data_key(language.data),
        )
    if not languages:
        return None
    config = ColumnConfig(Setting.of(run, task), task.limit, headline, units[0], f"v{task.version}", XLH)
    name, model = run_name(run), run.model.name_or_path
    return BoardEntry(identity, name, run.role, config, languages, run.run_id, run.created_at, path, model, XLH)


def _message(error: DataError) -> str:
    """A ``DataError``'s message without the file it names (a Problem names the file itself)."""
    text, prefix = str(error), f"{error.path}: "
    return text[len(prefix) :] if error.path is not None and text.startswith(prefix) else text


def _lmeval_candidates(root: Path) -> Iterator[Path]:
    """JSON files under ``root`` other than xlh's ``results.json``, skipping hidden folders and files."""
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for name in sorted(files):
            if name.endswith(".json") and not name.startswith(".") and name != RESULTS_FILE:
                yield Path(folder) / name


def _describe(error: Exception) -> str:
    if isinstance(error, KeyError):
        return f"missing field {error.args[0]!r}"
    if isinstance(error, json.JSONDecodeError):
        return f"not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})"
    return str(error) or type(error).__name__


def _read_lmeval_file(path: Path, collected: Collected) -> None:
    """One JSON file that may be lm-eval results: imported, named as a problem, or (not results) ignored."""
    claimed = path.name.startswith("results")  # lm-eval's results_<date>.json
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        if claimed:
            collected.problems.append(Problem(path, _describe(error)))
        return  # else some other file that is not JSON: not results, not our business
    if not is_lmeval(document):
        if claimed:
            collected.problems.append(Problem(path, "neither an xlh results.json nor an lm-eval results file"))
        return  # some other JSON file (a report, a config): not results
    try:
        entries = read_lmeval(document, path, collected.notes)
    except DataError as error:
        collected.problems.append(Problem(path, _message(error)))
        return
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as error:
        collected.problems.append(Problem(path, _describe(error)))
        return
    collected.files_read += 1
    collected.entries.extend(entries)


def collect(root: Path) -> Collected:
    """Every entry under ``root``, the files skipped as unreadable, notes, and how many files were read."""
    collected = Collected()
    for folder in run_folders(root):
        file = folder / RESULTS_FILE
        try:
            run = read_run(folder)
        except DataError as error:
            collected.problems.append(Problem(file, _message(error)))
            continue
        collected.files_read += 1
        collected.entries.extend(run_entries(run, file))
    for path in _lmeval_candidates(root):
        _read_lmeval_file(path, collected)
    collected.problems.sort(key=lambda problem: str(problem.path))
    return collected


__all__ = ["Collected", "collect", "run_entries"]
