"""A sweep (a recipe with lists of choices, ``bottom: [2, 4, 6]``) as an ordinary study: one recipe file per
combination and a study file naming the parents and one merged model per combination, written under
``sweeps/<recipe name>/``. ``xlh sweep`` then builds and evaluates it as any study (merges built when missing or
stale, models evaluated when their results are incomplete: a rerun builds and computes nothing) and its table
is the sweep's surface: per combination and language the score and the merge gain against the parents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from harness.errors import ConfigError
from harness.merge.recipe import SWEPT_FIELDS, MergeRecipe, sweep_points
from harness.records.merge_provenance import MERGED_PARTS


def write_sweep(
    name: str, raw: dict[str, Any], where: str, sweeps_dir: Path, models_dir: Path, selection: dict[str, Any]
) -> Path:
    """Write the sweep's recipes and study file; returns the study file."""
    points = sweep_points(name, raw, where)
    if len(points) < 2:
        raise ConfigError(f"recipe {where} has no list of choices to sweep ({', '.join(SWEPT_FIELDS)})")
    folder = sweeps_dir / name
    (folder / "recipes").mkdir(parents=True, exist_ok=True)
    parents = _parent_models(points[0])
    bases = {p.reference for p in points[0].parents if p.part == "base"}
    models: list[dict[str, Any]] = [
        {"name": label, "model": reference, "role": "base" if reference in bases else "expert"}
        for reference, label in parents.items()
    ]
    for point in points:
        recipe_file = folder / "recipes" / f"{point.name}.yaml"
        values = {key: point.parameters[key] for key in SWEPT_FIELDS if isinstance(raw.get(key), list)}
        recipe_file.write_text(yaml.safe_dump({**raw, **values}, sort_keys=False), encoding="utf-8")
        merged_parents = [parents[p.reference] for p in point.parents if p.part in MERGED_PARTS]
        models.append({"name": point.name, "model": str(models_dir / point.name), "role": "merged",
                       "parents": merged_parents, "merge": str(recipe_file)})  # fmt: skip
    study: dict[str, Any] = {"name": f"sweep-{name}", "description": f"every combination of {where}", "models": models}
    if selection:
        study["eval"] = selection
    study_file = folder / "study.yaml"
    study_file.write_text(yaml.safe_dump(study, sort_keys=False), encoding="utf-8")
    return study_file


def _parent_models(recipe: MergeRecipe) -> dict[str, str]:
    """Each parent reference -> its model's name in the sweep's study (the folder's name, made unique)."""
    names: dict[str, str] = {}
    for parent in recipe.parents:
        if parent.reference in names:
            continue
        label = Path(parent.reference).name or parent.reference
        while label in names.values():
            label += "'"
        names[parent.reference] = label
    return names
