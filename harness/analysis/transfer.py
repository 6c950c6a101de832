"""Score tables and paired tables (deltas vs the base model) of one group of comparable results.

- **Scores**: each model's score per column, with the standard error the run recorded. A column is a weighted
  sum of languages (``table_model.columns_for``): one language, a group mean, the mean over the non-English
  languages, the transfer gap (English minus that mean; XTREME, Hu et al. 2020). The standard error of a
  weighted sum takes the languages as independent, ``sqrt(sum w_i^2 se_i^2)``. A row missing a language of
  a column has no cell there (no partial means).
- **Paired** (deltas here, merge gains in ``harness.analysis.merge_gain``): a row minus, on each language, the
  best of its references (the base for a delta: one reference). Items are parallel across models and
  languages (the same item id is the same item), so the items all of them evaluated are resampled by id with
  replacement, one draw per set of ids, shared by every row and language with those ids; each resample is
  scored with the task's own metric (``harness.analysis.paired_stats.item_statistic``: chrF++, BLEU and F1
  are recomputed on the resample, not averaged). Draws are ``numpy.random.default_rng(seed).integers(0, n,
  (resamples, n))``, in the order the id sets are first needed, so with one id set the percentile interval
  is ``scipy.stats.bootstrap``'s for paired data; the stderr is the standard deviation (ddof=1) of the
  resampled differences. Runs whose LIMITs differ are paired on the items they share.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from harness.analysis.paired_stats import item_statistic
from harness.analysis.table_model import Bootstrap, Cell, Column, Row, Table, TableError, columns_for
from harness.analysis.table_runs import Entry
from harness.api.metric import Metric, SampleScore, Unit
from harness.errors import DataError
from harness.records.io import read_sample_scores, task_samples
from harness.records.schema import SAMPLES_FILE, LanguageResult, SampleKey

INDEPENDENT_LANGUAGES = (
    "stderr of a mean over languages: sqrt(sum of (weight x stderr)^2), languages taken as independent"
)


def table_languages(entries: Sequence[Entry]) -> dict[str, LanguageResult]:
    """Every language of the entries (code -> the first result naming it), in the order they appear."""
    languages: dict[str, LanguageResult] = {}
    for entry in entries:
        for code, language in entry.languages.items():
            languages.setdefault(code, language)
    return languages


def setting_notes(entries: Sequence[Entry]) -> list[str]:
    """The group's setting, and the rows' LIMITs where they differ (a seeded LIMIT is nested in a larger one
    of the same seed: both are one setting)."""
    notes = [entries[0].setting.label()]
    limits = {entry.name: entry.task.limit for entry in entries}
    if len(set(limits.values())) > 1:
        shown = ", ".join(f"{name}: {'all' if limit is None else limit}" for name, limit in limits.items())
        notes.append(f"LIMITs differ ({shown}): each score is on its run's own items, paired tables on shared items")
    return notes


def table_unit(entries: Sequence[Entry], metric: str) -> Unit:
    """The metric's unit in these results (a fraction where they disagree)."""
    units = {value.unit for entry in entries for code in entry.languages if (value := entry.metric(code, metric))}
    return Unit.of(units.pop()) if len(units) == 1 else Unit.FRACTION


# -- scores ---------------------------------------------------------------------------------------------------
def score_table(entries: Sequence[Entry], metric: str, group_by: str | None = None, notes: Sequence[str] = ()) -> Table:
    """Scores ± the stderr the runs recorded, per column (``entries``: one group of ``comparable_groups``)."""
    columns, column_notes = columns_for(table_languages(entries), group_by)
    cells = _score_cells(entries, columns, metric)
    rows = [Row(e.name, e.role, cells[i], limit=e.task.limit) for i, e in enumerate(entries)]
    means = [i for i, column in enumerate(columns) if column.kind == "mean"]
    extra = [f"{row.name}: some languages missing, so no mean or gap" for row in rows
             if any(row.cells[i] is None for i in means)]  # fmt: skip
    first = entries[0].task
    return Table(
        "scores", first.name, metric, table_unit(entries, metric), entries[0].setting, group_by, tuple(columns),
        tuple(rows), (*setting_notes(entries), *notes, *column_notes, *extra, INDEPENDENT_LANGUAGES),
    )  # fmt: skip


