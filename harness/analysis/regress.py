"""Regression checks: is a candidate run significantly worse than a baseline run, task by task and language by
language? ``xlh regress --baseline RUN --candidate RUN [--tol POINTS] [--report FILE]`` (``make regress``; the
command is ``harness.cli.regress``, the table ``harness.render.regress``, the report ``regress_report``).

1. Both run folders are read through ``harness.records.io`` (any results schema), their tasks paired by name,
   variant and split. Whether a pair is the same experiment is ``harness.records.comparability``'s answer
   alone: the same ``Setting`` (version, shots, which items a LIMIT took, metric signatures, sampling
   parameters, dtype) and the same data in every shared language. Any difference refuses the comparison
   (exit 2), listing every one. The samples must also agree with the results: the same gold answer on every
   shared item, each metric recomputed from the samples equal to ``results.json``'s (an edited run is refused).
2. The models may differ (a merge against its base is the point): each run's ``ModelIdentity`` is reported.
3. Items are paired by id per task and language, on the items both runs have (a seeded LIMIT 20 is nested in
   LIMIT 50 of the same seed: the two are compared on the 20).
4. Per task x language, the headline metric (``--all-metrics``: every metric both runs report, counts
   excepted) is tested through ``harness.analysis.paired_stats`` with the task's own metric objects: exact
   McNemar where per-item scores are 0/1, else a paired bootstrap; every cell gets a paired-bootstrap 95%
   interval of the difference.
5. Holm's correction across the languages of each task and metric. A *regression* is a significant drop
   (Holm-adjusted p <= alpha, default 0.05) larger than ``--tol`` points (``Unit.points``: percentage points
   for fractions, score points for 0-100 scores).

Exit codes: 0 no regression, 1 at least one regression, 2 refused (not comparable or unreadable). The JSON
report (``RegressReport``) says the same for CI systems, one ``RegressCell`` per test.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.analysis import paired_stats
from harness.analysis.regress_health import off_target_regressions
from harness.analysis.regress_report import (
    BOOTSTRAP,
    DEFAULT_ALPHA,
    DEFAULT_TOL,
    IMPROVEMENT,
    MCNEMAR,
    REGRESSION,
    REPORT_SCHEMA_VERSION,
    UNCHANGED,
    WITHIN_TOL,
    Options,
    RegressCell,
    RegressReport,
    RunRef,
    new_report,
    refused_report,
    verdict,
    write_report,
)
from harness.api.metric import Metric, SampleScore, Unit
from harness.api.registry import get_task
from harness.errors import ConfigError, DataError, XlhError
from harness.records import comparability
from harness.records.comparability import ModelIdentity
from harness.records.io import read_run, read_sample_scores, task_samples
from harness.records.schema import RESULTS_FILE, SAMPLES_FILE, RunResult, SampleKey, TaskResult, setting_name

VALUE_TOLERANCE = 1e-9  # recomputed vs stored metric value (relative to max(1, |value|))
TESTED_UNITS = (Unit.FRACTION, Unit.SCORE)  # a count (unparsable answers) is reported, never tested

TaskKey = tuple[str, str, str]  # name, variant, split: what pairs a task of one run with a task of the other
TaskPair = tuple[TaskResult, TaskResult]


class NotComparable(XlhError):
    """The two runs cannot be compared (the message lists every difference)."""

    def __init__(self, differences: Sequence[str], baseline: RunRef, candidate: RunRef) -> None:
        lines = "\n".join(f"  - {difference}" for difference in differences)
        super().__init__(f"runs are not comparable (each line: baseline vs candidate):\n{lines}")
        self.differences = list(differences)
        self.baseline = baseline
        self.candidate = candidate


# -- reading run folders ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RegressRun:
    """A run folder's typed record and its scored items."""

    folder: Path
    result: RunResult
    samples: dict[SampleKey, dict[str, SampleScore]]

    @property
    def ref(self) -> RunRef:
        model = self.result.model
        return RunRef(
            path=str(self.folder),
            run_id=self.result.run_id,
            model=model.name_or_path,
            fingerprint=model.fingerprint,
            created_at=self.result.created_at,
            identity=ModelIdentity.of(self.result),
        )

    def items(self, task: TaskResult, language: str) -> dict[str, SampleScore]:
        """The scored items of one task and language, by item id in file order."""
        found = task_samples(self.samples, self.result, task, language)
        if found is None:
            raise DataError(
                f"{RESULTS_FILE} lists {task.name}/{language} but {SAMPLES_FILE} has no sample of it", self.folder
            )
        return found


