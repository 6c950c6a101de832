"""Run folders as pandas DataFrames, for analysis in a notebook or a script.

Two long-form frames, read through the one reader (``harness.records.io``) and named through the one
definition of model identity and setting (``harness.records.comparability``):

- ``read_runs``: one row per run x task x language x metric (``RUN_COLUMNS``): the score with its standard
  error, unit and item count, who the model is (display name, identity, weights, adapter, role, parents),
  what was asked (task, version, variant, split, shots, LIMIT and its sampling, the setting's label and
  key) and the language's family and script.
- ``read_sample_frame``: one row per run x task x language x item x per-item score (``SAMPLE_COLUMNS``),
  from ``samples.jsonl``.

Values are as results store them: a ``fraction`` metric is 0..1, a ``score`` (chrF++, BLEU) 0..100; ``points``
gives the scale tables show (fractions as percent). A missing value (NaN, written as null) is NaN.

Example, the mean accuracy of each model by language family::

    frame = read_runs([Path("results")], latest=True)
    acc = frame[(frame.task == "sib200") & (frame.metric == "acc")]
    acc.pivot_table(index="model", columns="family", values="value", aggfunc="mean")
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from harness.api.language_groups import group_of
from harness.api.metric import Unit
from harness.errors import DataError
from harness.records import comparability
from harness.records.comparability import ModelIdentity, Setting, data_key, distinct_names, run_name
from harness.records.io import read_run, read_sample_scores, run_folders, task_samples
from harness.records.schema import SAMPLES_FILE, RunResult, TaskResult

RUN_COLUMNS = (
    "run_id",
    "folder",
    "created_at",
    "model",
    "identity",
    "weights",
    "adapter",
    "role",
    "parents",
    "task",
    "version",
    "variant",
    "split",
    "shots",
    "shots_from",
    "limit",
    "sampling",
    "setting",
    "setting_key",
    "language",
    "flores",
    "family",
    "script",
    "metric",
    "unit",
    "value",
    "stderr",
    "n",
    "data_key",
)
SAMPLE_COLUMNS = (
    "run_id",
    "model",
    "identity",
    "task",
    "variant",
    "split",
    "language",
    "item",
    "metric",
    "score",
    "extracted",
    "gold",
)

Run = tuple[Path, RunResult]


def load(paths: Iterable[Path | str]) -> list[Run]:
    """(folder, record) of every run under ``paths`` (run folders or folders holding them), each folder once,
    in the order given. A path that does not exist or a malformed run raises ``DataError`` naming the file."""
    seen: set[Path] = set()
    runs: list[Run] = []
    for path in paths:
        if not Path(path).exists():  # run_folders finds nothing there: a typo must not read as "no runs"
            raise DataError("no such run folder or results folder", path)
        for folder in run_folders(Path(path)):
            key = folder.resolve()
            if key not in seen:
                seen.add(key)
                runs.append((folder, read_run(folder)))
    return runs


def model_names(runs: Iterable[Run]) -> dict[ModelIdentity, str]:
    """The name each model identity goes by: its newest run's ``run_name``, with the identity's short form
    added where two identities share a name (``comparability.distinct_names``: a base and its LoRA run)."""
    newest: dict[ModelIdentity, RunResult] = {}
    for _, run in runs:
        identity = ModelIdentity.of(run)
        known = newest.get(identity)
        if known is None or (run.created_at, run.run_id) > (known.created_at, known.run_id):
            newest[identity] = run
    return distinct_names({identity: run_name(run) for identity, run in newest.items()})


def setting_key(setting: Setting) -> str:
    """A short stable key of a setting: equal settings (comparable results) have equal keys."""
    return hashlib.sha256(repr(setting).encode()).hexdigest()[:12]


def _task_results(
    runs: list[Run], latest_only: bool, tasks: Collection[str] | None
) -> Iterator[tuple[Path, RunResult, TaskResult]]:
    chosen = {id(task) for _, _, task in comparability.latest(runs).values()} if latest_only else set()
    for folder, run in runs:
        for task in run.tasks:
            if tasks is not None and task.name not in tasks:
                continue
            if latest_only and id(task) not in chosen:
                continue
            yield folder, run, task


def read_runs(
    paths: Iterable[Path | str], *, latest: bool = False, tasks: Collection[str] | None = None
) -> pd.DataFrame:
    """Every score of the runs under ``paths`` as one long frame (``RUN_COLUMNS``).

    Args:
        paths: run folders, or folders holding run folders (a results folder, a model's folder).
        latest: keep only the newest task result of each model identity and setting
            (``comparability.latest``): what tables show. Other identities and settings are kept apart, whatever
            their names.
        tasks: only these tasks (default: all).

    Returns:
        One row per run, task, language and metric, in folder, task, language and metric order. ``model`` is the
        display name (``model_names``); ``identity`` tells models apart (``ModelIdentity.short``); ``setting`` and
        ``setting_key`` tell settings apart (``Setting.label`` and ``setting_key``); ``parents`` is a
        comma-separated string ("" without parents); ``created_at`` a UTC timestamp; ``limit`` a nullable integer.

    Raises:
        DataError: a results file that cannot be read, naming the file.
    """
    runs = load(paths)
    names = model_names(runs)
    rows: list[dict[str, Any]] = []
    for folder, run, task in _task_results(runs, latest, tasks):
        identity = ModelIdentity.of(run)
        setting = Setting.of(run, task)
        common = {
            "run_id": run.run_id,
            "folder": str(folder),
            "created_at": run.created_at,
            "model": names[identity],
            "identity": identity.short(),
            "weights": identity.weights,
            "adapter": identity.adapter,
            "role": run.role,
            "parents": ",".join(run.parents),
            "task": task.name,
            "version": task.version,
            "variant": task.variant,
            "split": task.split,
            "shots": task.shots,
            "shots_from": setting.shots_from,
            "limit": task.limit,
            "sampling": setting.sampling,
            "setting": setting.label(),
            "setting_key": setting_key(setting),
        }
        for code, language in task.languages.items():
            where = {
                "language": code,
                "flores": language.flores,
                "family": group_of(language.flores, "family"),
                "script": language.flores.rpartition("_")[2],
                "data_key": data_key(language.data),
                "n": language.n,
            }
            for metric in _metric_order(task, language.metrics):
                value = language.metrics[metric]
                scored = {"metric": metric, "unit": value.unit.value, "value": value.value, "stderr": value.stderr}
                rows.append({**common, **where, **scored})
    return _typed_runs(pd.DataFrame.from_records(rows, columns=list(RUN_COLUMNS)))


def _metric_order(task: TaskResult, metrics: dict[str, Any]) -> list[str]:
    """The task's display order, then any metric it does not list."""
    return [name for name in task.metrics if name in metrics] + [name for name in metrics if name not in task.metrics]


def _typed_runs(frame: pd.DataFrame) -> pd.DataFrame:
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    frame["limit"] = frame["limit"].astype("Int64")
    for column in ("version", "shots", "n"):
        frame[column] = frame[column].astype("int64")
    for column in ("value", "stderr"):
        frame[column] = frame[column].astype("float64")
    return frame


def points(frame: pd.DataFrame, column: str = "value") -> pd.Series:
    """``column`` (values, standard errors or differences) on the scale tables show it: fractions x100."""
    scale = frame["unit"].map(lambda unit: Unit.of(unit).scale)
    return frame[column] * scale


def read_sample_frame(paths: Iterable[Path | str], *, tasks: Collection[str] | None = None) -> pd.DataFrame:
    """Every per-item score in the runs' ``samples.jsonl`` as one long frame (``SAMPLE_COLUMNS``).

    Args:
        paths: run folders, or folders holding run folders.
        tasks: only these tasks (default: all).

    Returns:
        One row per run, task, language, item and per-item score (``acc``, ``acc_norm``, ``sentence_chrf++``),
        in file order. ``item`` is the item id (the same item in every language and run); ``extracted`` and
        ``gold`` are what the sample recorded (a label, a translation). Samples written before results schema 4
        have no split: they take their task result's. A run without ``samples.jsonl`` adds no rows.

    Raises:
        DataError: a results or samples file that cannot be read, naming the file (and line).
    """
    runs = load(paths)
    names = model_names(runs)
    rows: list[dict[str, Any]] = []
    for folder, run in runs:
        if not (folder / SAMPLES_FILE).is_file():
            continue
        groups = read_sample_scores(folder / SAMPLES_FILE)
        identity = ModelIdentity.of(run)
        for task in run.tasks:
            if tasks is not None and task.name not in tasks:
                continue
            for language in task.languages:
                items = task_samples(groups, run, task, language) or {}
                common = {
                    "run_id": run.run_id,
                    "model": names[identity],
                    "identity": identity.short(),
                    "task": task.name,
                    "variant": task.variant,
                    "split": task.split,
                    "language": language,
                }
                for item, sample in items.items():
                    answer = {"item": item, "extracted": sample.extracted, "gold": sample.gold}
                    for metric, score in sample.scores.items():
                        rows.append({**common, **answer, "metric": metric, "score": score})
    frame = pd.DataFrame.from_records(rows, columns=list(SAMPLE_COLUMNS))
    frame["score"] = frame["score"].astype("float64")
    return frame


__all__ = [
    "RUN_COLUMNS",
    "SAMPLE_COLUMNS",
    "load",
    "model_names",
    "points",
    "read_runs",
    "read_sample_frame",
    "setting_key",
]