def _score_cells(entries: Sequence[Entry], columns: Sequence[Column], metric: str) -> list[tuple[Cell | None, ...]]:
    """Every row's cells at once: the scores (long form) pivoted to rows x languages, times the columns' weights
    (languages x columns). A cell needs every language of its column, and its stderr every language's."""
    long = pd.DataFrame(
        [(row, code, value.value, value.stderr) for row, entry in enumerate(entries) for code in entry.languages
         if (value := entry.metric(code, metric)) is not None],
        columns=["row", "language", "value", "stderr"],
    )  # fmt: skip
    rows = range(len(entries))
    if long.empty:
        return [(None,) * len(columns) for _ in rows]
    codes = list(dict.fromkeys(code for column in columns for code, _ in column.weights))
    weights = pd.DataFrame({i: dict(column.weights) for i, column in enumerate(columns)}, index=codes).fillna(0.0)
    wide = long.pivot(index="row", columns="language", values=["value", "stderr"]).astype(float)
    values = wide["value"].reindex(index=rows, columns=codes)
    stderrs = wide["stderr"].reindex(index=rows, columns=codes)
    used = (weights != 0).astype(float)

    def has_all(frame: pd.DataFrame) -> pd.DataFrame:
        return (frame.notna().astype(float) @ used) == used.sum()

    complete, with_stderr = has_all(values), has_all(stderrs)
    sums = values.fillna(0.0) @ weights
    errors = np.sqrt(stderrs.fillna(0.0).pow(2) @ weights.pow(2))
    return [
        tuple(
            Cell(float(sums.iat[row, i]), float(errors.iat[row, i]) if with_stderr.iat[row, i] else None)
            if complete.iat[row, i] else None
            for i in range(len(columns))
        )
        for row in rows
    ]  # fmt: skip


# -- paired tables --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pair:
    """A paired row: ``entry`` minus, on each language, the best of ``references`` (a delta has one)."""

    entry: Entry
    references: tuple[Entry, ...]
    versus: str  # how the row names what it is compared with


def draw_indices(n: int, settings: Bootstrap, rng: np.random.Generator) -> np.ndarray:
    """Resampled item positions, one row per resample (scipy.stats.bootstrap draws these the same way)."""
    return rng.integers(0, n, (settings.resamples, n))


class Resampler:
    """Metric values per (run, language, item ids), on all the items and on each resample, drawn from one
    seeded generator: rows and languages with the same item ids share one draw, so differences and means
    across languages stay paired."""

    def __init__(self, metric: Metric, settings: Bootstrap) -> None:
        self.metric, self.settings = metric, settings
        self.rng = np.random.default_rng(settings.seed)
        self.draws: dict[tuple[str, ...], np.ndarray] = {}  # item ids -> resampled positions
        self.values: dict[tuple[Path, str, str, str, str, tuple[str, ...]], tuple[float, np.ndarray]] = {}

    def values_of(self, entry: Entry, code: str, ids: tuple[str, ...]) -> tuple[float, np.ndarray]:
        """The metric of ``entry``'s items ``ids`` in language ``code``: on all of them, and per resample."""
        task = entry.task
        key = (entry.folder, task.name, task.variant, task.split, code, ids)
        if key not in self.values:
            if ids not in self.draws:
                self.draws[ids] = draw_indices(len(ids), self.settings, self.rng)
            items = entry_items(entry, code)
            statistic = item_statistic(self.metric, [items[i] for i in ids])
            whole = float(statistic(np.arange(len(ids))[None, :])[0])
            self.values[key] = (whole, statistic(self.draws[ids]))
        return self.values[key]


def shared_ids(entries: Sequence[Entry], code: str) -> tuple[tuple[str, ...], bool]:
    """The item ids every entry evaluated in ``code`` (sorted), and whether one of them evaluated more."""
    sets = [frozenset(entry_items(entry, code)) for entry in entries]
    shared = frozenset.intersection(*sets)
    return tuple(sorted(shared)), any(len(ids) > len(shared) for ids in sets)


def paired_table(
    kind: str,
    entries: Sequence[Entry],
    pairs: Sequence[Pair],
    metric: Metric,
    settings: Bootstrap,
    group_by: str | None,
    notes: Sequence[str],
    method: Sequence[str] = (),
) -> Table:
    """The paired table of ``pairs`` (their cells: row minus the best reference, per language and column);
    ``method`` notes follow the bootstrap's."""
    columns, column_notes = columns_for(table_languages(entries), group_by)
    resampler = Resampler(metric, settings)
    rows, fewer = [], []
    for pair in pairs:
        partial: set[str] = set()
        cells = tuple(_paired_cell(column, pair, resampler, partial) for column in columns)
        rows.append(Row(pair.entry.name, pair.entry.role, cells, pair.versus, pair.entry.task.limit))
        if partial:
            fewer.append(f"{pair.entry.name} − {pair.versus}: paired on the items all of them evaluated "
                         f"({len(partial)} languages where one evaluated more)")  # fmt: skip
    described = (*setting_notes(entries), *notes, *column_notes, *fewer, settings.describe(), *method)
    return Table(
        kind, entries[0].task.name, metric.name, table_unit(entries, metric.name), entries[0].setting, group_by,
        tuple(columns), tuple(rows), described,
    )  # fmt: skip


