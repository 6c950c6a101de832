"""``xlh diff BASE EXPERT [EXPERT...]``: where fine-tuning changed each expert, per layer and module kind."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.errors import XlhError

HELP = "relative parameter change from a base to each expert, per layer and module kind (table, CSV, PNG)"


def add_arguments(diff: argparse.ArgumentParser) -> None:
    diff.add_argument("base", help="the base model (a folder or a short name)")
    diff.add_argument("experts", nargs="+", help="models fine-tuned from it")
    diff.add_argument("--format", choices=("md", "csv"), default="md", help="md: a table per expert; csv: long form")
    diff.add_argument("--out", type=Path, default=None, help="write the table to this file (default: print)")
    diff.add_argument("--plot", type=Path, default=None, help="also draw the changes across layers into this PNG")


def run(args: argparse.Namespace) -> int:
    from harness.merge.diff import layer_changes
    from harness.render.layer_diff import diff_csv, diff_markdown, diff_plot
    from harness.run.model_store import resolve

    base = Path(resolve(args.base))
    for model in [base, *map(Path, map(resolve, args.experts))]:
        if not model.is_dir():
            raise XlhError(f"{model}: not a model folder")
    rows = [row for expert in args.experts for row in layer_changes(base, Path(resolve(expert)), expert)]
    text = diff_csv(rows) if args.format == "csv" else diff_markdown(rows)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"diff: {args.out}")
    else:
        print(text, end="")
    if args.plot:
        print(f"plot: {diff_plot(rows, args.plot)}")
    return 0
