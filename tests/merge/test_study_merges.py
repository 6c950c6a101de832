"""studies/tiny-layer-swap.yaml end to end, as a user runs it: `xlh tiny-model --family`, then `xlh eval --study`
builds the merged model from its recipe and evaluates every model; a rerun builds and computes nothing; a parent
changed by further fine-tuning rebuilds the merge and evaluates what changed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from safetensors.torch import load_file, save_file

from harness.cli.main import main
from harness.records.io import iter_runs
from harness.records.merge_provenance import read_provenance

REPO = Path(__file__).resolve().parents[2]


def _eval(data_dir: Path) -> int:
    return main(["eval", "--study", "studies/tiny-layer-swap.yaml", "--data-dir", str(data_dir), "--backend", "hf",
                 "--no-progress", "--cache", "off"])  # fmt: skip


def test_the_tiny_layer_swap_study_builds_and_evaluates_its_merge(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    for name in ("studies/tiny-layer-swap.yaml", "recipes/tiny-layer-swap.yaml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)  # the study's paths are relative to where make runs
    assert main(["tiny-model", "models/tiny-family", "--family", "--data-dir", str(data_dir)]) == 0
    assert _eval(data_dir) == 0
    out = capsys.readouterr().out
    assert "merging tiny-layer-swap (layer_swap) into models/tiny-family/swap" in out
    assert "evaluating base, math, language, swap" in out
    swap = read_provenance(tmp_path / "models/tiny-family/swap")
    assert swap is not None and [p.reference for p in swap.parents] == ["math", "language"]
    runs = {stored.result.display_name: stored.result for stored in iter_runs(tmp_path / "results")}
    assert runs["swap"].role == "merged" and runs["swap"].parents == ["math", "language"]
    assert runs["swap"].recipe is not None and runs["swap"].recipe.sha256 == swap.recipe_sha256

    assert _eval(data_dir) == 0  # nothing changed: nothing built, nothing evaluated
    out = capsys.readouterr().out
    assert "models/tiny-family/swap is up to date" in out and "evaluating none" in out

    math_weights = tmp_path / "models/tiny-family/math/model.safetensors"
    tensors = load_file(math_weights)
    tensors["model.layers.2.mlp.up_proj.weight"] += 0.01  # the math expert trained further
    save_file(tensors, math_weights, metadata={"format": "pt"})
    assert _eval(data_dir) == 0
    out = capsys.readouterr().out
    assert "merging tiny-layer-swap" in out and "evaluating math, swap" in out
    rebuilt = read_provenance(tmp_path / "models/tiny-family/swap")
    assert rebuilt is not None and rebuilt.parents[0].fingerprint != swap.parents[0].fingerprint
