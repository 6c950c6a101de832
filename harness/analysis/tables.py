"""Zero-shot transfer tables: per task and metric, models down the side and languages across.

Three tables per task, metric and group of comparable results, built from run folders (``xlh table
RUN_FOLDER...``) or a study's models found under a results folder (``xlh table --study studies/x.yaml``):

- **scores**: each model's score per language, with the standard error the run recorded, then English, the
  mean over the non-English languages and the transfer gap (``harness.analysis.transfer``);
- **deltas** vs the base model (the study's, or the run with role ``base``), paired by item id
  (``harness.analysis.transfer``);
- **merge gain** of each merged model over the best of its parents, the best parent chosen again in every
  bootstrap resample (``harness.analysis.merge_gain``).

Which results share a table, which run of a model is shown and how rows are named is
``harness.analysis.table_runs``, asking ``harness.records.comparability``; what a finished table is,
``harness.analysis.table_model``; rendering, ``harness.render.tables``; the command, ``harness.cli.table``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from harness.analysis.merge_gain import merge_gain_table
from harness.analysis.table_model import KINDS, Bootstrap, Cell, Column, Row, Table, TableError
from harness.analysis.table_runs import Entry, Group, comparable_groups, load_runs, load_study_runs, matches
from harness.analysis.transfer import delta_table, draw_indices, score_table
from harness.records.comparability import setting_differences
from harness.records.io import StoredRun


def transfer_tables(
    runs: Sequence[StoredRun],
    tasks: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    group_by: str | None = None,
    settings: Bootstrap | None = None,
    order: Sequence[str] | None = None,
) -> list[Table]:
    """Scores, deltas vs base and merge gains of every task and metric, one set per group of comparable
    results.

    Args:
        runs: (folder, record) of the runs (``load_runs``, ``load_study_runs``).
        tasks: ``name`` or ``name:variant`` each (default: every task in the runs).
        metrics: the metrics to show (default: each task's headline metric).
        group_by: one column per language family, script or resource class instead of per language.
        settings: the paired bootstrap's resamples, seed and confidence (default ``Bootstrap()``).
        order: row order by model name (a study's).

    Raises:
        TableError: a task or metric no run has, or a merged model none of whose parents are in the runs.
            A paired table that cannot be built (no samples.jsonl) is a note on the scores table instead.
    """
    settings = settings or Bootstrap()
    names = list(tasks) if tasks else list(dict.fromkeys(task.name for _, run in runs for task in run.tasks))
    tables = []
    for task in names:
        chosen = list(metrics) if metrics else _headline_metrics(runs, task)
        if not chosen:
            raise TableError(f"no run has results of task {task!r}")
        for metric in chosen:
            groups = comparable_groups(runs, task, metric, order)
            if not groups:
                raise TableError(f"no run has {metric!r} results of task {task!r}")
            for entries, notes in groups:
                tables += _tables_of(entries, metric, group_by, settings, notes)
    return tables


def _tables_of(
    entries: list[Entry], metric: str, group_by: str | None, settings: Bootstrap, notes: list[str]
) -> list[Table]:
    scores = score_table(entries, metric, group_by, notes)
    paired = []
    for kind, build in (("deltas", delta_table), ("merge gain", merge_gain_table)):
        try:
            built = build(entries, metric, settings, group_by, notes)
        except TableError as error:  # e.g. no samples.jsonl: the scores still stand
            scores = dataclasses.replace(scores, notes=(*scores.notes, f"no {kind} table: {error}"))
            continue
        paired += [built] if built is not None else []
    return [scores, *paired]


def _headline_metrics(runs: Sequence[StoredRun], task: str) -> list[str]:
    found = [result.metrics[0] for _, run in runs for result in run.tasks if matches(result, task) and result.metrics]
    return list(dict.fromkeys(found))


def transfer_table(runs: Sequence[StoredRun], task: str, metric: str, group_by: str | None = None) -> Table:
    """The score table of one task and metric.

    Raises:
        TableError: no results, or results of more than one setting (naming two runs and what differs).
    """
    groups = comparable_groups(runs, task, metric)
    if not groups:
        raise TableError(f"no run has {metric!r} results of task {task!r}")
    if len(groups) > 1:
        first, second = groups[0].entries[0], groups[1].entries[0]
        differences = "; ".join(setting_differences(groups[0].setting, groups[1].setting))
        raise TableError(f"{task}/{metric}: {first.name} ({first.folder}) and {second.name} ({second.folder}) "
                         f"are not comparable: {differences}")  # fmt: skip
    entries, notes = groups[0]
    return score_table(entries, metric, group_by, notes)


__all__ = [
    "KINDS",
    "Bootstrap",
    "Cell",
    "Column",
    "Entry",
    "Group",
    "Row",
    "Table",
    "TableError",
    "comparable_groups",
    "delta_table",
    "draw_indices",
    "load_runs",
    "load_study_runs",
    "merge_gain_table",
    "score_table",
    "transfer_table",
    "transfer_tables",
]
