"""Does a model's cross-lingual alignment predict its task scores? (``xlh correlate``)

Across languages, each alignment metric of an ``alignment`` run (``mexa_mean`` by default: its headline) is
correlated with each task score of the same model's other runs (each task result's headline metric):

- **Languages** are matched by FLORES-200 code (``LanguageResult.flores``). A translation direction
  (``eng_Latn-deu_Latn``) is matched to its non-English side, and the two directions make two series: from
  English (``eng_Latn->X``) and into English (``X->eng_Latn``); directions between two other languages are
  left out with a note. English itself is left out of the alignment side: its alignment with English is
  trivially perfect. A language a series holds twice (two dataset codes of one FLORES code) is left out too.
- **Statistics**: Pearson's r and Spearman's rho with their p-values from ``scipy.stats``, and a percentile
  bootstrap interval over languages: ``numpy.random.default_rng(seed).integers(0, n, (resamples, n))``
  resamples the shared languages with replacement (one draw per pair of series, so an interval does not
  depend on which other series are shown); a resample in which either side is constant has no correlation and
  is skipped (and counted). Spearman's rho of a resample is Pearson's r of its average ranks, as ``spearmanr``
  computes it. Fewer than 3 shared languages: "too few languages", no numbers.
- **Runs** are read through ``harness.analysis.table_runs.load_runs`` (a run folder, or a folder with run
  folders under it), and the one standing for each task setting is the one ``comparability.latest`` picks (the
  largest LIMIT, then the newest). All must be runs of one model (``comparability.ModelIdentity``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.analysis.alignment_curves import ALIGNMENT_TASK
from harness.analysis.table_model import Bootstrap, TableError
from harness.analysis.table_runs import load_runs
from harness.api.languages import ENGLISH, PAIR_SEPARATOR
from harness.api.metric import Unit
from harness.errors import XlhError
from harness.records.comparability import ModelIdentity, Setting, latest, run_name
from harness.records.io import StoredRun
from harness.records.schema import RunResult, TaskResult

MIN_LANGUAGES = 3  # Pearson's r of two points is always +-1
TOO_FEW = "too few languages"

Found = tuple[Path, RunResult, TaskResult]


class CorrelateError(XlhError):
    """Runs that cannot be correlated: no alignment run, no task run, a path that is no run, other models."""


# -- statistics ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Coefficient:
    """A correlation coefficient, its p-value and its bootstrap interval (None: every resample was constant)."""

    value: float
    p: float
    low: float | None
    high: float | None


@dataclass(frozen=True)
class PairStats:
    """Both coefficients of two vectors, the resamples skipped as constant, or why there are no numbers."""

    n: int
    pearson: Coefficient | None = None
    spearman: Coefficient | None = None
    skipped: int = 0
    reason: str | None = None  # "too few languages", "constant alignment scores", ...


def rowwise_pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson's r of each row of ``a`` with the same row of ``b`` (rows of equal length, none constant)."""
    a_centred = a - a.mean(axis=1, keepdims=True)
    b_centred = b - b.mean(axis=1, keepdims=True)
    numerator = (a_centred * b_centred).sum(axis=1)
    denominator = np.sqrt((a_centred**2).sum(axis=1) * (b_centred**2).sum(axis=1))
    return np.clip(numerator / denominator, -1.0, 1.0)


def bootstrap_draws(x: np.ndarray, y: np.ndarray, bootstrap: Bootstrap) -> tuple[np.ndarray, np.ndarray, int]:
    """Pearson's r and Spearman's rho of every resample of the languages in which neither side is constant,
    and how many resamples were skipped as constant."""
    from scipy.stats import rankdata

    n = len(x)
    rows = np.random.default_rng(bootstrap.seed).integers(0, n, (bootstrap.resamples, n))
    xs, ys = x[rows], y[rows]
    usable = (np.ptp(xs, axis=1) > 0) & (np.ptp(ys, axis=1) > 0)
    xs, ys = xs[usable], ys[usable]
    pearson = rowwise_pearson(xs, ys)
    spearman = rowwise_pearson(rankdata(xs, axis=1), rankdata(ys, axis=1))
    return pearson, spearman, int((~usable).sum())


def percentile_interval(draws: np.ndarray, confidence: float) -> tuple[float | None, float | None]:
    """The percentile interval of ``draws`` (None, None without draws)."""
    if draws.size == 0:
        return None, None
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(draws, [tail, 100 - tail])
    return float(low), float(high)


def pair_stats(x: Sequence[float], y: Sequence[float], bootstrap: Bootstrap) -> PairStats:
    """Pearson and Spearman correlation of ``x`` and ``y`` (paired by position) with bootstrap intervals."""
    from scipy.stats import pearsonr, spearmanr

    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n = len(a)
    if n < MIN_LANGUAGES:
        return PairStats(n, reason=TOO_FEW)
    for values, side in ((a, "alignment"), (b, "task")):
        if np.ptp(values) == 0:
            return PairStats(n, reason=f"constant {side} scores")
    pearson, spearman = pearsonr(a, b), spearmanr(a, b)
    pearson_draws, spearman_draws, skipped = bootstrap_draws(a, b, bootstrap)
    level = bootstrap.confidence
    return PairStats(
        n,
        Coefficient(float(pearson.statistic), float(pearson.pvalue), *percentile_interval(pearson_draws, level)),
        Coefficient(float(spearman.statistic), float(spearman.pvalue), *percentile_interval(spearman_draws, level)),
        skipped,
    )


