"""Zero-shot transfer tables: per task and metric, models down the side and languages across.

Three tables per task and metric, built from run folders (``xlh table RUN_FOLDER...``) or from a study's
models found under a results folder (``xlh table --study studies/x.yaml --results results/``):

- **scores**: each model's score per language, with the standard error the run recorded, then English, the
  mean over the non-English languages and the **transfer gap**, English minus that mean (XTREME, Hu et al.
  2020, "cross-lingual transfer gap": the English score minus the average over the other languages).
- **deltas** vs the base model (the study's, or the one run with role ``base``).
- **merge gain** of each merged model: merged minus the best of its parents, per language (the parent that
  scores highest on that language), with a paired bootstrap 95% interval.

Statistics. The standard error of a mean over languages (and of a group mean) combines the languages'
standard errors as independent, ``sqrt(sum w_i^2 se_i^2)``; the gap's combines English's and the mean's the
same way. Deltas and merge gains are paired: items are parallel across models and languages (the same item
id is the same item), so the items are resampled by id with replacement, the same draw for every model and
every language with the same items, and each resample is scored with the task's own metric
(``harness.analysis.paired_stats.item_statistic``: chrF++, BLEU and F1 are recomputed on the resample, not averaged).
Draws are ``numpy.random.default_rng(seed).integers(0, n, (resamples, n))``, the same as
``scipy.stats.bootstrap``'s for paired data, so its percentile interval is reproduced exactly
(tests/test_tables.py checks it); the stderr is the standard deviation (ddof=1) of the resampled
differences. The seed and the number of resamples are in every table's notes.

Comparability: results are only ever put in one table (and averaged) when the task name, version, prompt
variant, split, shots (count, seed, language), LIMIT, the data files' SHA-256 of every shared language and
the metric's signature agree. Other results get a table of their own, with a note saying what differs;
``transfer_table`` (one table) raises TableError instead.

Output: terminal (rich), Markdown, CSV (long form: one line per model and column, raw values with their
unit) and LaTeX (booktabs).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from harness.analysis.paired_stats import item_statistic
from harness.api.language_groups import GROUPINGS, group_of, group_sort_key
from harness.api.languages import ENGLISH
from harness.api.metric import Metric, MetricValue, SampleScore
from harness.errors import DataError, XlhError
from harness.records.io import model_slug, read_sample_scores, sample_group
from harness.records.schema import RESULTS_FILE, SAMPLES_FILE, SampleKey
from harness.run.sampling import task_sampling
from harness.seeds import DEFAULT_SEED

ROLE_ORDER = ("base", "expert", "merged", None)
FORMATS = ("terminal", "md", "csv", "latex")
KINDS = ("scores", "deltas", "merge_gain")
CSV_COLUMNS = ("task", "variant", "metric", "unit", "table", "model", "role", "versus", "column", "column_kind",
               "value", "stderr", "ci_low", "ci_high", "cell_versus", "version", "split", "shots", "limit")  # fmt: skip


class TableError(XlhError):
    """Results that cannot be tabulated as asked (not comparable, unreadable, missing samples)."""


# -- runs as read from their folders ------------------------------------------------------------------------
@dataclass(frozen=True)
class TaskSetting:
    """What two results of one task must share to be compared (besides data and metric signatures)."""

    name: str
    version: int
    variant: str
    split: str
    shots: int
    shot_seed: int | None
    shots_from: str | None
    limit: int | None
    sampling: str  # which items a LIMIT took: harness.run.sampling.sampling_of ("all", "first", "seed S")

    def describe(self) -> str:
        shots = f"{self.shots}-shot" + (f" (seed {self.shot_seed}, from {self.shots_from})" if self.shots else "")
        limit = f"LIMIT {self.limit} ({self.sampling})" if self.limit else "all items"
        return f"{self.name} v{self.version}, variant {self.variant}, split {self.split}, {shots}, {limit}"

    def differences(self, other: TaskSetting) -> list[str]:
        return [
            f"{f.name} {getattr(self, f.name)!r} vs {getattr(other, f.name)!r}"
            for f in fields(self)
            if getattr(self, f.name) != getattr(other, f.name)
        ]


@dataclass(frozen=True)
class LanguageScores:
    code: str
    flores: str
    name: str
    n: int
    metrics: dict[str, MetricValue]
    data: str  # the data signature: SHA-256 of its files (not their paths), Hub revision, few-shot pool


@dataclass(frozen=True)
class TaskScores:
    setting: TaskSetting
    metrics: tuple[str, ...]
    languages: dict[str, LanguageScores]


@dataclass(frozen=True)
class Run:
    """One run folder: who the model is (display name, role, parents, recipe) and its scores per task."""

    folder: Path
    run_id: str
    created_at: str
    name: str
    role: str | None
    parents: tuple[str, ...]
    model: str  # as given to the run (a folder, a Hub id)
    local_path: str | None
    fingerprint: str
    recipe: dict[str, Any] | None
    tasks: tuple[TaskScores, ...]

    def aliases(self) -> set[str]:
        """Every name a parent list may use for this model."""
        names = {self.name, self.model, model_slug(self.model), self.fingerprint}
        return names | ({self.local_path} if self.local_path else set())


def read_run(folder: Path, name: str | None = None) -> Run:
    """A Run from ``folder/results.json``; ``name`` overrides the display name the run recorded."""
    file = folder / RESULTS_FILE
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        model = data["model"]
        recipe = data.get("recipe")
        return Run(
            folder=folder,
            run_id=data["run_id"],
            created_at=data["created_at"],
            name=name or data.get("display_name") or model_slug(model["name_or_path"]),
            role=data.get("role"),
            parents=tuple(data.get("parents") or ()),
            model=model["name_or_path"],
            local_path=model.get("local_path"),
            fingerprint=model["fingerprint"],
            recipe=recipe if isinstance(recipe, dict) else None,
            tasks=tuple(_task_scores(task) for task in data["tasks"]),
        )
    except FileNotFoundError as error:
        raise TableError(f"{file}: no results file (is {folder} a run folder?)") from error
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise TableError(f"{file}: not a readable xlh results file ({type(error).__name__}: {error})") from error


def _task_scores(task: dict[str, Any]) -> TaskScores:
    setting = TaskSetting(
        name=task["name"],
        version=int(task["version"]),
        variant=task["variant"],
        split=task["split"],
        shots=int(task["shots"]),
        shot_seed=task.get("shot_seed"),
        shots_from=task.get("shots_from"),
        limit=task.get("limit"),
        sampling=task_sampling(task),
    )
    languages = {
        code: LanguageScores(
            code=code,
            flores=entry["flores"],
            name=entry["name"],
            n=int(entry["n"]),
            metrics={
                name: MetricValue(
                    value=float(m["value"]) if m["value"] is not None else math.nan,
                    stderr=None if m.get("stderr") is None else float(m["stderr"]),
                    signature=m["signature"],
                    unit=m.get("unit", "fraction"),
                )
                for name, m in entry["metrics"].items()
            },
            data=_data_signature(entry["data"]),
        )
        for code, entry in task["languages"].items()
    }
    return TaskScores(setting=setting, metrics=tuple(task["metrics"]), languages=languages)


def _data_signature(data: dict[str, Any] | None) -> str:
    if not data:
        return ""
    return json.dumps(
        {
            "files": sorted((data.get("files") or {}).values()),
            "hub": data.get("hub"),
            "total": data.get("total_examples"),
            "shot_pool": _data_signature(data.get("shot_pool")),
        },
        sort_keys=True,
    )


def load_runs(folders: Iterable[Path]) -> list[Run]:
    """Runs from run folders; a folder that is not itself a run folder contributes every run folder under it
    (``results/``, ``results/<model>/``)."""
    from harness.analysis.study import run_folders

    runs = []
    for folder in folders:
        if (folder / RESULTS_FILE).is_file():
            runs.append(read_run(folder))
        elif folder.is_dir():
            found = run_folders(folder)
            if not found:
                raise TableError(f"{folder}: no run folder (results.json) under it")
            runs.extend(read_run(sub) for sub in found)
        else:
            raise TableError(f"{folder}: no such run folder")
    return runs


def load_study_runs(study_file: Path, results_dir: Path) -> list[Run]:
    """The runs of a study's models under ``results_dir``, named, roled and parented as the study says."""
    from harness.analysis.study import load_study, read_run_summary, run_folders, runs_of

    study = load_study(study_file)
    summaries = [read_run_summary(folder) for folder in run_folders(results_dir)] if results_dir.is_dir() else []
    runs = []
    for model in study.models:
        for summary in runs_of(model, summaries):
            run = read_run(summary.folder, name=model.name)
            recipe = dataclasses.asdict(model.recipe) if model.recipe else run.recipe
            runs.append(replace(run, role=model.role, parents=model.parents, recipe=recipe))
    if not runs:
        raise TableError(f"{study_file}: no results of its models under {results_dir} (run: make eval STUDY=...)")
    return runs


