"""``xlh regress`` (and ``python -m harness.cli.regress``): the arguments, then one call each to the comparison
(``harness.analysis.regress``), the report file and the renderer (``harness.render.regress``). Exit 0: no
regression, 1: a regression, 2: refused (not comparable, unreadable, or a gate that could not fail)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.analysis import paired_stats
from harness.analysis.regress import NotComparable, compare
from harness.analysis.regress_report import (
    DEFAULT_ALPHA,
    DEFAULT_TOL,
    Options,
    RunRef,
    refused_report,
    write_report,
)
from harness.errors import ConfigError, XlhError
from harness.render.regress import print_report
from harness.seeds import DEFAULT_SEED

HELP = "paired significance tests of a candidate run against a baseline (exit 1: a regression)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``xlh regress``."""
    parser.add_argument("--baseline", required=True, type=Path, help="baseline run folder (or its results.json)")
    parser.add_argument("--candidate", required=True, type=Path, help="candidate run folder (or its results.json)")
    parser.add_argument(
        "--tol",
        type=float,
        default=DEFAULT_TOL,
        help="largest tolerated significant drop, in points: percentage points for accuracy-type metrics, score "
        f"points for chrF++/BLEU (default {DEFAULT_TOL})",
    )
    parser.add_argument(
        "--alpha", type=float, default=DEFAULT_ALPHA, help=f"significance level after Holm ({DEFAULT_ALPHA})"
    )
    parser.add_argument("--report", type=Path, default=None, help="write the JSON report here (for CI systems)")
    parser.add_argument("--all-metrics", action="store_true", help="test every metric, not only the headline")
    parser.add_argument(
        "--resamples",
        type=int,
        default=paired_stats.DEFAULT_RESAMPLES,
        help=f"paired bootstrap resamples ({paired_stats.DEFAULT_RESAMPLES})",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"bootstrap seed (default {DEFAULT_SEED})")
    parser.add_argument("--show-all", action="store_true", help="list every test, not only significant changes")
    parser.add_argument(
        "--off-target-tol",
        type=float,
        default=None,
        help="also test generative tasks' off-target output (xlh health): a significant rise larger than this "
        "many percentage points is a regression (default: not tested)",
    )


def run(args: argparse.Namespace) -> int:
    """``xlh regress``: 0 no regression, 1 a regression. ``NotComparable`` and every other ``XlhError``
    propagate (exit 2) after the report of the refusal is written."""
    if args.tol < 0 or not 0 < args.alpha < 1 or args.resamples < 1:
        raise ConfigError("--tol must be >= 0, --alpha in (0, 1) and --resamples >= 1")
    if args.off_target_tol is not None and args.off_target_tol < 0:
        raise ConfigError("--off-target-tol must be >= 0 (percentage points)")
    options = Options(args.tol, args.alpha, args.all_metrics, args.resamples, args.seed, args.off_target_tol)
    try:
        report = compare(args.baseline, args.candidate, options)
    except XlhError as error:  # a CI job must never read an earlier run's report as this one's
        if args.report is not None:
            if isinstance(error, NotComparable):
                refused = refused_report(error.differences, error.baseline, error.candidate, options)
            else:
                baseline, candidate = RunRef.unread(args.baseline), RunRef.unread(args.candidate)
                refused = refused_report([str(error)], baseline, candidate, options)
            write_report(refused, args.report)
        raise
    print_report(report, args.show_all)
    if args.report is not None:
        write_report(report, args.report)
        print(f"report: {args.report}")
    return report.exit_code


run_regress = run  # the name harness.cli.main imported from harness.analysis.regress before this module


def main(argv: list[str] | None = None) -> int:
    """``xlh regress`` on its own: the exit code (2 with the error on stderr when refused)."""
    parser = argparse.ArgumentParser(
        prog="xlh regress", description="Paired significance tests of a candidate run against a baseline run."
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except XlhError as error:
        print(f"xlh: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
