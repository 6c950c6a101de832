"""``xlh sweep RECIPE``: build and evaluate every combination of a recipe's lists of choices, then show the
surface (scores and merge gain per combination and language)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli.common import csv_list, default_data_dir

HELP = "build and evaluate every combination of a recipe's lists of choices (bottom: [2, 4]) and table them"


def add_arguments(sweep: argparse.ArgumentParser) -> None:
    sweep.add_argument("recipe", type=Path, help="a recipe with lists of choices (README: Merging)")
    sweep.add_argument("--tasks", default=None, help="comma-separated tasks (default: every task)")
    sweep.add_argument("--langs", default=None, help="comma-separated languages")
    sweep.add_argument("--limit", type=int, default=None, help="examples per language")
    sweep.add_argument("--out", type=Path, default=Path("results"), help="results folder (results/)")
    sweep.add_argument("--models-dir", type=Path, default=Path("models"), help="where the merges go (models/)")
    sweep.add_argument("--sweeps-dir", type=Path, default=Path("sweeps"), help="the sweep's study and recipes")
    sweep.add_argument("--data-dir", default=default_data_dir())
    sweep.add_argument("--backend", default=None)
    sweep.add_argument("--cache", default=None, help="the response store, as for xlh eval (default: on)")
    sweep.add_argument("--no-progress", action="store_true")
    sweep.add_argument("--resamples", type=int, default=1000, help="paired bootstrap resamples of the table")


def run(args: argparse.Namespace) -> int:
    from harness.cli import eval as eval_command
    from harness.cli import table as table_command
    from harness.merge.recipe import read_recipe_file
    from harness.merge.sweep import write_sweep

    name, raw = read_recipe_file(args.recipe)
    listed = {"tasks": csv_list(args.tasks), "langs": csv_list(args.langs)}
    selection: dict[str, object] = {key: list(value) for key, value in listed.items() if value}  # YAML lists
    if args.limit is not None:
        selection["limit"] = args.limit
    study = write_sweep(name, raw, str(args.recipe), args.sweeps_dir, args.models_dir, selection)
    print(f"sweep {name}: {study}")
    evaluate = ["eval", "--study", str(study), "--out", str(args.out)]
    for flag, value in (("--data-dir", args.data_dir), ("--backend", args.backend), ("--cache", args.cache)):
        if value:
            evaluate += [flag, str(value)]
    if args.no_progress:
        evaluate.append("--no-progress")
    code = _command(eval_command, evaluate[1:])
    if code != 0:
        return code
    tabulate = ["--study", str(study), "--results", str(args.out), "--resamples", str(args.resamples)]
    return _command(table_command, tabulate)


def _command(module, argv: list[str]) -> int:
    """Another xlh command in this process, parsed by its own arguments (``xlh eval``, ``xlh table``)."""
    parser = argparse.ArgumentParser(prog=f"xlh {module.__name__.rsplit('.', 1)[-1]}")
    module.add_arguments(parser)
    return int(module.run(parser.parse_args(argv)))
