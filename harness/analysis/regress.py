"""Regression checks: is a candidate run significantly worse than a baseline run, task by task and language by
language? ``xlh regress --baseline RUN --candidate RUN [--tol POINTS] [--report FILE]`` (``make regress``).

1. Both run folders are read (``results.json`` and ``samples.jsonl``) and checked for comparability: the same
   tasks with the same version, prompt variant, split, shots (count, seed, language), the same data (SHA-256
   of every data file, or the same Hub dataset revision and fingerprint, few-shot pools included), the same
   metric signatures (ignoring the sample count ``n``, which LIMIT changes) and the same gold answer on every
   shared item. Any difference refuses the comparison (exit 2), naming what differs: a significant
   "regression" between a 0-shot and a 5-shot run means nothing.
2. Items are paired by id per task and language, on the items both runs have (a different LIMIT is fine).
   Each metric is recomputed from the samples with the task's own metric object, and must reproduce the
   value in ``results.json`` (a hand-edited or truncated run is refused).
3. Per task x language, the headline metric (``--all-metrics``: every metric both runs report, counts
   excepted) is tested on the pairs: exact McNemar where per-item scores are 0/1 (accuracy, exact match),
   else a paired bootstrap (chrF++, BLEU, F1, token F1); see ``harness/analysis/paired_stats.py``. Every cell also gets
   a paired-bootstrap 95% interval of the difference.
4. Holm's correction across the languages of each task and metric. A *regression* is a drop that is
   significant (Holm-adjusted p <= alpha, default 0.05) and larger than ``--tol`` points: percentage points
   for fractions (accuracy 0.62 -> 0.60 is 2 points), score points for 0-100 scores (chrF++).

Exit codes: 0 no regression, 1 at least one regression, 2 refused (not comparable or unreadable). The JSON
report (``RegressReport``) says the same for CI systems, one ``Cell`` per test.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from harness.analysis import paired_stats
from harness.api.metric import Metric, SampleScore
from harness.api.registry import get_task
from harness.errors import ConfigError, DataError, XlhError
from harness.records.io import atomic_write_text, read_sample_scores, sample_group, to_jsonable
from harness.records.schema import RESULTS_FILE, SAMPLES_FILE, SampleKey
from harness.run.sampling import task_sampling

REPORT_SCHEMA_VERSION = 1
DEFAULT_ALPHA = 0.05
DEFAULT_TOL = 0.0
DISPLAY_SCALE = {"fraction": 100.0, "score": 1.0}  # metric units -> points; "count" metrics are not tested
TASK_FIELDS = ("version", "shots", "shot_seed", "shots_from")  # must match; variant and split pair the tasks
VALUE_TOLERANCE = 1e-9  # recomputed vs stored metric value (relative to max(1, |value|))
SAMPLE_COUNT = re.compile(r"\|n:\d+(?=\||$)")
SHOWN_ROWS = 60  # more cells than this: the table lists only significant ones (--show-all: every one)
WIDE = 180  # console width when the output is not a terminal

REGRESSION, WITHIN_TOL, IMPROVEMENT, UNCHANGED = (
    "regression",
    "drop within tolerance",
    "improvement",
    "no significant change",
)


class NotComparable(XlhError):
    """The two runs cannot be compared (the message lists every difference)."""

    def __init__(self, differences: Sequence[str], baseline: RunRef, candidate: RunRef) -> None:
        lines = "\n".join(f"  - {difference}" for difference in differences)
        super().__init__(f"runs are not comparable:\n{lines}")
        self.differences = list(differences)
        self.baseline = baseline
        self.candidate = candidate


# -- typed report -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunRef:
    path: str
    run_id: str
    model: str
    fingerprint: str
    created_at: str


@dataclass(frozen=True)
class Cell:
    """One test: a task, a language, a metric. Values are in display points (x100 for fractions, as they
    are for 0-100 scores), measured on the ``n`` items both runs have; ``delta`` is candidate minus baseline
    and ``ci_low``/``ci_high`` its paired-bootstrap interval. ``discordant`` is McNemar's (b, c): items right
    only in the baseline, right only in the candidate."""

    task: str
    variant: str
    split: str
    language: str
    metric: str
    unit: str
    test: str  # "mcnemar_exact" or "paired_bootstrap"
    n: int
    baseline: float
    candidate: float
    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    p_holm: float
    verdict: str
    discordant: tuple[int, int] | None = None


@dataclass(frozen=True)
class RegressReport:
    schema_version: int
    created_at: str
    baseline: RunRef
    candidate: RunRef
    alpha: float
    tol: float
    resamples: int
    seed: int
    metrics: str  # "headline" or "all"
    exit_code: int
    regressions: int
    improvements: int
    cells: list[Cell]
    notes: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # why the runs are not comparable (exit 2)


@dataclass(frozen=True)
class Options:
    tol: float = DEFAULT_TOL
    alpha: float = DEFAULT_ALPHA
    all_metrics: bool = False
    resamples: int = paired_stats.DEFAULT_RESAMPLES
    seed: int = paired_stats.DEFAULT_SEED


# -- reading run folders ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    folder: Path
    result: dict[str, Any]
    samples: dict[SampleKey, dict[str, SampleScore]]  # item id -> scored item, in file order

    @property
    def ref(self) -> RunRef:
        model = self.result.get("model") or {}
        return RunRef(
            path=str(self.folder),
            run_id=str(self.result.get("run_id", "")),
            model=str(model.get("name_or_path", "")),
            fingerprint=str(model.get("fingerprint", "")),
            created_at=str(self.result.get("created_at", "")),
        )


def load_run(path: Path) -> Run:
    """A run folder (or its results.json) with its samples grouped by task, variant and language."""
    folder = path.parent if path.name == RESULTS_FILE else path
    results_file, samples_file = folder / RESULTS_FILE, folder / SAMPLES_FILE
    for file in (results_file, samples_file):
        if not file.is_file():
            raise DataError(f"not a run folder: {file.name} is missing", folder)
    try:
        result = json.loads(results_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DataError(f"not valid JSON: {error.msg}", results_file, error.lineno) from error
    if not isinstance(result, dict) or not isinstance(result.get("tasks"), list):
        raise DataError("not an xlh results file (no task list)", results_file)
    return Run(folder, result, read_sample_scores(samples_file))


# -- comparability ------------------------------------------------------------------------------------------
TaskKey = tuple[str, str, str]  # name, variant, split


def _key(task: dict[str, Any]) -> TaskKey:
    return (task["name"], task["variant"], task["split"])


def match_tasks(
    baseline: Run, candidate: Run
) -> tuple[list[tuple[dict[str, Any], dict[str, Any]]], list[str], list[str]]:
    """Tasks of both runs paired by name, variant and split; differences (a task run with another variant or
    split) and notes (a task only one run has)."""
    base = {_key(task): task for task in baseline.result["tasks"]}
    cand = {_key(task): task for task in candidate.result["tasks"]}
    pairs = [(base[key], cand[key]) for key in base if key in cand]
    differences, notes = [], []
    for mine, theirs, side in ((base, cand, "baseline"), (cand, base, "candidate")):
        for key in mine:
            if key in theirs:
                continue
            same_name = [other for other in theirs if other[0] == key[0] and other not in mine]
            if not same_name:
                notes.append(f"{key[0]}:{key[1]}@{key[2]} is only in the {side}: not compared")
            elif side == "baseline":  # reported once, from the baseline's side
                others = ", ".join(f"{name}:{variant}@{split}" for name, variant, split in same_name)
                differences.append(f"{key[0]}: baseline ran {key[0]}:{key[1]}@{key[2]}, candidate {others}")
    if not pairs and not differences:
        differences.append("no task in common")
    return pairs, differences, notes


def task_differences(base: dict[str, Any], cand: dict[str, Any], notes: list[str]) -> list[str]:
    """What must be equal in two runs of a task (``notes`` gets what may differ but is worth saying)."""
    name = base["name"]
    found = [
        f"{name}: {field_name} {base.get(field_name)!r} (baseline) vs {cand.get(field_name)!r} (candidate)"
        for field_name in TASK_FIELDS
        if base.get(field_name) != cand.get(field_name)
    ]
    if base.get("limit") is not None and cand.get("limit") is not None and task_sampling(base) != task_sampling(cand):
        found.append(
            f"{name}: LIMIT items chosen by {task_sampling(base)} (baseline) vs {task_sampling(cand)} (candidate): "
            "different samples"
        )
    elif base.get("limit") != cand.get("limit"):
        notes.append(
            f"{name}: LIMIT {base.get('limit')} (baseline) vs {cand.get('limit')} (candidate): shared items only"
        )
    if base["metrics"][:1] != cand["metrics"][:1]:
        found.append(f"{name}: headline metric {base['metrics'][:1]} (baseline) vs {cand['metrics'][:1]} (candidate)")
    return found


def language_differences(where: str, base: dict[str, Any], cand: dict[str, Any]) -> list[str]:
    """Data and metric signatures of one task and language."""
    found = _data_differences(where, base.get("data"), cand.get("data"))
    for name in [name for name in base["metrics"] if name in cand["metrics"]]:
        a, b = base["metrics"][name], cand["metrics"][name]
        if a.get("unit", "fraction") != b.get("unit", "fraction"):
            found.append(f"{where}: {name} unit {a.get('unit')!r} (baseline) vs {b.get('unit')!r} (candidate)")
        if SAMPLE_COUNT.sub("", a["signature"]) != SAMPLE_COUNT.sub("", b["signature"]):
            found.append(f"{where}: {name} signature {a['signature']!r} (baseline) vs {b['signature']!r} (candidate)")
    return found


def _data_differences(where: str, base: dict[str, Any] | None, cand: dict[str, Any] | None) -> list[str]:
    if base is None or cand is None:
        return [] if base is cand else [f"{where}: only one run records its data"]
    found = []
    for name in ("source", "split", "language"):
        if base.get(name) != cand.get(name):
            found.append(f"{where}: data {name} {base.get(name)!r} (baseline) vs {cand.get(name)!r} (candidate)")
    hashes_a, hashes_b = _hashes(base), _hashes(cand)
    if hashes_a != hashes_b:
        only_a = ", ".join(f"{Path(p).name} {h[:12]}" for h, p in sorted(hashes_a.items()) if h not in hashes_b)
        only_b = ", ".join(f"{Path(p).name} {h[:12]}" for h, p in sorted(hashes_b.items()) if h not in hashes_a)
        found.append(f"{where}: data files differ (sha256): baseline {only_a or '-'}; candidate {only_b or '-'}")
    if _hub_identity(base.get("hub")) != _hub_identity(cand.get("hub")):
        found.append(f"{where}: Hub dataset {base.get('hub')} (baseline) vs {cand.get('hub')} (candidate)")
    found += _data_differences(f"{where} few-shot pool", base.get("shot_pool"), cand.get("shot_pool"))
    return found


def _hashes(data: dict[str, Any]) -> dict[str, str]:
    """sha256 -> file path: the same data read from another folder (another DATA_DIR) is the same data."""
    return {digest: path for path, digest in (data.get("files") or {}).items()}


def _hub_identity(hub: dict[str, Any] | None) -> tuple[Any, ...] | None:
    if not hub:
        return None
    return tuple(hub.get(key) for key in ("path", "name", "split", "revision", "fingerprint"))


# -- testing ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Untested:
    """A cell before Holm's correction."""

    cell: Cell
    family: tuple[TaskKey, str]


