"""``xlh correlate``: across languages, how an alignment run's scores (MEXA, cosine) go with the same model's task
scores: Pearson and Spearman with bootstrap intervals over languages (``harness.analysis.correlate``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.render.report_formats import ALIASES, FORMATS
from harness.seeds import DEFAULT_SEED

HELP = "correlate an alignment run's scores with the same model's task scores across languages"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths", nargs="+", type=Path, metavar="RUN_OR_FOLDER",
        help="run folders, or a model's results folder (the newest run of each task setting under it)",
    )  # fmt: skip
    parser.add_argument(
        "--alignment-metric", action="append", default=None, metavar="METRIC",
        help="alignment metric(s) to correlate, repeatable or comma-separated (default: mexa_mean, the headline); "
        "mexa_max, cosine_mean and the _last variants are the others",
    )  # fmt: skip
    parser.add_argument("--format", choices=(*FORMATS, *ALIASES), default="text")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples over languages (1000)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"bootstrap seed (default {DEFAULT_SEED})")


def run(args: argparse.Namespace) -> int:
    from harness.analysis.correlate import correlate_runs
    from harness.analysis.table_model import Bootstrap
    from harness.cli.common import csv_list
    from harness.render.correlate import render

    metrics = [name for given in args.alignment_metric or () for name in csv_list(given) or ()]
    report = correlate_runs(args.paths, metrics or None, Bootstrap(resamples=args.resamples, seed=args.seed))
    print(render(report, args.format), end="")
    return 0


__all__ = ["HELP", "add_arguments", "run"]
