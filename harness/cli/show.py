"""``xlh show``: the summary table of a run folder."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "print the summary table of a run folder"


def add_arguments(show: argparse.ArgumentParser) -> None:
    show.add_argument("run_folder", type=Path)


def run(args: argparse.Namespace) -> int:
    from harness.records.io import read_run
    from harness.render.run_summary import print_summary

    print_summary(read_run(args.run_folder))
    return 0