def compare(baseline_path: Path, candidate_path: Path, options: Options = Options()) -> RegressReport:
    """Load, check, pair and test two runs; raises ``NotComparable`` (exit 2) when they differ in setup."""
    baseline, candidate = load_run(baseline_path), load_run(candidate_path)
    pairs, differences, notes = match_tasks(baseline, candidate)
    notes += _setup_notes(baseline.result, candidate.result)
    for base_task, cand_task in pairs:
        differences += task_differences(base_task, cand_task, notes)
        for code in [code for code in base_task["languages"] if code in cand_task["languages"]]:
            where = f"{base_task['name']}/{code}"
            differences += language_differences(where, base_task["languages"][code], cand_task["languages"][code])
            differences += _gold_differences(where, *_groups(baseline, candidate, base_task, code))
    if differences:
        raise NotComparable(differences, baseline.ref, candidate.ref)
    untested: list[_Untested] = []
    for base_task, cand_task in pairs:
        untested += _test_task(baseline, candidate, base_task, cand_task, options, notes)
    cells = _correct(untested, options)
    regressions = sum(cell.verdict == REGRESSION for cell in cells)
    return RegressReport(
        schema_version=REPORT_SCHEMA_VERSION,
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        baseline=baseline.ref,
        candidate=candidate.ref,
        alpha=options.alpha,
        tol=options.tol,
        resamples=options.resamples,
        seed=options.seed,
        metrics="all" if options.all_metrics else "headline",
        exit_code=1 if regressions else 0,
        regressions=regressions,
        improvements=sum(cell.verdict == IMPROVEMENT for cell in cells),
        cells=cells,
        notes=notes,
    )


