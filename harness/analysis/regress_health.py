"""Off-target output as a regression of its own kind (``xlh regress --off-target-tol POINTS``, opt-in).

A merge can keep a language's score and still answer in English more often, or lose points because it does. For
every generative task both runs have (``Task.health_view``: FLORES-200, MGSM) and every shared language, the
items whose language the detector decided in both runs, where it covers the expected languages (what
``xlh health`` counts as ``off_target``: ``harness.analysis.health``), are paired by id, and the candidate's
off-target share is tested against the baseline's with the exact McNemar test; Holm's correction runs across the
languages of each task setting. A cell's ``delta`` is the change in off-target share in percentage points (a rise
is positive), and its verdict is read the other way round from a score's: a significant *rise* larger than the
tolerance is a regression, a significant fall an improvement. Cells carry the metric name ``off_target``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from harness.analysis import paired_stats
from harness.analysis.health import health_plugin, off_target_items
from harness.analysis.regress_report import DEFAULT_ALPHA, MCNEMAR, OFF_TARGET, Options, RegressCell, verdict
from harness.api.metric import Unit
from harness.records.schema import RunResult, TaskResult


def off_target_regressions(
    pairs: Sequence[tuple[TaskResult, TaskResult]],
    folders: tuple[Path, Path],
    results: tuple[RunResult, RunResult],
    options: Options,
    notes: list[str],
) -> list[RegressCell]:
    """One McNemar cell per generative task setting and shared language, Holm-corrected per task setting, with
    verdicts for a rise in off-target output (``options.off_target_tol`` points)."""
    tol = options.off_target_tol
    if tol is None:
        return []
    cells: list[RegressCell] = []
    for base_task, cand_task in pairs:
        if health_plugin(base_task.name) is None:
            continue
        flags = [
            off_target_items(folder, result, task, notes)
            for folder, result, task in zip(folders, results, (base_task, cand_task), strict=True)
        ]
        family = [
            cell for code in base_task.languages if (cell := _cell(base_task, code, flags, options, notes)) is not None
        ]
        adjusted = paired_stats.holm([cell.p_value for cell in family])
        cells += [
            dataclasses.replace(cell, p_holm=p, verdict=verdict(-cell.delta, p, options.alpha, tol))
            for cell, p in zip(family, adjusted, strict=True)
        ]
    return cells


def _cell(
    task: TaskResult, code: str, flags: list[dict[str, dict[str, bool]]], options: Options, notes: list[str]
) -> RegressCell | None:
    base, cand = flags[0].get(code, {}), flags[1].get(code, {})
    items = [item for item in base if item in cand]
    if not items:
        if base or cand:
            notes.append(f"{task.name}/{code}: no item whose language both runs decided: off-target not compared")
        return None
    before = [float(base[item]) for item in items]
    after = [float(cand[item]) for item in items]
    # McNemar on "not off target" (1 = on target), so that its b (right only in the baseline) counts items that
    # went off target in the candidate, as b counts items lost for a score.
    test = paired_stats.mcnemar_exact([1.0 - value for value in before], [1.0 - value for value in after])
    share = (sum(before) / len(items), sum(after) / len(items))
    # The paired bootstrap interval of the shares' difference, as regress gives every cell (the same resamples).
    off_before, off_after, positions = np.asarray(before), np.asarray(after), np.arange(len(items))
    boot = paired_stats.bootstrap_statistics(
        lambda drawn: off_before[drawn].mean(axis=1), positions, lambda drawn: off_after[drawn].mean(axis=1), positions,
        options.resamples, options.seed, confidence=1 - DEFAULT_ALPHA,
    )  # fmt: skip
    return RegressCell(
        task=task.name,
        variant=task.variant,
        split=task.split,
        language=code,
        metric=OFF_TARGET,
        unit=Unit.FRACTION,
        test=MCNEMAR,
        n=len(items),
        baseline=Unit.FRACTION.points(share[0]),
        candidate=Unit.FRACTION.points(share[1]),
        delta=Unit.FRACTION.points(share[1] - share[0]),
        ci_low=Unit.FRACTION.points(boot.low),
        ci_high=Unit.FRACTION.points(boot.high),
        p_value=test.p_value,
        p_holm=math.nan,
        verdict="",
        discordant=(test.b, test.c),
    )