def load_run(path: Path) -> RegressRun:
    """A run folder (or its results.json) with its samples grouped by task, variant, split and language."""
    folder = path.parent if path.name == RESULTS_FILE else path
    if not (folder / RESULTS_FILE).is_file():
        raise DataError(f"not a run folder: {RESULTS_FILE} is missing", folder)
    result = read_run(folder)
    if not (folder / SAMPLES_FILE).is_file():
        raise DataError(f"not a run folder: {SAMPLES_FILE} is missing", folder)
    return RegressRun(folder, result, read_sample_scores(folder / SAMPLES_FILE))


# -- comparability ------------------------------------------------------------------------------------------
def _key(task: TaskResult) -> TaskKey:
    return (task.name, task.variant, task.split)


def _label(key: TaskKey) -> str:
    return setting_name(*key)


def match_tasks(baseline: RunResult, candidate: RunResult) -> tuple[list[TaskPair], list[str], list[str]]:
    """Tasks of both runs paired by name, variant and split; differences (a task both runs have, run with
    another variant or split) and notes (a task only one run has)."""
    base = {_key(task): task for task in baseline.tasks}
    cand = {_key(task): task for task in candidate.tasks}
    pairs = [(base[key], cand[key]) for key in base if key in cand]
    differences, notes = [], []
    for mine, theirs, side in ((base, cand, "baseline"), (cand, base, "candidate")):
        for key in mine:
            if key in theirs:
                continue
            same_name = [other for other in theirs if other[0] == key[0] and other not in mine]
            if not same_name:
                notes.append(f"{_label(key)} is only in the {side}: not compared")
            elif side == "baseline":  # reported once, from the baseline's side
                others = ", ".join(_label(other) for other in same_name)
                differences.append(f"{key[0]}: baseline ran {_label(key)}, candidate {others}")
    if not pairs and not differences:
        differences.append("no task in common")
    return pairs, differences, notes


def pair_differences(baseline: RegressRun, candidate: RegressRun, pair: TaskPair, notes: list[str]) -> list[str]:
    """Why two runs of a task cannot be compared (``comparability.compare``: setting and data), then whether
    their samples agree on the gold answers; ``notes`` gets a LIMIT of another size (shared items only)."""
    base_task, cand_task = pair
    name = base_task.name
    comparison = comparability.compare(baseline.result, base_task, candidate.result, cand_task)
    found = [f"{name}: {line}" for line in comparison.differences]
    found += [f"{name}/{line}" for line in comparison.data_differences]
    if found:
        return found
    if base_task.limit != cand_task.limit:  # the same sampling (the setting): nested samples
        notes.append(f"{name}: LIMIT {base_task.limit} (baseline) vs {cand_task.limit} (candidate): shared items only")
    for code in comparison.languages:
        found += _gold_differences(f"{name}/{code}", baseline.items(base_task, code), candidate.items(cand_task, code))
    return found


def _gold_differences(where: str, base: dict[str, SampleScore], cand: dict[str, SampleScore]) -> list[str]:
    differing = [item for item in base if item in cand and base[item].gold != cand[item].gold]
    if not differing:
        return []
    return [f"{where}: gold answers differ on {len(differing)} shared items (first: item {differing[0]})"]


