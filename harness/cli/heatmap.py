"""``xlh heatmap RUN``: a PNG of an alignment run's per-layer curves, languages by layers
(``harness.analysis.alignment_curves`` reads them, ``harness.render.alignment_heatmap`` draws them)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.analysis.alignment_curves import CURVES, POOLINGS
from harness.api.language_groups import GROUPINGS
from harness.errors import ConfigError

HELP = "a layer-by-language heatmap (PNG) of an alignment run's MEXA or cosine curves"


def default_out(curve: str, pooling: str) -> Path:
    """``alignment-<curve>-<pooling>.png`` in the current folder (never in the run folder: published runs stay
    as they were written)."""
    return Path(f"alignment-{curve}-{pooling}.png")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_folder", type=Path, metavar="RUN", help="an alignment run folder (results/<model>/<run>)")
    parser.add_argument("--curve", choices=tuple(CURVES), default="mexa", help="MEXA alignment or mean cosine (mexa)")
    parser.add_argument(
        "--pooling", choices=POOLINGS, default="weighted",
        help="position-weighted mean of the hidden states, or the last token (weighted)",
    )  # fmt: skip
    parser.add_argument(
        "--out", type=Path, default=None, metavar="FILE.png",
        help="the PNG to write (default: alignment-<curve>-<pooling>.png in the current folder)",
    )  # fmt: skip
    parser.add_argument(
        "--group", choices=GROUPINGS, default=None,
        help="rows in blocks per language family, script or resource class (default: by mean score)",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from harness.analysis.alignment_curves import read_curves
    from harness.render.alignment_heatmap import draw_heatmap

    curves = read_curves(args.run_folder, args.curve, args.pooling)
    out = args.out or default_out(args.curve, args.pooling)
    if out.resolve().is_relative_to(args.run_folder.resolve()):
        raise ConfigError(f"{out}: not into the run folder {args.run_folder} (published runs are never changed)")
    path = draw_heatmap(curves, out, args.group)
    print(f"heatmap: {path} ({len(curves.languages)} languages x {curves.layers} layers)")
    return 0


__all__ = ["HELP", "add_arguments", "default_out", "run"]
