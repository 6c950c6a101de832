"""The typed report of ``xlh regress``: one ``RegressCell`` per test, the verdicts, and the report's JSON file.

This module sits below the comparison (``harness.analysis.regress``), the renderer (``harness.render.regress``)
and the command (``harness.cli.regress``), which all speak of these records.

Report schema versions: 1 (the first); 2 adds ``identity`` (``ModelIdentity``: weights, adapter, served model,
chat template) to ``baseline`` and ``candidate``, so a CI system can tell a rerun of one model from a comparison
of two models (a merge against its base). Nothing was removed or renamed: a reader of version 1 reads version 2.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from harness.analysis import paired_stats
from harness.api.metric import Unit
from harness.records.comparability import ModelIdentity
from harness.records.io import atomic_write_text, to_jsonable
from harness.seeds import DEFAULT_SEED

REPORT_SCHEMA_VERSION = 2
DEFAULT_ALPHA = 0.05
DEFAULT_TOL = 0.0

REGRESSION, WITHIN_TOL, IMPROVEMENT, UNCHANGED = (
    "regression",
    "drop within tolerance",
    "improvement",
    "no significant change",
)
VERDICTS = (REGRESSION, WITHIN_TOL, IMPROVEMENT, UNCHANGED)  # also the order tables list them in

MCNEMAR, BOOTSTRAP = "mcnemar_exact", "paired_bootstrap"  # ``RegressCell.test``


@dataclass(frozen=True)
class RunRef:
    """Which run a side of the comparison is. ``identity`` is None when the run could not be read."""

    path: str
    run_id: str
    model: str  # the model as given (a Hub id or a folder)
    fingerprint: str
    created_at: str
    identity: ModelIdentity | None = None

    @classmethod
    def unread(cls, path: Path) -> RunRef:
        """A run named on the command line that could not be read (the report of the refusal names it)."""
        return cls(str(path), "", "", "", "")


@dataclass(frozen=True)
class RegressCell:
    """One test: a task, a language, a metric. Values are in display points (x100 for fractions, as they
    are for 0-100 scores: ``Unit.points``), measured on the ``n`` items both runs have; ``delta`` is candidate
    minus baseline and ``ci_low``/``ci_high`` its paired-bootstrap interval. ``discordant`` is McNemar's
    (b, c): items right only in the baseline, right only in the candidate."""

    task: str
    variant: str
    split: str
    language: str
    metric: str
    unit: Unit
    test: str  # MCNEMAR or BOOTSTRAP
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
class Options:
    """How the comparison tests: ``tol`` in points (percentage points for fractions), ``alpha`` after Holm."""

    tol: float = DEFAULT_TOL
    alpha: float = DEFAULT_ALPHA
    all_metrics: bool = False
    resamples: int = paired_stats.DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED
    # Opt-in: a significant rise in off-target output larger than this many points is a regression of its own
    # (``regress_health``); None: off-target output is not tested.
    off_target_tol: float | None = None


@dataclass(frozen=True)
class RegressReport:
    """What ``xlh regress`` found; ``exit_code`` 0 no regression, 1 a regression, 2 refused."""

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
    cells: list[RegressCell]
    notes: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # why the runs are not comparable (exit 2)
    off_target_tol: float | None = None  # --off-target-tol: off-target output tested (``off_target`` cells)


OFF_TARGET = "off_target"  # the metric name of off-target cells (``regress_health``), a rise being the regression


def verdict(delta: float, p_holm: float, alpha: float, tol: float) -> str:
    """A significant drop larger than ``tol`` points is a regression; ``delta`` and ``tol`` in points."""
    if not p_holm <= alpha:
        return UNCHANGED
    if delta < 0:
        return REGRESSION if -delta > tol else WITHIN_TOL
    return IMPROVEMENT


def new_report(
    baseline: RunRef, candidate: RunRef, options: Options, cells: list[RegressCell], notes: list[str]
) -> RegressReport:
    """The report of a comparison that was made: exit 1 when any cell is a regression."""
    regressions = sum(cell.verdict == REGRESSION for cell in cells)
    improvements = sum(cell.verdict == IMPROVEMENT for cell in cells)
    return _report(baseline, candidate, options, 1 if regressions else 0, cells, regressions, improvements, notes)


def refused_report(reasons: list[str], baseline: RunRef, candidate: RunRef, options: Options) -> RegressReport:
    """The report of a comparison that was refused (exit 2): no cells, the reasons in ``refused``."""
    return _report(baseline, candidate, options, 2, [], 0, 0, [], refused=reasons)


def _report(
    baseline: RunRef,
    candidate: RunRef,
    options: Options,
    exit_code: int,
    cells: list[RegressCell],
    regressions: int,
    improvements: int,
    notes: list[str],
    refused: list[str] | None = None,
) -> RegressReport:
    extra = {} if refused is None else {"refused": refused}
    return RegressReport(
        schema_version=REPORT_SCHEMA_VERSION,
        created_at=_now(),
        baseline=baseline,
        candidate=candidate,
        alpha=options.alpha,
        tol=options.tol,
        resamples=options.resamples,
        seed=options.seed,
        metrics=_metrics(options),
        exit_code=exit_code,
        regressions=regressions,
        improvements=improvements,
        cells=cells,
        notes=notes,
        off_target_tol=options.off_target_tol,
        **extra,
    )


def write_report(report: RegressReport, path: Path) -> None:
    """The report as JSON, written atomically (a CI job never reads half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(to_jsonable(report), ensure_ascii=False, indent=2) + "\n")


def _metrics(options: Options) -> str:
    return "all" if options.all_metrics else "headline"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