@cache
def _samples(folder: Path) -> dict[SampleKey, dict[str, SampleScore]]:
    """(task, variant, split, language code) -> item id -> SampleScore, from a run's samples.jsonl."""
    file = folder / SAMPLES_FILE
    if not file.is_file():
        raise TableError(f"{file}: missing; deltas and merge gains need the per-item scores")
    try:
        return read_sample_scores(file)
    except DataError as error:
        raise TableError(str(error)) from error


# -- which results share a table ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    """One row's results of one task: a run and the task's scores in it."""

    run: Run
    task: TaskScores

    def metric(self, code: str, metric: str) -> MetricValue | None:
        language = self.task.languages.get(code)
        return language.metrics.get(metric) if language else None


def _conflict(a: Entry, b: Entry, metric: str) -> str | None:
    """Why ``a`` and ``b`` cannot share a table (None when they can)."""
    differences = a.task.setting.differences(b.task.setting)
    if differences:
        return ", ".join(differences)
    for code in sorted(set(a.task.languages) & set(b.task.languages)):
        if a.task.languages[code].data != b.task.languages[code].data:
            return f"the data files of {code} differ (SHA-256)"
        ma, mb = a.metric(code, metric), b.metric(code, metric)
        if ma is not None and mb is not None and ma.signature != mb.signature:
            return f"{metric} of {code} was computed differently ({ma.signature} vs {mb.signature})"
    return None


