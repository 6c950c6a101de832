"""``xlh health``: output health per language of a run's generative tasks: empty, length-capped and unparsable
answers, text in another language than expected, copies of the source (``harness.analysis.health``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.render.report_formats import ALIASES, FORMATS

HELP = "output health per language: empty, capped, unparsable, off-target and source-copy generations"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths", nargs="+", type=Path, metavar="RUN_OR_FOLDER",
        help="run folders, or results folders (the newest run of each model and task setting under them)",
    )  # fmt: skip
    parser.add_argument(
        "--tasks", default=None, metavar="TASK[:VARIANT][@SPLIT],...",
        help="generative task settings to check (default: all of them: flores200, mgsm, xquad)",
    )  # fmt: skip
    parser.add_argument("--format", choices=(*FORMATS, *ALIASES), default="text")


def run(args: argparse.Namespace) -> int:
    from harness.analysis.health import health_report
    from harness.cli.common import csv_list
    from harness.render.health import render

    print(render(health_report(args.paths, csv_list(args.tasks)), args.format), end="")
    return 0


__all__ = ["HELP", "add_arguments", "run"]
