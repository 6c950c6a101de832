"""Merges of tiny models built by mergekit through ``build_merge``: every tensor traced to the parent the recipe
names (bit for bit), weighted merges equal a direct computation, provenance recorded, bad input refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from harness.errors import ConfigError
from harness.merge import build
from harness.merge.build import build_merge
from harness.merge.diff import tensor_place
from harness.merge.recipe import parse
from harness.records.merge_provenance import PROVENANCE_FILE, read_provenance
from harness.run.model_info import fingerprint_folder
from tests.merge.conftest import LAYERS, tensors


def _swap(family: dict[str, Path], **parameters) -> dict:
    return {"method": "layer_swap", "keep": str(family["math"]), "swap_in": str(family["language"]), **parameters}


@pytest.mark.parametrize("outer", ["keep", "swap_in"])
def test_a_layer_swap_takes_each_tensor_from_the_parent_the_recipe_names(family, tmp_path: Path, outer: str) -> None:
    recipe = parse("swap", _swap(family, bottom=1, top=1, transition=1, outer=outer), "r.yaml")
    merged = tensors(build_merge(recipe, tmp_path / "swap", "r.yaml", say=lambda _: None))
    math, language = tensors(family["math"]), tensors(family["language"])
    assert merged.keys() == math.keys()
    for name, tensor in merged.items():
        layer = tensor_place(name)[0]
        if layer is None:
            assert torch.equal(tensor, (math if outer == "keep" else language)[name]), name
        elif layer in (0, LAYERS - 1):
            assert torch.equal(tensor, language[name]), name
        elif layer in (1, LAYERS - 2):  # the transition: half of each, computed as mergekit's linear does
            expected = torch.zeros_like(tensor).addcmul_(language[name], torch.tensor(0.5))
            expected.addcmul_(math[name], torch.tensor(0.5)).div_(torch.tensor(1.0))
            assert torch.equal(tensor, expected), name
            assert not torch.equal(tensor, math[name]) and not torch.equal(tensor, language[name]), name
        else:
            assert torch.equal(tensor, math[name]), name
    config = json.loads((tmp_path / "swap" / "config.json").read_text())
    assert config["num_hidden_layers"] == LAYERS and (tmp_path / "swap" / "tokenizer.json").is_file()


def test_linear_and_task_arithmetic_equal_a_direct_computation(family, tmp_path: Path) -> None:
    base, math, language = (tensors(family[name]) for name in ("base", "math", "language"))
    models = [{"model": str(family["math"]), "weight": 0.3}, {"model": str(family["language"]), "weight": 0.7}]
    linear = tensors(build_merge(parse("avg", {"method": "linear", "models": models}, "r"), tmp_path / "avg", "r"))
    arithmetic = {"method": "task_arithmetic", "base": str(family["base"]), "models": models}
    summed = tensors(build_merge(parse("ta", arithmetic, "r"), tmp_path / "ta", "r"))
    for name in base:
        assert torch.allclose(linear[name], 0.3 * math[name] + 0.7 * language[name], rtol=1e-6, atol=1e-7), name
        direct = base[name] + 0.3 * (math[name] - base[name]) + 0.7 * (language[name] - base[name])
        assert torch.allclose(summed[name], direct, rtol=1e-6, atol=1e-7), name


def test_the_merged_folder_records_its_recipe_and_parents(family, tmp_path: Path) -> None:
    models = [{"model": str(family[name]), "density": 0.5} for name in ("math", "language")]
    recipe = parse("ties", {"method": "ties", "base": str(family["base"]), "models": models}, "r")
    folder = build_merge(recipe, tmp_path / "ties", "r")
    provenance = read_provenance(folder)
    assert provenance is not None and provenance.method == "ties" and provenance.recipe_sha256 == recipe.sha256
    assert [(p.part, p.fingerprint) for p in provenance.parents] == [
        (part, fingerprint_folder(family[name])[0])
        for part, name in (("base", "base"), ("model", "math"), ("model", "language"))
    ]
    assert provenance.mergekit_config["merge_method"] == "ties" and provenance.mergekit_version == "0.1.5"
    assert not torch.equal(
        tensors(folder)["model.layers.2.mlp.up_proj.weight"],
        tensors(family["base"])["model.layers.2.mlp.up_proj.weight"],
    )


def test_bad_parents_and_outputs_are_clear_errors_and_write_nothing(family, tmp_path: Path, data_dir: Path) -> None:
    from harness.run.tiny_model import build_tiny_model

    wider = build_tiny_model(tmp_path / "wider", data_dir, seed=3, layers=LAYERS, hidden=192)
    cases = [
        (_swap(family, bottom=3, top=3, transition=1), "take 8 layers, but the parents have 6"),
        ({**_swap(family, bottom=1, top=1), "swap_in": str(tmp_path / "nowhere")}, "is not a model folder"),
        ({**_swap(family, bottom=1, top=1), "swap_in": str(wider)}, "parents differ in hidden_size"),
    ]
    for raw, message in cases:
        with pytest.raises(ConfigError, match=message):
            build_merge(parse("bad", raw, "r.yaml"), tmp_path / "out", "r.yaml")
    (tmp_path / "exists").mkdir()
    with pytest.raises(ConfigError, match="exists: remove it or choose another --out"):
        build_merge(parse("swap", _swap(family, bottom=1, top=1), "r"), tmp_path / "exists", "r")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exists", "wider"]


def test_a_merge_that_fails_leaves_nothing_behind(family, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def half_written(config: dict, out: Path) -> None:
        out.mkdir()
        (out / "model-00001.safetensors").write_bytes(b"half")
        raise RuntimeError("disk full")

    monkeypatch.setattr(build, "_run_mergekit", half_written)
    with pytest.raises(RuntimeError, match="disk full"):
        build_merge(parse("swap", _swap(family, bottom=1, top=1), "r"), tmp_path / "swap", "r")
    assert list(tmp_path.iterdir()) == []


def test_xlh_merge_builds_a_recipe_file_and_refuses_a_sweep(family, tmp_path: Path, capsys) -> None:
    from harness.cli.main import main

    recipe = tmp_path / "swap.yaml"
    recipe.write_text(f"method: layer_swap\nkeep: {family['math']}\nswap_in: {family['language']}\nbottom: 1\ntop: 1\n")
    assert main(["merge", str(recipe), "--out", str(tmp_path / "merged")]) == 0
    assert (tmp_path / "merged" / PROVENANCE_FILE).is_file() and "merged:" in capsys.readouterr().out
    recipe.write_text(recipe.read_text().replace("bottom: 1", "bottom: [1, 2]"))
    assert main(["merge", str(recipe), "--out", str(tmp_path / "again")]) == 2
    assert "a sweep of 2 merges" in capsys.readouterr().err and not (tmp_path / "again").exists()