def comparable_groups(runs: Sequence[Run], task: str, metric: str) -> list[tuple[list[Entry], list[str]]]:
    """The results of ``task`` that carry ``metric``, split into groups that may share a table, each with
    notes on what separates it from the others and on older runs left out."""
    entries = [Entry(run, scores) for run in runs for scores in run.tasks if _matches(scores, task, metric)]
    groups: list[list[Entry]] = []
    for entry in entries:
        for group in groups:
            if all(_conflict(entry, member, metric) is None for member in group):
                group.append(entry)
                break
        else:
            groups.append([entry])
    result = []
    for index, group in enumerate(groups):
        notes = [
            f"not comparable with table {other + 1} of {task}/{metric}: {_conflict(group[0], groups[other][0], metric)}"
            for other in range(len(groups))
            if other != index
        ]
        kept, dropped = _newest_per_name(group)
        notes += [f"{e.run.name}: older run {e.run.folder} left out (newer: same model and setting)" for e in dropped]
        result.append((kept, notes))
    return result


def _matches(scores: TaskScores, task: str, metric: str) -> bool:
    name, _, variant = task.partition(":")
    return (
        scores.setting.name == name and (not variant or scores.setting.variant == variant) and metric in scores.metrics
    )


def _newest_per_name(group: list[Entry]) -> tuple[list[Entry], list[Entry]]:
    newest: dict[str, Entry] = {}
    for entry in sorted(group, key=lambda e: (e.run.created_at, e.run.run_id)):
        newest[entry.run.name] = entry
    kept = [entry for entry in group if newest[entry.run.name] is entry]
    return kept, [entry for entry in group if newest[entry.run.name] is not entry]


# -- tables -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    """A column is a weighted sum of language scores: one language, a group mean, the mean, the gap."""

    key: str
    label: str
    kind: str  # "english" | "language" | "group" | "mean" | "gap"
    weights: tuple[tuple[str, float], ...]  # language code -> weight


@dataclass(frozen=True)
class Cell:
    value: float
    stderr: float | None = None
    low: float | None = None  # the bootstrap interval (deltas and merge gains)
    high: float | None = None
    versus: str | None = None  # merge gain: the parent subtracted (the best one on this language)


@dataclass(frozen=True)
class Row:
    name: str
    role: str | None
    cells: tuple[Cell | None, ...]
    versus: str = ""  # what the row is compared with (deltas, merge gains)


@dataclass(frozen=True)
class Table:
    kind: str  # one of KINDS
    task: str
    metric: str
    unit: str  # "fraction" (shown as %), "score" (0-100), "count"
    setting: TaskSetting
    group_by: str | None
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    notes: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        what = {"scores": "scores", "deltas": "delta vs base", "merge_gain": "merge gain vs best parent"}[self.kind]
        unit = {"fraction": " (%)", "score": " (0-100)"}.get(self.unit, "")
        grouped = f", mean per {self.group_by}" if self.group_by else ""
        return f"{self.setting.name}:{self.setting.variant} · {self.metric}{unit} · {what}{grouped}"


