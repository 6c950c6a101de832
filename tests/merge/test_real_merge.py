"""gemma-3-270m merged with itself reproduces itself bit for bit: a real architecture (tied embeddings, sliding-
window layers, Gemma's extra norms) through mergekit's layer slicing and linear merging."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from harness.merge.build import build_merge
from harness.merge.recipe import parse

pytestmark = pytest.mark.slow


def _same_tensors(merged: Path, original: Path) -> None:
    (merged_file,) = merged.glob("*.safetensors")
    with safe_open(str(merged_file), "pt") as got, safe_open(str(original / "model.safetensors"), "pt") as want:
        assert sorted(got.keys()) == sorted(want.keys())
        for name in want.keys():  # noqa: SIM118 (safe_open is not a mapping)
            assert torch.equal(got.get_tensor(name), want.get_tensor(name)), name


@pytest.mark.parametrize(
    "raw",
    [
        {"method": "layer_swap", "bottom": 4, "top": 4, "transition": 1, "outer": "swap_in"},
        {"method": "linear"},
    ],
    ids=["layer_swap", "linear"],
)
def test_gemma_merged_with_itself_is_itself(gemma: Path, tmp_path: Path, raw: dict) -> None:
    twin = tmp_path / "twin"  # the same files under another path: mergekit refuses one model blended with itself
    twin.mkdir()
    for file in gemma.iterdir():
        (twin / file.name).symlink_to(file)
    if raw["method"] == "layer_swap":
        raw = {**raw, "keep": str(gemma), "swap_in": str(twin)}
    else:
        raw = {**raw, "models": [{"model": str(gemma), "weight": 0.5}, {"model": str(twin), "weight": 0.5}]}
    merged = build_merge(parse("self", raw, "r.yaml"), tmp_path / "self", "r.yaml", say=lambda _: None)
    _same_tensors(merged, gemma)