# -- series of scores per language ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Series:
    """One score per FLORES code: an alignment metric, or a task's metric (one translation direction's)."""

    label: str  # "sib200:prompt_1@test acc", "flores200:default@devtest chrf++ eng_Latn->X"
    task: str
    variant: str
    split: str
    metric: str
    unit: Unit
    folder: Path
    values: dict[str, float]  # FLORES code -> value
    direction: str = ""  # "eng_Latn->X" or "X->eng_Latn" for translation directions


def _direction(code: str) -> tuple[str, str] | None:
    """(source, target) of a translation direction's code, None for a language's."""
    source, separator, target = code.partition(PAIR_SEPARATOR)
    return (source, target) if separator and "_" in source and "_" in target else None


def _metric_values(found: Found, metric: str) -> tuple[list[tuple[str, str, float]], Unit]:
    """(code, flores, value) of every language with a finite ``metric``, and the metric's unit."""
    _, _, task = found
    rows, unit = [], Unit.FRACTION
    for code, language in task.languages.items():
        value = language.metrics.get(metric)
        if value is not None and value.value is not None and math.isfinite(value.value):
            rows.append((code, language.flores, float(value.value)))
            unit = value.unit
    return rows, unit


def _unique(rows: list[tuple[str, float]], label: str, notes: list[str]) -> dict[str, float]:
    """FLORES code -> value, leaving out (with a note) a code the rows hold more than once."""
    counts: dict[str, int] = {}
    for flores, _ in rows:
        counts[flores] = counts.get(flores, 0) + 1
    twice = sorted(flores for flores, count in counts.items() if count > 1)
    if twice:
        notes.append(f"{label}: {', '.join(twice)} left out (more than one language of the task has that FLORES code)")
    return {flores: value for flores, value in rows if counts[flores] == 1}


def task_series(found: Found, label: str, notes: list[str]) -> list[Series]:
    """The headline metric of a task result: one series, or two for translation directions (from and into
    English, each matched to its non-English language)."""
    folder, _, task = found
    metric = task.metrics[0]
    rows, unit = _metric_values(found, metric)
    plain: list[tuple[str, float]] = []
    from_english: list[tuple[str, float]] = []
    into_english: list[tuple[str, float]] = []
    other = []
    for code, flores, value in rows:
        pair = _direction(code)
        if pair is None:
            plain.append((flores, value))
        elif pair[0] == ENGLISH:
            from_english.append((pair[1], value))
        elif pair[1] == ENGLISH:
            into_english.append((pair[0], value))
        else:
            other.append(code)
    if other:
        shown = ", ".join(other[:5]) + (", ..." if len(other) > 5 else "")
        count = f"{len(other)} direction{'s' if len(other) > 1 else ''}"
        notes.append(f"{label}: {count} between two non-English languages left out ({shown})")
    series = []
    for direction, pairs in (("", plain), (f"{ENGLISH}->X", from_english), (f"X->{ENGLISH}", into_english)):
        if pairs:
            named = f"{label} {direction}" if direction else label
            values = _unique(pairs, named, notes)
            series.append(Series(named, task.name, task.variant, task.split, metric, unit, folder, values, direction))
    return series


def alignment_series(found: Found, metric: str, notes: list[str]) -> Series:
    """One alignment metric per FLORES code, English left out (its alignment with itself is trivial)."""
    folder, _, task = found
    if metric not in {name for language in task.languages.values() for name in language.metrics}:
        raise CorrelateError(
            f"{folder}: the alignment run has no metric {metric!r} (it has: {', '.join(task.metrics)})"
        )
    rows, unit = _metric_values(found, metric)
    kept = [(flores, value) for _, flores, value in rows if flores != ENGLISH]
    if len(kept) < len(rows) and metric == task.metrics[0]:
        notes.append(
            f"{ENGLISH} left out of the alignment scores: it is the pivot (its alignment with itself is trivial)"
        )
    return Series(metric, task.name, task.variant, task.split, metric, unit, folder, _unique(kept, metric, notes))


# -- choosing runs -------------------------------------------------------------------------------------------------
def _one_model(runs: Sequence[StoredRun]) -> ModelIdentity:
    """The one model identity of ``runs``.

    Raises:
        CorrelateError: runs of two models, naming both (name, identity, folder).
    """
    first_folder, first = runs[0]
    identity = ModelIdentity.of(first)
    for folder, run in runs[1:]:
        other = ModelIdentity.of(run)
        if other != identity:
            raise CorrelateError(
                f"runs of different models: {run_name(first)} ({identity.describe()}; {first_folder}) and "
                f"{run_name(run)} ({other.describe()}; {folder}); correlate the runs of one model"
            )
    return identity