@dataclass(frozen=True)
class Bootstrap:
    """Paired bootstrap settings (recorded in each table's notes)."""

    resamples: int = 1000
    seed: int = DEFAULT_SEED
    confidence: float = 0.95

    def describe(self) -> str:
        return (
            f"paired bootstrap over item ids: {self.resamples} resamples, numpy default_rng(seed={self.seed}), "
            f"{100 * self.confidence:g}% percentile interval; stderr = sd of the resampled differences"
        )


def columns_for(entries: Sequence[Entry], group_by: str | None = None) -> tuple[list[Column], list[str]]:
    """English, the other languages (or their group means), the non-English mean and the transfer gap."""
    languages: dict[str, LanguageScores] = {}
    for entry in entries:
        for code, language in entry.task.languages.items():
            languages.setdefault(code, language)
    english = [code for code, language in languages.items() if language.flores == ENGLISH]
    others = sorted((code for code in languages if code not in english), key=lambda c: (languages[c].name, c))
    notes: list[str] = []
    columns = [Column(code, languages[code].name, "english", ((code, 1.0),)) for code in english]
    if group_by is None:
        columns += [Column(code, languages[code].name, "language", ((code, 1.0),)) for code in others]
    else:
        if group_by not in GROUPINGS:
            raise TableError(f"unknown grouping {group_by!r}; valid: {', '.join(GROUPINGS)}")
        groups: dict[str, list[str]] = {}
        for code in others:
            groups.setdefault(group_of(languages[code].flores, group_by), []).append(code)
        for group in sorted(groups, key=lambda g: group_sort_key(group_by, g)):
            members = groups[group]
            weights = tuple((code, 1 / len(members)) for code in members)
            columns.append(Column(f"{group_by}:{group}", f"{group} ({len(members)})", "group", weights))
            notes.append(f"{group}: {', '.join(languages[code].name for code in members)}")
    if others:
        mean = tuple((code, 1 / len(others)) for code in others)
        columns.append(Column("mean", f"mean non-En ({len(others)})", "mean", mean))
        if len(english) == 1:
            columns.append(Column("gap", "gap (En − mean)", "gap", ((english[0], 1.0),) + _scaled(mean, -1.0)))
    if not english:
        notes.append("no English entry (e.g. translation directions): no transfer gap")
    elif len(english) > 1:
        notes.append("several English entries: no transfer gap")
    return columns, notes


def _scaled(weights: tuple[tuple[str, float], ...], factor: float) -> tuple[tuple[str, float], ...]:
    return tuple((code, factor * weight) for code, weight in weights)


def _ordered(entries: Sequence[Entry], order: Sequence[str] | None) -> list[Entry]:
    """The study's order; without a study, base, experts, merged, others, each in the order given."""

    def key(entry: Entry) -> tuple[int, int]:
        if order and entry.run.name in order:
            return (0, list(order).index(entry.run.name))
        return (1, ROLE_ORDER.index(entry.run.role if entry.run.role in ROLE_ORDER else None))

    return sorted(entries, key=key)


def _unit(entries: Sequence[Entry], metric: str) -> str:
    units = {m.unit for entry in entries for code in entry.task.languages if (m := entry.metric(code, metric))}
    return units.pop() if len(units) == 1 else "fraction"


def score_table(entries: Sequence[Entry], metric: str, group_by: str | None = None, notes: Sequence[str] = ()) -> Table:
    """Scores ± the stderr the runs recorded, per column (entries must be comparable)."""
    columns, column_notes = columns_for(entries, group_by)
    rows = [Row(entry.run.name, entry.run.role, tuple(_score_cell(entry, column, metric) for column in columns))
            for entry in entries]  # fmt: skip
    means = [i for i, column in enumerate(columns) if column.kind == "mean"]
    incomplete = [row.name for row in rows if any(row.cells[i] is None for i in means)]
    extra = [f"{name}: some languages missing, so no mean or gap" for name in incomplete]
    setting = entries[0].task.setting
    return Table(
        "scores", setting.name, metric, _unit(entries, metric), setting, group_by, tuple(columns), tuple(rows),
        (setting.describe(), *notes, *column_notes, *extra,
         "stderr of a mean over languages: sqrt(sum of (weight x stderr)^2), languages taken as independent"),
    )  # fmt: skip


