"""Merge recipes (``recipes/<name>.yaml``): what to build, from which parents, with which parameters.

A recipe names a method and its parents (a model folder, a short name such as ``gemma-3-270m``, or a model of
the study the recipe is used in) and the method's parameters:

- ``layer_swap`` (Bandarkar et al. 2024, "Layer Swapping for Zero-Shot Cross-Lingual Transfer"): ``keep`` (the
  model whose middle layers stay, e.g. the math expert), ``swap_in`` (the model whose bottom and top layers come
  in, e.g. the language expert), ``bottom`` and ``top`` (how many layers), ``transition`` (layers at each inner
  boundary blended from both, weights ramping linearly; default 0) and ``outer`` (where the token embeddings,
  final norm and LM head come from: ``keep``, the default, since the paper replaces transformer layers only, or
  ``swap_in``).
- ``linear`` (weighted average), ``task_arithmetic`` (base + sum of weight x (model - base)), ``ties``
  (TIES-merging, each model with a ``density``): ``models`` (each ``{model, weight}``) and, except for linear,
  ``base``.

A layer swap's ``bottom``, ``top`` and ``transition`` may instead be lists of choices (``bottom: [2, 4, 6]``):
the recipe is then a sweep, and ``sweep_points`` lists its combinations, each a plain recipe.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.errors import ConfigError

METHODS = ("layer_swap", "linear", "task_arithmetic", "ties")
OUTER_SOURCES = ("keep", "swap_in")
LAYER_SWAP_FIELDS = {"keep", "swap_in", "bottom", "top", "transition", "outer"}
MODEL_FIELDS = {"model", "weight", "density"}
SWEPT_FIELDS = ("bottom", "top", "transition")  # layer_swap's numbers that may be lists of choices


@dataclass(frozen=True)
class Parent:
    """A parent as the recipe names it, and its part: ``keep``/``swap_in``/``base``/``model``."""

    reference: str
    part: str
    weight: float | None = None
    density: float | None = None


@dataclass(frozen=True)
class MergeRecipe:
    """One buildable recipe (no lists of choices left): its method, parents and parameters."""

    name: str
    method: str
    parents: tuple[Parent, ...]
    parameters: dict[str, Any]  # layer_swap: bottom, top, transition, outer

    def parent(self, part: str) -> Parent:
        (found,) = [p for p in self.parents if p.part == part]
        return found

    @property
    def content(self) -> dict[str, Any]:
        """The recipe as data, what its hash covers: the method, the parents as written (with their weights and
        densities) and the parameters."""
        return {
            "method": self.method,
            "parents": [{key: value for key, value in vars(p).items() if value is not None} for p in self.parents],
            "parameters": self.parameters,
        }

    @property
    def sha256(self) -> str:
        return hashlib.sha256(json.dumps(self.content, sort_keys=True).encode("utf-8")).hexdigest()


def read_recipe_file(path: Path) -> tuple[str, dict[str, Any]]:
    """The recipe's name (its file name) and its YAML mapping; errors name the file."""
    if not path.is_file():
        raise ConfigError(f"recipe {path}: file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"recipe {path}: not valid YAML: {error}") from error
    if not isinstance(raw, dict):
        raise ConfigError(f"recipe {path}: expected a mapping with `method` and its parameters")
    return path.stem, raw


def read_recipe(path: Path) -> MergeRecipe:
    """The one merge a recipe file builds; a sweep (lists of choices) is refused: ``xlh sweep`` builds those."""
    name, raw = read_recipe_file(path)
    recipes = sweep_points(name, raw, str(path))
    if len(recipes) > 1:
        raise ConfigError(f"recipe {path} is a sweep of {len(recipes)} merges: build them with `xlh sweep`")
    return recipes[0]


def sweep_points(name: str, raw: dict[str, Any], where: str) -> list[MergeRecipe]:
    """Every combination of a recipe's lists of choices, as plain recipes named ``name-bottom2-top4``
    (just ``[parse(name, raw)]`` for a recipe without lists)."""
    swept = [key for key in SWEPT_FIELDS if isinstance(raw.get(key), list)]
    if not swept:
        return [parse(name, raw, where)]
    recipes = []
    for values in itertools.product(*(raw[key] for key in swept)):
        point = {**raw, **dict(zip(swept, values, strict=True))}
        label = "-".join(f"{key}{value}" for key, value in zip(swept, values, strict=True))
        recipes.append(parse(f"{name}-{label}", point, where))
    return recipes


def parse(name: str, raw: dict[str, Any], where: str) -> MergeRecipe:
    """A plain recipe from its YAML mapping, checked field by field (``where`` names the file in errors)."""
    method = raw.get("method")
    if method not in METHODS:
        raise ConfigError(f"recipe {where}: method {method!r} unknown; valid: {', '.join(METHODS)}")
    if method == "layer_swap":
        return _layer_swap(name, raw, where)
    return _weighted(name, method, raw, where)


def _layer_swap(name: str, raw: dict[str, Any], where: str) -> MergeRecipe:
    _no_unknown(raw, LAYER_SWAP_FIELDS | {"method"}, where)
    parents = tuple(Parent(_text(raw, key, where), key) for key in ("keep", "swap_in"))
    parameters = {
        "bottom": _count(raw, "bottom", where),
        "top": _count(raw, "top", where),
        "transition": _count(raw, "transition", where, default=0),
        "outer": raw.get("outer", "keep"),
    }
    if parameters["outer"] not in OUTER_SOURCES:
        raise ConfigError(f"recipe {where}: outer {parameters['outer']!r} unknown; valid: {', '.join(OUTER_SOURCES)}")
    return MergeRecipe(name, "layer_swap", parents, parameters)


def _weighted(name: str, method: str, raw: dict[str, Any], where: str) -> MergeRecipe:
    _no_unknown(raw, {"method", "models", "base"}, where)
    models = raw.get("models")
    if not isinstance(models, list) or not models:
        raise ConfigError(f"recipe {where}: {method} needs `models`, a list of {{model, weight}}")
    parents = []
    if method != "linear":
        parents.append(Parent(_text(raw, "base", where), "base"))
    elif "base" in raw:
        raise ConfigError(f"recipe {where}: linear averages its models and takes no `base`")
    for index, entry in enumerate(models):
        entry = entry if isinstance(entry, dict) else {"model": entry}
        at = f"{where}, models[{index}]"
        _no_unknown(entry, MODEL_FIELDS, at)
        density = entry.get("density")
        if (density is None) == (method == "ties"):
            raise ConfigError(f"recipe {at}: `density` is {'required by' if density is None else 'only for'} ties")
        weight = entry.get("weight", 1.0)
        if not isinstance(weight, int | float) or isinstance(weight, bool):
            raise ConfigError(f"recipe {at}: weight must be a number, got {weight!r}")
        if density is not None and not (isinstance(density, int | float) and 0 < density <= 1):
            raise ConfigError(f"recipe {at}: density must be in (0, 1], got {density!r}")
        parents.append(Parent(_text(entry, "model", at), "model", float(weight), density and float(density)))
    return MergeRecipe(name, method, tuple(parents), {})


def _no_unknown(raw: dict[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"recipe {where}: unknown field(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}")


def _text(raw: dict[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"recipe {where}: `{key}` must name a model (a folder, short name or study model)")
    return value


def _count(raw: dict[str, Any], key: str, where: str, default: int | None = None) -> int:
    value = raw.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError(f"recipe {where}: `{key}` must be a number of layers (0 or more), got {value!r}")
    return value
