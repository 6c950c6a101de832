"""Recipe files: each method's fields, checked with errors that name the file and field; sweeps expanded."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.merge.mergekit_config import swap_plan
from harness.merge.recipe import parse, read_recipe_file, sweep_points

SWAP = {"method": "layer_swap", "keep": "math", "swap_in": "language", "bottom": 1, "top": 1}


def test_a_layer_swap_recipe_and_its_defaults() -> None:
    recipe = parse("swap", SWAP, "r.yaml")
    assert [(p.reference, p.part) for p in recipe.parents] == [("math", "keep"), ("language", "swap_in")]
    assert recipe.parameters == {"bottom": 1, "top": 1, "transition": 0, "outer": "keep"}
    assert parse("swap", {**SWAP}, "r.yaml").sha256 == recipe.sha256
    assert parse("swap", {**SWAP, "top": 2}, "r.yaml").sha256 != recipe.sha256


def test_weighted_recipes() -> None:
    linear = parse("avg", {"method": "linear", "models": [{"model": "a", "weight": 0.3}, "b"]}, "r.yaml")
    assert [(p.reference, p.part, p.weight) for p in linear.parents] == [("a", "model", 0.3), ("b", "model", 1.0)]
    ties = parse("t", {"method": "ties", "base": "base", "models": [{"model": "a", "density": 0.5}]}, "r.yaml")
    assert [(p.part, p.density) for p in ties.parents] == [("base", None), ("model", 0.5)]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"method": "slerp"}, "method 'slerp' unknown; valid: layer_swap, linear, task_arithmetic, ties"),
        ({**SWAP, "bottom": -1}, "`bottom` must be a number of layers"),
        ({**SWAP, "outer": "base"}, "outer 'base' unknown"),
        ({**SWAP, "colour": 1}, "unknown field(s) colour"),
        ({"method": "layer_swap", "swap_in": "x", "bottom": 1, "top": 1}, "`keep` must name a model"),
        ({"method": "linear", "models": []}, "linear needs `models`"),
        ({"method": "linear", "base": "b", "models": ["a"]}, "linear averages its models and takes no `base`"),
        ({"method": "task_arithmetic", "models": ["a"]}, "`base` must name a model"),
        ({"method": "ties", "base": "b", "models": ["a"]}, "models[0]: `density` is required by ties"),
        ({"method": "linear", "models": [{"model": "a", "density": 0.5}]}, "`density` is only for ties"),
        ({"method": "linear", "models": [{"model": "a", "weight": "x"}]}, "weight must be a number"),
    ],
)
def test_bad_recipes_are_clear_errors(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError, match="recipe r.yaml") as error:
        parse("r", raw, "r.yaml")
    assert message in str(error.value)


def test_recipe_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        read_recipe_file(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("method: [", encoding="utf-8")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        read_recipe_file(tmp_path / "bad.yaml")
    (tmp_path / "swap.yaml").write_text(
        "method: layer_swap\nkeep: a\nswap_in: b\nbottom: 1\ntop: 2\n", encoding="utf-8"
    )
    assert read_recipe_file(tmp_path / "swap.yaml") == ("swap", {**SWAP, "keep": "a", "swap_in": "b", "top": 2})


def test_a_sweep_lists_every_combination() -> None:
    points = sweep_points("swap", {**SWAP, "bottom": [1, 2], "top": [1, 3]}, "r.yaml")
    assert [p.name for p in points] == [
        "swap-bottom1-top1",
        "swap-bottom1-top3",
        "swap-bottom2-top1",
        "swap-bottom2-top3",
    ]
    assert [(p.parameters["bottom"], p.parameters["top"]) for p in points] == [(1, 1), (1, 3), (2, 1), (2, 3)]
    assert [p.name for p in sweep_points("swap", SWAP, "r.yaml")] == ["swap"]


def test_the_swap_plan_ramps_linearly_through_the_transition() -> None:
    assert swap_plan(1, 1, 0, 6) == [(0, 1, 1.0), (1, 5, 0.0), (5, 6, 1.0)]
    assert swap_plan(1, 1, 1, 6) == [(0, 1, 1.0), (1, 2, 0.5), (2, 4, 0.0), (4, 5, 0.5), (5, 6, 1.0)]
    ramps = swap_plan(1, 1, 2, 6)
    assert [(a, b) for a, b, _ in ramps] == [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6)]
    assert [w for _, _, w in ramps] == pytest.approx([1, 2 / 3, 1 / 3, 1 / 3, 2 / 3, 1])
    assert swap_plan(0, 2, 1, 6) == [(0, 3, 0.0), (3, 4, 0.5), (4, 6, 1.0)]  # no bottom block, no bottom ramp
    assert swap_plan(0, 0, 3, 6) == [(0, 6, 0.0)]