def _score_cell(entry: Entry, column: Column, metric: str) -> Cell | None:
    values = [entry.metric(code, metric) for code, _ in column.weights]
    present = [v for v in values if v is not None and not math.isnan(v.value)]
    if len(present) < len(values):
        return None  # a language of the column is missing: no partial means
    value = sum(w * v.value for (_, w), v in zip(column.weights, present, strict=True))
    errors = [v.stderr for v in present if v.stderr is not None and not math.isnan(v.stderr)]
    if len(errors) < len(present):
        return Cell(value)
    return Cell(value, math.sqrt(sum((w * e) ** 2 for (_, w), e in zip(column.weights, errors, strict=True))))


# -- the paired bootstrap -----------------------------------------------------------------------------------
def draw_indices(n: int, settings: Bootstrap, rng: np.random.Generator) -> np.ndarray:
    """Resampled item positions, one row per resample (scipy.stats.bootstrap draws these the same way)."""
    return rng.integers(0, n, (settings.resamples, n))


class _Resampler:
    """Resampled metric values per (run, language), all drawn from one seeded generator: languages with the
    same item ids share one draw, so differences and means across languages stay paired."""

    def __init__(self, metric: Metric, settings: Bootstrap) -> None:
        self.metric, self.settings = metric, settings
        self.rng = np.random.default_rng(settings.seed)
        self.draws: dict[tuple[str, ...], np.ndarray] = {}  # item ids -> resampled positions
        self.values: dict[tuple[Path, str, str, tuple[str, ...]], np.ndarray] = {}

    def ids(self, entries: Sequence[Entry], code: str) -> tuple[str, ...]:
        """The item ids of ``code``; the same in every entry, or TableError (results are then not paired)."""
        found = {entry.run.name: frozenset(_items(entry, code)) for entry in entries}
        first = next(iter(found.values()))
        for name, ids in found.items():
            if ids != first:
                raise TableError(f"{code}: the items of {name} differ from the others', so they cannot be paired")
        return tuple(sorted(first))

    def of(self, entry: Entry, code: str, ids: tuple[str, ...]) -> np.ndarray:
        key = (entry.run.folder, entry.task.setting.variant, code, ids)
        if key not in self.values:
            if ids not in self.draws:
                self.draws[ids] = draw_indices(len(ids), self.settings, self.rng)
            items = _items(entry, code)
            self.values[key] = item_statistic(self.metric, [items[i] for i in ids])(self.draws[ids])
        return self.values[key]


def _items(entry: Entry, code: str) -> dict[str, SampleScore]:
    setting = entry.task.setting
    splits = [
        t.setting.split
        for t in entry.run.tasks
        if (t.setting.name, t.setting.variant) == (setting.name, setting.variant)
    ]
    try:
        items = sample_group(_samples(entry.run.folder), setting.name, setting.variant, setting.split, code, splits)
    except DataError as error:
        raise TableError(f"{entry.run.folder / SAMPLES_FILE}: {error}") from error
    if not items:
        raise TableError(f"{entry.run.folder / SAMPLES_FILE}: no samples of {setting.name}:{setting.variant}/{code}")
    return items


def _paired_cell(
    column: Column, row: Entry, references: dict[str, Entry], resampler: _Resampler, metric: str, ids: dict[str, tuple]
) -> Cell | None:
    """Σ weight x (row - reference) over the column's languages, with its bootstrap stderr and interval;
    ``references`` names the entry subtracted on each language."""
    value, resampled = 0.0, np.zeros(resampler.settings.resamples)
    for code, weight in column.weights:
        reference = references.get(code)
        mine, theirs = row.metric(code, metric), reference.metric(code, metric) if reference else None
        if reference is None or mine is None or theirs is None:
            return None
        value += weight * (mine.value - theirs.value)
        resampled += weight * (resampler.of(row, code, ids[code]) - resampler.of(reference, code, ids[code]))
    alpha = 100 * (1 - resampler.settings.confidence) / 2
    low, high = np.percentile(resampled, [alpha, 100 - alpha])
    stderr = float(np.std(resampled, ddof=1)) if len(resampled) > 1 else None
    versus = next(iter(references.values())).run.name if len(column.weights) == 1 and references else None
    return Cell(value, stderr, float(low), float(high), versus)