def _standing(found: Found) -> tuple[bool, int, str, str]:
    """Which alignment result stands among several settings: every item, else the largest LIMIT, then the newest."""
    _, run, task = found
    return (task.limit is None, task.limit or 0, run.created_at, run.run_id)


@dataclass(frozen=True)
class Chosen:
    """The alignment result and the task results that are correlated with it."""

    alignment: Found
    tasks: list[tuple[str, Found]]  # (label, result)
    notes: list[str] = field(default_factory=list)


def choose(runs: Sequence[StoredRun], where: str) -> Chosen:
    """The alignment result and one task result per setting (``comparability.latest``) of one model's runs.

    Raises:
        CorrelateError: runs of different models, no alignment run, or no other task run.
    """
    _one_model(runs)
    chosen = list(latest(runs).values())
    alignments = sorted((found for found in chosen if found[2].name == ALIGNMENT_TASK), key=_standing, reverse=True)
    if not alignments:
        raise CorrelateError(f"no {ALIGNMENT_TASK} run among {where} (run: xlh eval --tasks {ALIGNMENT_TASK})")
    notes = [f"alignment run {folder} left out: {Setting.of(run, task).label()} "
             f"(standing: {alignments[0][0]})" for folder, run, task in alignments[1:]]  # fmt: skip
    tasks = [found for found in chosen if found[2].name != ALIGNMENT_TASK and found[2].metrics]
    if not tasks:
        raise CorrelateError(f"no task run besides the {ALIGNMENT_TASK} run among {where}")
    labels = [f"{task.key} {task.metrics[0]}" for _, _, task in tasks]
    for index, (_, run, task) in enumerate(tasks):  # two settings of one task:variant@split: name the setting
        if labels.count(labels[index]) > 1:
            labels[index] = f"{Setting.of(run, task).label()} {task.metrics[0]}"
    ordered = sorted(zip(labels, tasks, strict=True), key=lambda pair: pair[0])
    return Chosen(alignments[0], ordered, notes)


# -- the whole report ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Correlation:
    """One alignment metric against one task series, over their shared languages."""

    alignment_metric: str
    series: Series
    languages: tuple[str, ...]  # the shared FLORES codes, sorted
    stats: PairStats


@dataclass(frozen=True)
class CorrelationReport:
    """Everything ``xlh correlate`` shows: the model, the runs, the series, the correlations and notes."""

    model: str
    identity: str
    alignment_folder: Path
    alignment_setting: str
    alignment: list[Series]
    tasks: list[Series]
    correlations: list[Correlation]
    bootstrap: Bootstrap
    notes: list[str]


def correlate(alignment: Series, series: Series, bootstrap: Bootstrap) -> Correlation:
    """The correlation of two series over the FLORES codes both hold."""
    shared = tuple(sorted(set(alignment.values) & set(series.values)))
    x = [alignment.values[code] for code in shared]
    y = [series.values[code] for code in shared]
    return Correlation(alignment.metric, series, shared, pair_stats(x, y, bootstrap))


def correlate_runs(
    paths: Sequence[Path], alignment_metrics: Sequence[str] | None = None, bootstrap: Bootstrap | None = None
) -> CorrelationReport:
    """Read the runs under ``paths`` and correlate each alignment metric with each task score.

    Args:
        paths: run folders, or folders with run folders under them (a model's results folder).
        alignment_metrics: metrics of the alignment run (default: its headline, ``mexa_mean``).
        bootstrap: resamples, seed and confidence of the intervals.

    Raises:
        CorrelateError: a path that is not a run, runs of different models, no alignment or no task run, an
            alignment metric the run does not have.
    """
    bootstrap = bootstrap or Bootstrap()
    if bootstrap.resamples < 1:
        raise CorrelateError("--resamples must be at least 1")
    if not paths:
        raise CorrelateError("give an alignment run and task runs of the same model (run folders or a results folder)")
    try:
        runs = load_runs(paths)
    except TableError as error:
        raise CorrelateError(str(error)) from error
    chosen = choose(runs, ", ".join(map(str, paths)))
    notes = list(chosen.notes)
    folder, run, task = chosen.alignment
    metrics = list(alignment_metrics or task.metrics[:1])
    alignment = [alignment_series(chosen.alignment, metric, notes) for metric in dict.fromkeys(metrics)]
    tasks = [series for label, found in chosen.tasks for series in task_series(found, label, notes)]
    correlations = [correlate(side, series, bootstrap) for side in alignment for series in tasks]
    return CorrelationReport(
        model=run_name(run),
        identity=ModelIdentity.of(run).describe(),
        alignment_folder=folder,
        alignment_setting=Setting.of(run, task).label(),
        alignment=alignment,
        tasks=tasks,
        correlations=correlations,
        bootstrap=bootstrap,
        notes=notes,
    )


__all__ = [
    "MIN_LANGUAGES",
    "TOO_FEW",
    "Chosen",
    "Coefficient",
    "CorrelateError",
    "Correlation",
    "CorrelationReport",
    "PairStats",
    "Series",
    "alignment_series",
    "bootstrap_draws",
    "choose",
    "correlate",
    "correlate_runs",
    "pair_stats",
    "percentile_interval",
    "rowwise_pearson",
    "task_series",
]
