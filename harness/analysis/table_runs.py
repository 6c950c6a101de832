"""Which results share a transfer table: runs read from their folders (or a study's), and their task results
grouped by ``harness.records.comparability``, the one definition of "the same model" and "the same
experiment".

- A **group** is one ``Setting`` of a task (version, variant, split, shots, LIMIT sample, metric signatures,
  sampling, dtype): one table. Results of other settings get tables of their own, with a note saying what
  differs.
- A **row** is one ``ModelIdentity`` (weights, LoRA adapter, served model, chat template): the newest run of
  that identity and setting (``comparability.latest``), never chosen by display name. A LoRA, chat or
  openai-served run of a base is another row; a ``--full-fingerprint`` run of the same weights replaces an
  older run. Rows are named by ``comparability.distinct_names``: models sharing a name get their identity in
  brackets.
- A **cell** whose data (``comparability.data_key``: the files' SHA-256, the item count, the few-shot pool)
  differs from the data most rows of that language used (ties: the first row's) is left out, with a note.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from harness.analysis.table_model import ROLE_ORDER, TableError
from harness.api.metric import MetricValue
from harness.errors import DataError
from harness.records.comparability import (
    ModelIdentity,
    Setting,
    data_differences,
    data_key,
    distinct_names,
    latest,
    run_name,
    setting_differences,
)
from harness.records.io import StoredRun, model_slug, read_run, run_folders
from harness.records.schema import RESULTS_FILE, LanguageResult, RunResult, TaskResult

Found = tuple[Path, RunResult, TaskResult]  # what ``comparability.latest`` chose: folder, run, task result


@dataclass(frozen=True)
class Entry:
    """One row of one table: a model's newest result of the table's task and setting."""

    folder: Path
    run: RunResult
    task: TaskResult
    name: str  # the row's name, distinct among the group's models
    left_out: frozenset[str] = frozenset()  # languages whose data differ from the group's

    @property
    def role(self) -> str | None:
        return self.run.role

    @property
    def identity(self) -> ModelIdentity:
        return ModelIdentity.of(self.run)

    @property
    def setting(self) -> Setting:
        return Setting.of(self.run, self.task)

    @property
    def languages(self) -> dict[str, LanguageResult]:
        """The task's languages, less those left out for their data."""
        return {code: result for code, result in self.task.languages.items() if code not in self.left_out}

    def metric(self, code: str, metric: str) -> MetricValue | None:
        """``metric`` of language ``code`` (None where it is missing or left out)."""
        language = self.languages.get(code)
        return language.metrics.get(metric) if language else None

    def aliases(self) -> set[str]:
        """Every name a parent list may use for this model."""
        model = self.run.model
        names = {self.name, run_name(self.run), model.name_or_path, model_slug(model.name_or_path), model.fingerprint}
        return names | ({model.local_path} if model.local_path else set())


class Group(NamedTuple):
    """The rows of one table, with notes on what separates it from the other tables and what was left out."""

    entries: list[Entry]
    notes: list[str]

    @property
    def setting(self) -> Setting:
        return self.entries[0].setting


# -- reading --------------------------------------------------------------------------------------------------
def load_runs(folders: Iterable[Path]) -> list[StoredRun]:
    """Runs from run folders; a folder that is not itself a run folder contributes every run folder under it
    (``results/``, ``results/<model>/``).

    Raises:
        TableError: a folder that does not exist or holds no run, or a results file that cannot be read
            (naming the file).
    """
    runs = []
    for folder in folders:
        if (folder / RESULTS_FILE).is_file():
            found = [folder]
        elif folder.is_dir():
            found = run_folders(folder)
            if not found:
                raise TableError(f"{folder}: no run folder (results.json) under it")
        else:
            raise TableError(f"{folder}: no such run folder")
        runs += [StoredRun(sub, _read(sub)) for sub in found]
    return runs


def _read(folder: Path) -> RunResult:
    try:
        return read_run(folder)
    except DataError as error:
        raise TableError(str(error)) from error


def load_study_runs(study_file: Path, results_dir: Path) -> list[StoredRun]:
    """The runs of a study's models under ``results_dir``, named, roled and parented as the study says.

    Uses ``harness.analysis.study``: ``load_study``, ``run_folders`` and ``runs_of`` (which runs are of a
    study model: its current weights, as the plain model).

    Raises:
        TableError: a results file under ``results_dir`` that cannot be read, or no run of any of the study's
            models.
    """
    from harness.analysis.study import load_study
    from harness.analysis.study_runs import runs_of

    study = load_study(study_file)
    stored = [StoredRun(folder, _read(folder)) for folder in sorted(run_folders(results_dir))]
    runs = []
    for model in study.models:
        for folder, run in runs_of(model, stored):
            named = dataclasses.replace(run, display_name=model.name, role=model.role, parents=list(model.parents),
                                        recipe=model.recipe or run.recipe)  # fmt: skip
            runs.append(StoredRun(folder, named))
    if not runs:
        raise TableError(f"{study_file}: no results of its models under {results_dir} (run: make eval STUDY=...)")
    return runs