def _paired_table(
    kind: str,
    entries: Sequence[Entry],
    pairs: list[tuple[Entry, dict[str, Entry], str]],
    metric: Metric,
    settings: Bootstrap,
    group_by: str | None,
    notes: Sequence[str],
) -> Table:
    columns, column_notes = columns_for(entries, group_by)
    resampler = _Resampler(metric, settings)
    involved = [entry for row, refs, _ in pairs for entry in (row, *refs.values())]
    codes = sorted({code for column in columns for code, _ in column.weights})
    ids = {code: resampler.ids([e for e in involved if code in e.task.languages], code) for code in codes}
    rows = []
    for row, references, versus in pairs:
        cells = []
        for column in columns:
            chosen = {code: references[code] for code, _ in column.weights if code in references}
            cells.append(_paired_cell(column, row, chosen, resampler, metric.name, ids))
        rows.append(Row(row.run.name, row.run.role, tuple(cells), versus))
    setting = entries[0].task.setting
    return Table(
        kind, setting.name, metric.name, _unit(entries, metric.name), setting, group_by, tuple(columns), tuple(rows),
        (setting.describe(), *notes, *column_notes, settings.describe()),
    )  # fmt: skip


def _metric(setting: TaskSetting, name: str) -> Metric:
    from harness.api.registry import get_task

    for metric in get_task(setting.name).metrics(setting.variant):
        if metric.name == name:
            return metric
    raise TableError(f"task {setting.name}:{setting.variant} has no metric {name!r} (needed to resample it)")


def delta_table(
    entries: Sequence[Entry], metric: str, settings: Bootstrap, group_by: str | None = None, notes: Sequence[str] = ()
) -> Table | None:
    """Every other model minus the base model (None without exactly one base among the entries)."""
    bases = [entry for entry in entries if entry.run.role == "base"]
    if len(bases) > 1:
        raise TableError(f"several base models ({', '.join(b.run.name for b in bases)}): deltas need exactly one")
    if not bases:
        return None
    base = bases[0]
    pairs = [(e, dict.fromkeys(base.task.languages, base), base.run.name) for e in entries if e is not base]
    if not pairs:
        return None
    return _paired_table("deltas", entries, pairs, _metric(base.task.setting, metric), settings, group_by, notes)


def merge_gain_table(
    entries: Sequence[Entry], metric: str, settings: Bootstrap, group_by: str | None = None, notes: Sequence[str] = ()
) -> Table | None:
    """Each merged model minus its best parent on each language (None without a merged model whose parents
    have comparable results)."""
    pairs, extra = [], []
    for entry in entries:
        if entry.run.role != "merged":
            continue
        parents = [_find(entries, parent) for parent in entry.run.parents]
        missing = [p for p, found in zip(entry.run.parents, parents, strict=True) if found is None]
        if not parents:
            extra.append(f"{entry.run.name}: no merge gain, no parents recorded")
            continue
        if missing:
            extra.append(f"{entry.run.name}: no merge gain, parents without comparable results: {', '.join(missing)}")
            continue
        best = {}
        for code in entry.task.languages:
            scored = [(p.metric(code, metric), p) for p in parents if p is not None]
            valid = [(v.value, -i, p) for i, (v, p) in enumerate(scored) if v is not None and not math.isnan(v.value)]
            if len(valid) == len(parents):
                best[code] = max(valid, key=lambda t: (t[0], t[1]))[2]
        names = ", ".join(p.run.name for p in parents if p is not None)
        pairs.append((entry, best, f"best of {names}"))
    if not pairs:
        if extra:  # merged models whose parents are not here: say so rather than leave the table out silently
            raise TableError("; ".join(extra))
        return None
    setting = pairs[0][0].task.setting
    return _paired_table("merge_gain", entries, pairs, _metric(setting, metric), settings, group_by, [*notes, *extra])


def _find(entries: Sequence[Entry], parent: str) -> Entry | None:
    for entry in entries:
        if parent in entry.run.aliases() or str(Path(parent).expanduser().resolve()) == entry.run.local_path:
            return entry
    return None


def transfer_tables(
    runs: Sequence[Run],
    tasks: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    group_by: str | None = None,
    settings: Bootstrap = Bootstrap(),
    order: Sequence[str] | None = None,
) -> list[Table]:
    """Scores, deltas vs base and merge gains for every task (``name`` or ``name:variant``) and metric
    (default: each task's headline metric), one set per group of comparable results."""
    names = list(tasks) if tasks else list(dict.fromkeys(t.setting.name for run in runs for t in run.tasks))
    tables = []
    for task in names:
        chosen = list(metrics) if metrics else _headline_metrics(runs, task)
        if not chosen:
            raise TableError(f"no run has results of task {task!r}")
        for metric in chosen:
            groups = comparable_groups(runs, task, metric)
            if not groups:
                raise TableError(f"no run has {metric!r} results of task {task!r}")
            for entries, notes in groups:
                entries = _ordered(entries, order)
                scores = score_table(entries, metric, group_by, notes)
                paired = []
                for kind, build in (("deltas", delta_table), ("merge gain", merge_gain_table)):
                    try:
                        built = build(entries, metric, settings, group_by, notes)
                    except TableError as error:  # e.g. no samples.jsonl: the scores still stand
                        scores = replace(scores, notes=(*scores.notes, f"no {kind} table: {error}"))
                        continue
                    paired += [built] if built is not None else []
                tables += [scores, *paired]
    return tables