def _setup_notes(base: dict[str, Any], cand: dict[str, Any]) -> list[str]:
    """What differs in how answers were produced: the point of a regression check, so only reported."""
    notes = []
    for name in ("backend", "generation"):
        a, b = base.get(name) or {}, cand.get(name) or {}
        changed = sorted(key for key in a.keys() | b.keys() if key != "versions" and a.get(key) != b.get(key))
        notes += [f"{name} {key}: {a.get(key)!r} (baseline) vs {b.get(key)!r} (candidate)" for key in changed]
    return notes


def _groups(
    baseline: Run, candidate: Run, base_task: dict[str, Any], code: str
) -> tuple[dict[str, SampleScore], dict[str, SampleScore]]:
    found = []
    for run in (baseline, candidate):
        splits = [
            t["split"]
            for t in run.result["tasks"]
            if (t["name"], t["variant"]) == (base_task["name"], base_task["variant"])
        ]
        items = sample_group(run.samples, base_task["name"], base_task["variant"], base_task["split"], code, splits)
        if items is None:
            raise DataError(f"results.json lists {base_task['name']}/{code} but samples.jsonl has no sample of it",
                            run.folder)  # fmt: skip
        found.append(items)
    return found[0], found[1]


def _gold_differences(where: str, base: dict[str, SampleScore], cand: dict[str, SampleScore]) -> list[str]:
    differing = [item for item in base if item in cand and base[item].gold != cand[item].gold]
    if not differing:
        return []
    return [f"{where}: gold answers differ on {len(differing)} shared items (first: item {differing[0]})"]