# -- grouping -------------------------------------------------------------------------------------------------
def matches(task: TaskResult, spec: str, metric: str | None = None) -> bool:
    """Whether ``task`` is the task ``spec`` (``name`` or ``name:variant``) and carries ``metric``."""
    name, _, variant = spec.partition(":")
    return task.name == name and (not variant or task.variant == variant) and (metric is None or metric in task.metrics)


def comparable_groups(
    runs: Sequence[StoredRun], task: str, metric: str, order: Sequence[str] | None = None
) -> list[Group]:
    """The results of ``task`` (``name`` or ``name:variant``) that carry ``metric``, one group per setting.

    Args:
        runs: (folder, record) of every run to consider.
        task: the task, with or without its variant.
        metric: the metric the table shows.
        order: model names in the order rows should have (a study's); other rows follow, base first, then
            experts, merged models and the rest, each in the order given.

    Returns:
        One group per setting, in the order the settings first appear, each with notes: what separates it
        from the other groups, the runs left out for another of the same setting, the cells left out for their data.
    """
    chosen = latest(runs)
    by_setting: dict[Setting, list[Found]] = {}
    for (_, setting), found in chosen.items():
        if matches(found[2], task, metric):
            by_setting.setdefault(setting, []).append(found)
    groups = [_group(found, order) for found in by_setting.values()]
    settings = list(by_setting)
    result = []
    for index, (entries, notes) in enumerate(groups):
        apart = [
            f"not comparable with table {other + 1} of {task}/{metric}: "
            + "; ".join(setting_differences(settings[index], settings[other]))
            for other in range(len(groups))
            if other != index
        ]
        result.append(Group(entries, [*apart, *_older_runs(runs, entries, task, metric), *notes]))
    return result


def _group(found: list[Found], order: Sequence[str] | None) -> tuple[list[Entry], list[str]]:
    """One setting's results as rows: named apart, in order, with the cells on other data left out."""
    names = distinct_names({ModelIdentity.of(run): run_name(run) for _, run, _ in found})
    entries = [Entry(folder, run, task, names[ModelIdentity.of(run)]) for folder, run, task in found]

    def position(entry: Entry) -> tuple[int, int]:
        if order and run_name(entry.run) in order:
            return (0, list(order).index(run_name(entry.run)))
        return (1, ROLE_ORDER.index(entry.role if entry.role in ROLE_ORDER else None))

    return _leave_out_other_data(sorted(entries, key=position))


def _leave_out_other_data(entries: list[Entry]) -> tuple[list[Entry], list[str]]:
    """Per language, the cells whose data differ from the data most rows used (ties: the first row's)."""
    left_out: dict[str, set[str]] = {}
    notes = []
    codes = dict.fromkeys(code for entry in entries for code in entry.task.languages)
    for code in codes:
        holders = [entry for entry in entries if code in entry.task.languages]
        keys = [data_key(entry.task.languages[code].data) for entry in holders]
        counts = Counter(keys)
        common = max(keys, key=lambda key: counts[key])  # the first of the most common
        reference = holders[keys.index(common)]
        for entry, key in zip(holders, keys, strict=True):
            if key != common:
                left_out.setdefault(entry.name, set()).add(code)
                theirs, ours = reference.task.languages[code].data, entry.task.languages[code].data
                reasons = "; ".join(data_differences(code, theirs, ours)) or f"{code}: data differ"
                notes.append(f"{entry.name}: {reasons} from {reference.name}'s, so its cell is left out")
    kept = [dataclasses.replace(e, left_out=frozenset(left_out.get(e.name, ()))) for e in entries]
    return kept, notes


def _older_runs(runs: Sequence[StoredRun], entries: list[Entry], task: str, metric: str) -> list[str]:
    """Notes on the runs of the group's models and settings that another run stands for (``comparability.latest``:
    a larger LIMIT of the setting, else a newer run)."""
    shown = {(entry.identity, entry.setting): entry for entry in entries}
    notes = []
    for folder, run in runs:
        for result in (result for result in run.tasks if matches(result, task, metric)):
            entry = shown.get((ModelIdentity.of(run), Setting.of(run, result)))
            if entry is not None and entry.task is not result and folder != entry.folder:
                why = "a larger LIMIT" if (result.limit or 0) < (entry.task.limit or 0) else "newer"
                notes.append(f"{entry.name}: run {folder} left out ({why}: same model and setting)")
    return notes


__all__ = ["Entry", "Group", "comparable_groups", "load_runs", "load_study_runs", "matches"]