def _setup_notes(base: RunResult, cand: RunResult) -> list[str]:
    """How the engines differ beyond the setting (backend name, device, each option): reported, not refused."""
    notes = []
    for name, a, b in (
        ("backend", _fields(base.backend), _fields(cand.backend)),
        ("generation", _fields(base.generation), _fields(cand.generation)),
    ):
        changed = sorted(key for key in a.keys() | b.keys() if a.get(key) != b.get(key))
        notes += [f"{name} {key}: {a.get(key)!r} (baseline) vs {b.get(key)!r} (candidate)" for key in changed]
    return notes


def _fields(record: Any) -> dict[str, Any]:
    """A record's fields, library versions left out, each backend option as ``option NAME``."""
    found = {spec.name: getattr(record, spec.name) for spec in dataclasses.fields(record) if spec.name != "versions"}
    options = found.pop("options", None) or {}
    return found | {f"option {key}": value for key, value in options.items()}


# -- testing ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Untested:
    """A cell before Holm's correction, with its family (one task and metric, across languages)."""

    cell: RegressCell
    family: tuple[TaskKey, str]


def compare(baseline_path: Path, candidate_path: Path, options: Options | None = None) -> RegressReport:
    """Read, check, pair and test two runs (``options``: the defaults when None).

    Raises:
        NotComparable: the runs differ in setting or data, or their samples disagree on gold answers.
        DataError: a run is unreadable, or its samples do not reproduce its results.
        ConfigError: the headline metric cannot be recomputed, or too few resamples to ever reach ``alpha``.
    """
    options = options or Options()
    baseline, candidate = load_run(baseline_path), load_run(candidate_path)
    pairs, differences, notes = match_tasks(baseline.result, candidate.result)
    notes += _setup_notes(baseline.result, candidate.result)
    for pair in pairs:
        differences += pair_differences(baseline, candidate, pair, notes)
    if differences:
        raise NotComparable(differences, baseline.ref, candidate.ref)
    untested: list[_Untested] = []
    for pair in pairs:
        untested += _test_task(baseline, candidate, pair, options, notes)
    cells = _correct(untested, options)
    folders, results = (baseline.folder, candidate.folder), (baseline.result, candidate.result)
    cells += off_target_regressions(pairs, folders, results, options, notes)  # opt-in: off_target_tol
    return new_report(baseline.ref, candidate.ref, options, cells, notes)


def _test_task(
    baseline: RegressRun, candidate: RegressRun, pair: TaskPair, options: Options, notes: list[str]
) -> Iterator[_Untested]:
    base_task, cand_task = pair
    name, variant = base_task.name, base_task.variant
    available = {metric.name: metric for metric in get_task(name).metrics(variant)}
    shared = [metric for metric in base_task.metrics if metric in cand_task.metrics]
    wanted = shared if options.all_metrics else shared[:1]
    languages = [code for code in base_task.languages if code in cand_task.languages]
    for side, task in (("baseline", base_task), ("candidate", cand_task)):
        only = sorted(set(task.languages) - set(languages))
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
            stored = [task.languages[code].metrics.get(metric_name) for task in pair]
            if stored[0] is None or stored[1] is None:
                notes.append(f"{name}/{code}: {metric_name} is missing from a results file: not tested")
                continue
            if stored[0].unit not in TESTED_UNITS:
                notes.append(f"{name}/{code}: {metric_name} is a {stored[0].unit}: not tested")
                continue
            cell = _test_language(baseline, candidate, pair, code, available[metric_name], options)
            if cell is None:
                notes.append(f"{name}/{code}: no item in common: not compared")
                continue
            yield _Untested(cell, (_key(base_task), metric_name))


