"""``xlh merge RECIPE``: build a merged model from a recipe file with mergekit."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "build a merged model from a recipe (recipes/<name>.yaml) with mergekit"


def add_arguments(merge: argparse.ArgumentParser) -> None:
    merge.add_argument("recipe", type=Path, help="the recipe file (README: Merging)")
    merge.add_argument("--out", type=Path, default=None, help="the merged folder (default: models/<recipe name>)")


def run(args: argparse.Namespace) -> int:
    from harness.merge.build import build_merge
    from harness.merge.recipe import read_recipe

    recipe = read_recipe(args.recipe)
    out = build_merge(recipe, args.out or Path("models") / recipe.name, str(args.recipe))
    print(f"merged: {out} (recipe sha256 {recipe.sha256[:12]})")
    return 0
