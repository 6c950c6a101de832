"""A recipe as mergekit's configuration (mergekit is the merge engine; this module only writes its input).

What mergekit does with slices was measured (``../shared/notes/mergekit.md``): output layers are renumbered in
slice order; the token embeddings come from the first slice's model and the final norm and LM head from the last
slice's, so a layer swap opens and closes with a zero-length slice of the model that should donate them;
``base_model`` picks where config.json and the tokenizer are copied from and must always be set (else the donor
depends on Python's hash seed).
"""

from __future__ import annotations

from typing import Any

from harness.merge.recipe import MergeRecipe


def mergekit_config(recipe: MergeRecipe, paths: dict[str, str], layers: int, dtype: str) -> dict[str, Any]:
    """mergekit's configuration for ``recipe``; ``paths``: each parent's reference -> its folder; ``layers``:
    the parents' transformer layers; ``dtype``: theirs (merging computes in float32 and writes this)."""
    if recipe.method == "layer_swap":
        return _layer_swap(recipe, paths, layers, dtype)
    models = [p for p in recipe.parents if p.part == "model"]
    entries = []
    for parent in models:
        parameters: dict[str, Any] = {"weight": parent.weight}
        if parent.density is not None:
            parameters["density"] = parent.density
        entries.append({"model": paths[parent.reference], "parameters": parameters})
    base = recipe.parent("base").reference if recipe.method != "linear" else models[0].reference
    config: dict[str, Any] = {"merge_method": recipe.method, "base_model": paths[base], "models": entries}
    # linear: weights normalised to sum 1; task arithmetic and TIES: base + sum of weight x (model - base), as the
    # papers define them
    config["parameters"] = {"normalize": recipe.method == "linear"}
    config["dtype"] = dtype
    return config


def swap_plan(bottom: int, top: int, transition: int, layers: int) -> list[tuple[int, int, float]]:
    """Per output layer range ``(start, end, weight of swap_in)``: swap_in's bottom layers, a linear ramp of
    ``transition`` blended layers, keep's middle, the ramp back, swap_in's top layers (a block of no layers has
    no ramp; empty ranges are left out). A transition layer ``j`` of ``n`` (1-based, counted from the swapped
    block) takes ``1 - j / (n + 1)`` of swap_in: one layer 0.5, two layers 2/3 then 1/3."""
    low = transition if bottom else 0
    high = transition if top else 0
    middle_start, middle_end = bottom + low, layers - top - high
    plan = [(0, bottom, 1.0)]
    plan += [(bottom + j, bottom + j + 1, 1 - (j + 1) / (low + 1)) for j in range(low)]
    plan.append((middle_start, middle_end, 0.0))
    plan += [(middle_end + j, middle_end + j + 1, (j + 1) / (high + 1)) for j in range(high)]
    plan.append((layers - top, layers, 1.0))
    return [(start, end, weight) for start, end, weight in plan if end > start]


def swapped_layers(bottom: int, top: int, transition: int) -> int:
    """Layers a swap takes from swap_in or blends: what must fit in the parents' layers."""
    return bottom + top + transition * ((bottom > 0) + (top > 0))


def _layer_swap(recipe: MergeRecipe, paths: dict[str, str], layers: int, dtype: str) -> dict[str, Any]:
    keep, swap_in = (paths[recipe.parent(part).reference] for part in ("keep", "swap_in"))
    p = recipe.parameters
    outer = keep if p["outer"] == "keep" else swap_in

    def source(model: str, start: int, end: int, weight: float) -> dict[str, Any]:
        return {"model": model, "layer_range": [start, end], "parameters": {"weight": weight}}

    # Every slice is a linear merge: one source of weight 1 copies its layers exactly (x * 1 / 1 in float32),
    # two sources blend a transition layer.
    slices = [{"sources": [source(outer, 0, 0, 1.0)]}]  # donates the token embeddings
    for start, end, weight in swap_plan(p["bottom"], p["top"], p["transition"], layers):
        if weight in (0.0, 1.0):
            slices.append({"sources": [source(swap_in if weight else keep, start, end, 1.0)]})
        else:
            slices.append({"sources": [source(swap_in, start, end, weight), source(keep, start, end, 1 - weight)]})
    slices.append({"sources": [source(outer, layers, layers, 1.0)]})  # donates the final norm and LM head
    return {"merge_method": "linear", "base_model": keep, "slices": slices, "dtype": dtype}