def _test_language(
    baseline: RegressRun, candidate: RegressRun, pair: TaskPair, code: str, metric: Metric, options: Options
) -> RegressCell | None:
    """One cell: the metric on both runs' shared items, its paired test and bootstrap interval."""
    base_task, cand_task = pair
    groups = baseline.items(base_task, code), candidate.items(cand_task, code)
    items = [item for item in groups[0] if item in groups[1]]
    if not items:
        return None
    statistics, positions, samples = [], [], []
    for run, task, group in ((baseline, base_task, groups[0]), (candidate, cand_task, groups[1])):
        scored = list(group.values())
        statistic = paired_stats.item_statistic(metric, scored)
        stored = task.languages[code].metrics[metric.name].value
        _check_reproduced(run, f"{task.name}/{code}", metric.name, statistic, len(scored), stored)
        index = {item: position for position, item in enumerate(group)}
        statistics.append(statistic)
        positions.append(np.asarray([index[item] for item in items]))
        samples.append([scored[index[item]] for item in items])
    boot = paired_stats.bootstrap_statistics(
        statistics[0], positions[0], statistics[1], positions[1], options.resamples, options.seed,
        confidence=1 - DEFAULT_ALPHA,
    )  # fmt: skip
    test, p_value, discordant = BOOTSTRAP, boot.p_value, None
    scores = [paired_stats.per_item_scores(metric, side) for side in samples]
    if scores[0] is not None and scores[1] is not None and paired_stats.is_binary(scores[0] + scores[1]):
        mcnemar = paired_stats.mcnemar_exact(scores[0], scores[1])
        test, p_value, discordant = MCNEMAR, mcnemar.p_value, (mcnemar.b, mcnemar.c)
    unit = base_task.languages[code].metrics[metric.name].unit
    values = [float(statistic(position[None, :])[0]) for statistic, position in zip(statistics, positions, strict=True)]
    return RegressCell(
        task=base_task.name,
        variant=base_task.variant,
        split=base_task.split,
        language=code,
        metric=metric.name,
        unit=unit,
        test=test,
        n=len(items),
        baseline=unit.points(values[0]),
        candidate=unit.points(values[1]),
        delta=unit.points(boot.delta),
        ci_low=unit.points(boot.low),
        ci_high=unit.points(boot.high),
        p_value=p_value,
        p_holm=math.nan,  # set by _correct
        verdict="",
        discordant=discordant,
    )


def _check_reproduced(
    run: RegressRun, where: str, metric: str, statistic: paired_stats.Statistic, n: int, stored: float
) -> None:
    """The samples must give the stored value: a run whose samples were edited or cut is not what it claims."""
    value = float(statistic(np.arange(n)[None, :])[0])
    if math.isnan(stored):  # NaN is stored as null
        if math.isnan(value):
            return
    elif abs(value - stored) <= VALUE_TOLERANCE * max(1.0, abs(stored)):
        return
    shown = None if math.isnan(stored) else stored
    raise DataError(
        f"{SAMPLES_FILE} does not reproduce {RESULTS_FILE}: {where} {metric} is {value!r} from the samples, "
        f"{shown!r} in the results",
        run.folder,
    )


def _correct(untested: list[_Untested], options: Options) -> list[RegressCell]:
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


def _check_resolution(
    cells: list[RegressCell], families: dict[tuple[TaskKey, str], list[int]], options: Options
) -> None:
    """Too few resamples for the number of languages: no bootstrap difference could reach significance, and a
    gate that cannot fail is refused rather than passed."""
    for (task_key, metric), members in families.items():
        smallest = len(members) * paired_stats.min_p_value(options.resamples)
        if smallest > options.alpha and any(cells[i].test == BOOTSTRAP for i in members):
            needed = math.ceil(len(members) / options.alpha)
            raise ConfigError(
                f"{task_key[0]} {metric}: with {options.resamples} resamples and {len(members)} languages the "
                f"smallest Holm-adjusted bootstrap p-value is {smallest:.3g} > alpha {options.alpha}: "
                f"use --resamples {needed} or more"
            )


__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_TOL",
    "IMPROVEMENT",
    "REGRESSION",
    "REPORT_SCHEMA_VERSION",
    "UNCHANGED",
    "WITHIN_TOL",
    "RegressCell",
    "NotComparable",
    "Options",
    "RegressReport",
    "RegressRun",
    "RunRef",
    "compare",
    "load_run",
    "match_tasks",
    "pair_differences",
    "refused_report",
    "verdict",
    "write_report",
]