def _test_task(
    baseline: Run,
    candidate: Run,
    base_task: dict[str, Any],
    cand_task: dict[str, Any],
    options: Options,
    notes: list[str],
) -> Iterator[_Untested]:
    name, variant = base_task["name"], base_task["variant"]
    available = {metric.name: metric for metric in get_task(name).metrics(variant)}
    shared = [metric for metric in base_task["metrics"] if metric in cand_task["metrics"]]
    wanted = shared if options.all_metrics else shared[:1]
    languages = [code for code in base_task["languages"] if code in cand_task["languages"]]
    for side, task in (("baseline", base_task), ("candidate", cand_task)):
        only = sorted(set(task["languages"]) - set(languages))
        if only:
            notes.append(f"{name}: {', '.join(only)} only in the {side}: not compared")
    for metric_name in wanted:
        if metric_name not in available:
            why = (
                f"{name}: metric {metric_name!r} cannot be recomputed: the installed task (version "
                f"{get_task(name).version}) has {', '.join(available) or 'no metrics'}"
            )
            if metric_name == shared[0]:  # the headline untested would be a gate that cannot fail
                raise ConfigError(why)
            notes.append(f"{why}: not tested")
            continue
        for code in languages:
            stored = [task["languages"][code]["metrics"].get(metric_name) for task in (base_task, cand_task)]
            if None in stored:
                notes.append(f"{name}/{code}: {metric_name} is missing from a results file: not tested")
                continue
            unit = stored[0].get("unit", "fraction")
            if unit not in DISPLAY_SCALE:
                notes.append(f"{name}/{code}: {metric_name} is a {unit}: not tested")
                continue
            cell = _test_language(baseline, candidate, base_task, cand_task, code, available[metric_name], options)
            if cell is None:
                notes.append(f"{name}/{code}: no item in common: not compared")
                continue
            yield _Untested(cell, (_key(base_task), metric_name))