def _headline_metrics(runs: Sequence[Run], task: str) -> list[str]:
    name, _, variant = task.partition(":")
    found = [
        t.metrics[0] for run in runs for t in run.tasks
        if t.setting.name == name and (not variant or t.setting.variant == variant) and t.metrics
    ]  # fmt: skip
    return list(dict.fromkeys(found))


def transfer_table(runs: Sequence[Run], task: str, metric: str, group_by: str | None = None) -> Table:
    """The score table of one task and metric; TableError when the results are not all comparable."""
    groups = comparable_groups(runs, task, metric)
    if not groups:
        raise TableError(f"no run has {metric!r} results of task {task!r}")
    if len(groups) > 1:
        first, second = groups[0][0][0], groups[1][0][0]
        raise TableError(
            f"{task}/{metric}: {first.run.name} ({first.run.folder}) and {second.run.name} ({second.run.folder}) "
            f"are not comparable: {_conflict(first, second, metric)}"
        )
    entries, notes = groups[0]
    return score_table(_ordered(entries, None), metric, group_by, notes)


# -- rendering ----------------------------------------------------------------------------------------------
def _scale(unit: str) -> float:
    return 100.0 if unit == "fraction" else 1.0


def format_cell(cell: Cell | None, kind: str, unit: str, pm: str = "±", minus: str = "−") -> str:
    if cell is None:
        return "—"
    scale = _scale(unit)

    def number(x: float, signed: bool) -> str:
        shown = round(scale * x, 1) + 0.0  # no "-0.0" for a difference that rounds to zero
        text = f"{shown:+.1f}" if signed else f"{shown:.1f}"
        return text.replace("-", minus)

    if kind == "scores":
        text = number(cell.value, False)
        return text + (f" {pm} {number(cell.stderr, False)}" if cell.stderr is not None else "")
    if kind == "deltas":
        return number(cell.value, True) + (f" {pm} {number(cell.stderr, False)}" if cell.stderr is not None else "")
    if cell.low is None or cell.high is None:
        return number(cell.value, True)
    return f"{number(cell.value, True)} [{number(cell.low, True)}, {number(cell.high, True)}]"


def _grid(table: Table) -> tuple[list[str], list[list[str]]]:
    header = ["model", *(column.label for column in table.columns)]
    body = []
    for row in table.rows:
        name = f"{row.name} − {row.versus}" if row.versus else row.name
        body.append([name, *(format_cell(cell, table.kind, table.unit) for cell in row.cells)])
        if table.kind == "merge_gain":
            body.append(["  best parent", *(cell.versus or "" if cell else "" for cell in row.cells)])
    return header, body


def render_markdown(tables: Sequence[Table]) -> str:
    parts = []
    for table in tables:
        header, body = _grid(table)
        lines = [f"### {table.title}", "", "| " + " | ".join(header) + " |"]
        lines.append("|" + "|".join([" --- "] + [" ---: "] * (len(header) - 1)) + "|")
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in body]
        lines += ["", *(f"- {note}" for note in table.notes), ""]
        parts.append("\n".join(lines))
    return "\n".join(parts)


