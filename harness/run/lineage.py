"""A run of a folder ``xlh merge`` built records its lineage from the folder's ``xlh-recipe.json``: role
``merged``, the parents it was merged from (their folders, which tables match to the parents' runs for merge
gain) and the recipe's hash. What the command line gives explicitly wins."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from harness.records.merge_provenance import MERGED_PARTS, read_provenance
from harness.records.schema import Recipe
from harness.run.config import RunConfig


def with_merge_lineage(config: RunConfig) -> RunConfig:
    folder = Path(config.model)
    provenance = read_provenance(folder) if folder.is_dir() else None
    if provenance is None:
        return config
    parents = tuple(dict.fromkeys(p.path for p in provenance.parents if p.part in MERGED_PARTS))
    recipe = Recipe(
        "merge", f"{provenance.name} ({provenance.method}, {folder / 'xlh-recipe.json'})", provenance.recipe_sha256
    )
    return dataclasses.replace(
        config,
        role=config.role or "merged",
        parents=config.parents or parents,
        recipe=config.recipe or recipe,
    )