def _test_language(
    baseline: Run,
    candidate: Run,
    base_task: dict[str, Any],
    cand_task: dict[str, Any],
    code: str,
    metric: Metric,
    options: Options,
) -> Cell | None:
    base_group, cand_group = _groups(baseline, candidate, base_task, code)
    items = [item for item in base_group if item in cand_group]
    if not items:
        return None
    statistics = []
    for run, task, group in ((baseline, base_task, base_group), (candidate, cand_task, cand_group)):
        samples = list(group.values())
        statistic = paired_stats.item_statistic(metric, samples)
        stored = task["languages"][code]["metrics"][metric.name]["value"]
        _check_reproduced(run, f"{task['name']}/{code}", metric.name, statistic, len(samples), stored)
        statistics.append((statistic, samples, {item: position for position, item in enumerate(group)}))
    (stat_a, samples_a, index_a), (stat_b, samples_b, index_b) = statistics
    items_a = np.asarray([index_a[item] for item in items])
    items_b = np.asarray([index_b[item] for item in items])
    boot = paired_stats.bootstrap_statistics(
        stat_a, items_a, stat_b, items_b, options.resamples, options.seed, confidence=1 - DEFAULT_ALPHA
    )
    scores_a = paired_stats.per_item_scores(metric, [samples_a[i] for i in items_a])
    scores_b = paired_stats.per_item_scores(metric, [samples_b[i] for i in items_b])
    discordant, test, p_value = None, "paired_bootstrap", boot.p_value
    if scores_a is not None and scores_b is not None and paired_stats.is_binary(scores_a + scores_b):
        mcnemar = paired_stats.mcnemar_exact(scores_a, scores_b)
        discordant, test, p_value = (mcnemar.b, mcnemar.c), "mcnemar_exact", mcnemar.p_value
    unit = base_task["languages"][code]["metrics"][metric.name].get("unit", "fraction")
    scale = DISPLAY_SCALE[unit]
    return Cell(
        task=base_task["name"],
        variant=base_task["variant"],
        split=base_task["split"],
        language=code,
        metric=metric.name,
        unit=unit,
        test=test,
        n=len(items),
        baseline=scale * float(stat_a(items_a[None, :])[0]),
        candidate=scale * float(stat_b(items_b[None, :])[0]),
        delta=scale * boot.delta,
        ci_low=scale * boot.low,
        ci_high=scale * boot.high,
        p_value=p_value,
        p_holm=math.nan,  # set by _correct
        verdict="",
        discordant=discordant,
    )


def _check_reproduced(
    run: Run, where: str, metric: str, statistic: paired_stats.Statistic, n: int, stored: float | None
) -> None:
    """The samples must give the stored value: a run whose samples were edited or cut is not what it claims."""
    value = float(statistic(np.arange(n)[None, :])[0])
    if stored is None:  # NaN is stored as null
        if math.isnan(value):
            return
    elif abs(value - stored) <= VALUE_TOLERANCE * max(1.0, abs(stored)):
        return
    raise DataError(
        f"{SAMPLES_FILE} does not reproduce {RESULTS_FILE}: {where} {metric} is {value!r} from the samples, "
        f"{stored!r} in the results",
        run.folder,
    )