def render_csv(tables: Sequence[Table]) -> str:
    """Long form: one line per table, model and column, raw values (unit "fraction": 0-1)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for table in tables:
        s = table.setting
        for row in table.rows:
            for column, cell in zip(table.columns, row.cells, strict=True):
                numbers = [_raw(getattr(cell, name, None)) for name in ("value", "stderr", "low", "high")]
                writer.writerow([s.name, s.variant, table.metric, table.unit, table.kind, row.name, row.role or "",
                                 row.versus, column.label, column.kind, *numbers, (cell.versus or "") if cell else "",
                                 s.version, s.split, s.shots, "" if s.limit is None else s.limit])  # fmt: skip
    return out.getvalue()


def _raw(value: float | None) -> str:
    return "" if value is None or math.isnan(value) else repr(float(value))


_LATEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "±": r"$\pm$", "−": r"$-$", "→": r"$\rightarrow$", "—": "---", "·": r"$\cdot$"}  # fmt: skip


def latex_escape(text: str) -> str:
    return "".join(_LATEX_ESCAPES.get(char, char) for char in text)


def render_latex(tables: Sequence[Table]) -> str:
    """One booktabs ``table`` per Table (needs ``\\usepackage{booktabs}``)."""
    parts = []
    for table in tables:
        header, body = _grid(table)
        spec = "l" + "r" * (len(header) - 1)
        lines = [r"\begin{table}[t]", r"\centering", r"\small", rf"\begin{{tabular}}{{{spec}}}", r"\toprule"]
        lines.append(" & ".join(latex_escape(h) for h in header) + r" \\")
        lines.append(r"\midrule")
        lines += [" & ".join(latex_escape(cell) for cell in row) + r" \\" for row in body]
        lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{latex_escape(table.title)}. "
                  rf"{latex_escape(table.notes[0]) if table.notes else ''}}}", r"\end{table}", ""]  # fmt: skip
        parts.append("\n".join(lines))
    return "\n".join(parts)


def render_rich(tables: Sequence[Table]) -> list[Any]:
    """rich Tables (print them with a rich Console)."""
    from rich.table import Table as RichTable

    rendered = []
    for table in tables:
        header, body = _grid(table)
        out = RichTable(title=table.title, caption="\n".join(table.notes), caption_justify="left")
        out.add_column(header[0], no_wrap=True)
        for label in header[1:]:
            out.add_column(label, justify="right")
        for row in body:
            out.add_row(*row, style="dim" if row[0].startswith("  ") else None)
        rendered.append(out)
    return rendered


def render(tables: Sequence[Table], fmt: str, width: int | None = None) -> str:
    """The tables as text in ``fmt`` (one of FORMATS); terminal text without colours for files and pipes."""
    if fmt == "md":
        return render_markdown(tables)
    if fmt == "csv":
        return render_csv(tables)
    if fmt == "latex":
        return render_latex(tables)
    if fmt == "terminal":
        from rich.console import Console

        buffer = io.StringIO()
        console = Console(file=buffer, width=width or 200, no_color=True, force_terminal=False)
        for rich_table in render_rich(tables):
            console.print(rich_table)
        return buffer.getvalue()
    raise TableError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")


# -- the command ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TableRequest:
    """What ``xlh table`` was asked for."""

    run_folders: tuple[Path, ...] = ()
    study: Path | None = None
    results: Path = Path("results")
    fmt: str = "terminal"
    out: Path | None = None
    group_by: str | None = None
    tasks: tuple[str, ...] | None = None
    metrics: tuple[str, ...] | None = None
    bootstrap: Bootstrap = field(default_factory=Bootstrap)


def table_command(request: TableRequest) -> int:
    """``xlh table``: build the tables and print them (or write ``out``). Returns the exit status."""
    if request.fmt not in FORMATS:
        raise TableError(f"unknown format {request.fmt!r}; valid: {', '.join(FORMATS)}")
    if request.study is not None:
        if request.run_folders:
            raise TableError("give run folders or --study, not both")
        from harness.analysis.study import load_study

        order = [model.name for model in load_study(request.study).models]
        runs = load_study_runs(request.study, request.results)
    else:
        if not request.run_folders:
            raise TableError("give run folders (or a results folder), or --study studies/x.yaml")
        order, runs = None, load_runs(request.run_folders)
    tables = transfer_tables(runs, request.tasks, request.metrics, request.group_by, request.bootstrap, order)
    if request.out is None and request.fmt == "terminal":
        from rich.console import Console

        console = Console(width=None if Console().is_terminal else 200)
        for rich_table in render_rich(tables):
            console.print(rich_table)
        return 0
    text = render(tables, request.fmt)
    if request.out is None:
        print(text, end="")
    else:
        request.out.parent.mkdir(parents=True, exist_ok=True)
        request.out.write_text(text, encoding="utf-8")
        print(f"{len(tables)} tables written to {request.out}")
    return 0


__all__ = [
    "FORMATS",
    "KINDS",
    "Bootstrap",
    "Cell",
    "Column",
    "Entry",
    "Row",
    "Run",
    "Table",
    "TableError",
    "TableRequest",
    "TaskSetting",
    "comparable_groups",
    "delta_table",
    "draw_indices",
    "load_runs",
    "load_study_runs",
    "merge_gain_table",
    "read_run",
    "render",
    "render_csv",
    "render_latex",
    "render_markdown",
    "render_rich",
    "score_table",
    "table_command",
    "transfer_table",
    "transfer_tables",
]