def _paired_cell(column: Column, pair: Pair, resampler: Resampler, partial: set[str]) -> Cell | None:
    """Σ weight x (row − best reference) over the column's languages, the best reference chosen again in every
    resample, with the bootstrap stderr and interval (None where a language is missing for one of them)."""
    involved = (pair.entry, *pair.references)
    value, resampled = 0.0, np.zeros(resampler.settings.resamples)
    best: Entry | None = None
    for code, weight in column.weights:
        if any(entry.metric(code, resampler.metric.name) is None for entry in involved):
            return None
        ids, cut = shared_ids(involved, code)
        if not ids:
            return None
        if cut:
            partial.add(code)
        mine, mine_resampled = resampler.values_of(pair.entry, code, ids)
        theirs = [resampler.values_of(reference, code, ids) for reference in pair.references]
        top = max(range(len(theirs)), key=lambda i: (theirs[i][0], -i))  # ties: the first reference
        best = pair.references[top]
        value += weight * (mine - theirs[top][0])
        resampled += weight * (mine_resampled - np.max([values for _, values in theirs], axis=0))
    if not math.isfinite(value):
        return None
    alpha = 100 * (1 - resampler.settings.confidence) / 2
    low, high = np.percentile(resampled, [alpha, 100 - alpha])
    stderr = float(np.std(resampled, ddof=1)) if len(resampled) > 1 else None
    versus = best.name if best is not None and len(column.weights) == 1 else None
    return Cell(value, stderr, float(low), float(high), versus)


def table_metric(entry: Entry, name: str) -> Metric:
    """The task's metric object (what resamples are scored with)."""
    from harness.api.registry import get_task

    for metric in get_task(entry.task.name).metrics(entry.task.variant):
        if metric.name == name:
            return metric
    raise TableError(f"task {entry.task.name}:{entry.task.variant} has no metric {name!r} (needed to resample it)")


def delta_table(
    entries: Sequence[Entry], metric: str, settings: Bootstrap, group_by: str | None = None, notes: Sequence[str] = ()
) -> Table | None:
    """Every other model minus the base model (None without a base, or with nothing else to compare).

    Raises:
        TableError: several base models, or per-item scores that cannot be read.
    """
    bases = [entry for entry in entries if entry.role == "base"]
    if len(bases) > 1:
        raise TableError(f"several base models ({', '.join(b.name for b in bases)}): deltas need exactly one")
    if not bases:
        return None
    base = bases[0]
    pairs = [Pair(entry, (base,), base.name) for entry in entries if entry is not base]
    if not pairs:
        return None
    return paired_table("deltas", entries, pairs, table_metric(base, metric), settings, group_by, notes)


# -- per-item scores ------------------------------------------------------------------------------------------
def entry_items(entry: Entry, code: str) -> dict[str, SampleScore]:
    """The per-item scores of ``entry``'s task in language ``code``, from its run's samples.jsonl.

    Raises:
        TableError: no samples.jsonl, a malformed one, or no items of this task and language in it.
    """
    file = entry.folder / SAMPLES_FILE
    try:
        items = task_samples(_samples(file), entry.run, entry.task, code)
    except DataError as error:
        raise TableError(f"{file}: {error}") from error
    if not items:
        raise TableError(f"{file}: no samples of {entry.task.name}:{entry.task.variant}/{code}")
    return items


def _samples(file: Path) -> dict[SampleKey, dict[str, SampleScore]]:
    try:
        stat = os.stat(file)
    except FileNotFoundError:
        raise TableError(f"{file}: missing; deltas and merge gains need the per-item scores") from None
    return _read_samples(file, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=16)
def _read_samples(file: Path, mtime_ns: int, size: int) -> dict[SampleKey, dict[str, SampleScore]]:
    """A samples.jsonl, read once per version of the file (its modification time and size)."""
    return read_sample_scores(file)


__all__ = [
    "Pair",
    "Resampler",
    "delta_table",
    "draw_indices",
    "entry_items",
    "paired_table",
    "score_table",
    "setting_notes",
    "shared_ids",
    "table_languages",
    "table_metric",
    "table_unit",
]