def _correct(untested: list[_Untested], options: Options) -> list[Cell]:
    """Holm within each family (one task and metric, across languages), then the verdicts."""
    families: dict[tuple[TaskKey, str], list[int]] = {}
    for index, entry in enumerate(untested):
        families.setdefault(entry.family, []).append(index)
    cells = [entry.cell for entry in untested]
    for members in families.values():
        adjusted = paired_stats.holm([cells[i].p_value for i in members])
        for i, p_holm in zip(members, adjusted, strict=True):
            cells[i] = dataclasses.replace(
                cells[i], p_holm=p_holm, verdict=verdict(cells[i].delta, p_holm, options.alpha, options.tol)
            )
    _check_resolution(cells, families, options)
    return cells


def verdict(delta: float, p_holm: float, alpha: float, tol: float) -> str:
    """A significant drop larger than ``tol`` points is a regression; ``delta`` and ``tol`` in points."""
    if not p_holm <= alpha:
        return UNCHANGED
    if delta < 0:
        return REGRESSION if -delta > tol else WITHIN_TOL
    return IMPROVEMENT


def _check_resolution(cells: list[Cell], families: dict[tuple[TaskKey, str], list[int]], options: Options) -> None:
    """Too few resamples for the number of languages: no bootstrap difference could reach significance, and a
    gate that cannot fail is refused rather than passed."""
    for (task_key, metric), members in families.items():
        smallest = len(members) * paired_stats.min_p_value(options.resamples)
        if smallest > options.alpha and any(cells[i].test == "paired_bootstrap" for i in members):
            needed = math.ceil(len(members) / options.alpha)
            raise ConfigError(
                f"{task_key[0]} {metric}: with {options.resamples} resamples and {len(members)} languages the "
                f"smallest Holm-adjusted bootstrap p-value is {smallest:.3g} > alpha {options.alpha}: "
                f"use --resamples {needed} or more"
            )


# -- output -------------------------------------------------------------------------------------------------
def _points(cell: Cell, value: float, signed: bool = False) -> str:
    if signed:
        return f"{value:+.2f}" + (" pp" if cell.unit == "fraction" else "")
    return f"{value:.2f}" + ("%" if cell.unit == "fraction" else "")


def _p(value: float) -> str:
    return f"{value:.2g}" if value >= 0.001 else f"{value:.1e}"


STYLES = {REGRESSION: "bold red", WITHIN_TOL: "yellow", IMPROVEMENT: "green", UNCHANGED: "dim"}
ORDER = {REGRESSION: 0, WITHIN_TOL: 1, IMPROVEMENT: 2, UNCHANGED: 3}


def report_table(report: RegressReport, show_all: bool = False) -> Any:
    """A rich Table of the cells: regressions first, then drops within tolerance, improvements, the rest
    (left out when there are more than ``SHOWN_ROWS`` cells, unless ``show_all``)."""
    from rich.table import Table

    cells = sorted(report.cells, key=lambda c: (ORDER[c.verdict], c.task, c.metric, c.p_holm, c.language))
    if not show_all and len(cells) > SHOWN_ROWS:
        cells = [cell for cell in cells if cell.verdict != UNCHANGED]
    table = Table(title=f"candidate vs baseline (alpha {report.alpha:g} after Holm, tolerance {report.tol:g} points)")
    for column in ("task", "language", "metric", "test", "n"):
        table.add_column(column, no_wrap=column != "task")
    for column in ("baseline", "candidate", "delta [95% CI]", "p", "p (Holm)"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    for cell in cells:
        style = STYLES[cell.verdict]
        table.add_row(
            f"{cell.task}:{cell.variant}",
            cell.language,
            cell.metric,
            "McNemar" if cell.test == "mcnemar_exact" else "bootstrap",
            str(cell.n),
            _points(cell, cell.baseline),
            _points(cell, cell.candidate),
            f"{_points(cell, cell.delta, True)} [{cell.ci_low:+.2f}, {cell.ci_high:+.2f}]",
            _p(cell.p_value),
            _p(cell.p_holm),
            f"[{style}]{cell.verdict}[/{style}]",
        )
    return table


def print_report(report: RegressReport, show_all: bool = False, console: Any = None) -> None:
    from rich.console import Console

    if console is None:  # a CI log is no terminal: rich would wrap the table at 80 columns
        console = Console() if sys.stdout.isatty() else Console(width=WIDE)
    console.print(f"baseline:  {report.baseline.model} · run {report.baseline.run_id} ({report.baseline.path})")
    console.print(f"candidate: {report.candidate.model} · run {report.candidate.run_id} ({report.candidate.path})")
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
        drops = _count(report.regressions, "significant drop")
        console.print(f"[bold red]FAIL[/bold red]: {drops} larger than {report.tol:g} points")
    else:
        console.print("[green]PASS[/green]: no significant drop larger than the tolerance")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def write_report(report: RegressReport, path: Path) -> None:
    """The report as JSON, written atomically (a CI job never reads half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(to_jsonable(report), ensure_ascii=False, indent=2) + "\n")


def refused_report(reasons: list[str], baseline: RunRef, candidate: RunRef, options: Options) -> RegressReport:
    """The report of a comparison that was refused (exit 2): no cells, the reasons in ``refused``."""
    return RegressReport(
        schema_version=REPORT_SCHEMA_VERSION,
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        baseline=baseline,
        candidate=candidate,
        alpha=options.alpha,
        tol=options.tol,
        resamples=options.resamples,
        seed=options.seed,
        metrics="all" if options.all_metrics else "headline",
        exit_code=2,
        regressions=0,
        improvements=0,
        cells=[],
        refused=reasons,
    )


# -- command line -------------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``xlh regress`` (also ``python -m harness.analysis.regress``)."""
    parser.add_argument("--baseline", required=True, type=Path, help="baseline run folder (or its results.json)")
    parser.add_argument("--candidate", required=True, type=Path, help="candidate run folder (or its results.json)")
    parser.add_argument(
        "--tol",
        type=float,
        default=DEFAULT_TOL,
        help="largest tolerated significant drop, in points: percentage points for accuracy-type metrics, score "
        f"points for chrF++/BLEU (default {DEFAULT_TOL})",
    )
    parser.add_argument("--alpha", type=float, default=DEFAULT_ALPHA, help="significance level after Holm (0.05)")
    parser.add_argument("--report", type=Path, default=None, help="write the JSON report here (for CI systems)")
    parser.add_argument("--all-metrics", action="store_true", help="test every metric, not only the headline")
    parser.add_argument(
        "--resamples", type=int, default=paired_stats.DEFAULT_RESAMPLES, help="paired bootstrap resamples (10000)"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=paired_stats.DEFAULT_SEED,
        help=f"bootstrap seed (default {paired_stats.DEFAULT_SEED})",
    )
    parser.add_argument("--show-all", action="store_true", help="list every test, not only significant changes")


def run_regress(args: argparse.Namespace) -> int:
    """``xlh regress``: 0 no regression, 1 a regression; ``NotComparable`` and every other ``XlhError``
    propagate (exit 2) after the report of the refusal is written."""
    if args.tol < 0 or not 0 < args.alpha < 1 or args.resamples < 1:
        raise ConfigError("--tol must be >= 0, --alpha in (0, 1) and --resamples >= 1")
    options = Options(args.tol, args.alpha, args.all_metrics, args.resamples, args.seed)
    try:
        report = compare(args.baseline, args.candidate, options)
    except XlhError as error:  # a CI job must never read an earlier run's report as this one's
        if args.report is not None:
            if isinstance(error, NotComparable):
                refused = refused_report(error.differences, error.baseline, error.candidate, options)
            else:
                baseline, candidate = (RunRef(str(path), "", "", "", "") for path in (args.baseline, args.candidate))
                refused = refused_report([str(error)], baseline, candidate, options)
            write_report(refused, args.report)
        raise
    print_report(report, args.show_all)
    if args.report is not None:
        write_report(report, args.report)
        print(f"report: {args.report}")
    return report.exit_code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="xlh regress", description="Paired significance tests of a candidate run against a baseline run."
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_regress(args)
    except XlhError as error:
        print(f"xlh: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
