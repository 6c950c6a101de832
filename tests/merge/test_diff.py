"""``xlh diff``: the relative change per layer and module kind equals a direct computation, and ranks the layers
each expert's fine-tuning changed first."""

from __future__ import annotations

import csv
import io
import math
import re
from pathlib import Path

import pytest

from harness.cli.main import main
from harness.errors import ConfigError
from harness.merge.diff import layer_changes, layers_by_change, tensor_place
from tests.merge.conftest import LANGUAGE_LAYERS, LAYERS, MATH_LAYERS, tensors


@pytest.mark.parametrize(
    ("name", "place"),
    [
        ("model.layers.3.self_attn.q_proj.weight", (3, "attention")),
        ("model.layers.3.self_attn.q_norm.weight", (3, "norm")),
        ("model.layers.12.mlp.down_proj.weight", (12, "mlp")),
        ("model.layers.0.input_layernorm.weight", (0, "norm")),
        ("model.embed_tokens.weight", (None, "embeddings")),
        ("model.norm.weight", (None, "norm")),
        ("lm_head.weight", (None, "lm_head")),
        ("transformer.h.2.attn.c_attn.weight", (2, "attention")),
    ],
)
def test_tensors_are_placed_by_layer_and_module_kind(name: str, place: tuple) -> None:
    assert tensor_place(name) == place


def test_changes_equal_a_direct_computation_and_rank_the_changed_layers_first(family: dict[str, Path]) -> None:
    rows = layer_changes(family["base"], family["math"], "math")
    base, math_expert = tensors(family["base"]), tensors(family["math"])
    for layer in range(LAYERS):
        names = [n for n in base if tensor_place(n) == (layer, "mlp")]
        direct = math.sqrt(sum(float((math_expert[n].double() - base[n].double()).pow(2).sum()) for n in names))
        direct /= math.sqrt(sum(float(base[n].double().pow(2).sum()) for n in names))
        (row,) = [r for r in rows if r.layer == layer and r.module == "mlp"]
        assert row.relative_change == pytest.approx(direct, rel=1e-12)
    assert set(layers_by_change(rows)[: len(MATH_LAYERS)]) == set(MATH_LAYERS)
    language = layer_changes(family["base"], family["language"], "language")
    assert set(layers_by_change(language)[: len(LANGUAGE_LAYERS)]) == set(LANGUAGE_LAYERS)
    outside = {r.module: r.relative_change for r in language if r.layer is None}
    assert outside["embeddings"] > 10 * {r.module: r.relative_change for r in rows if r.layer is None}["embeddings"]


def test_models_with_other_tensors_are_refused(family: dict[str, Path], tmp_path: Path, data_dir: Path) -> None:
    from harness.run.tiny_model import build_tiny_model

    deeper = build_tiny_model(tmp_path / "deeper", data_dir, seed=0, layers=LAYERS + 1)
    with pytest.raises(ConfigError, match="hold different tensors"):
        layer_changes(family["base"], deeper)


def test_xlh_diff_writes_long_form_csv_and_a_plot(family: dict[str, Path], tmp_path: Path, capsys) -> None:
    args = ["diff", str(family["base"]), str(family["math"]), str(family["language"]), "--format", "csv"]
    assert main([*args, "--out", str(tmp_path / "diff.csv"), "--plot", str(tmp_path / "diff.png")]) == 0
    rows = list(csv.DictReader(io.StringIO((tmp_path / "diff.csv").read_text())))
    assert list(rows[0]) == ["expert", "layer", "module", "relative_change"]
    assert {r["expert"] for r in rows} == {str(family["math"]), str(family["language"])}
    assert any(r["layer"] == "" and r["module"] == "embeddings" for r in rows)
    assert (tmp_path / "diff.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    capsys.readouterr()
    assert main(["diff", str(family["base"]), str(family["math"])]) == 0
    table = capsys.readouterr().out
    assert "| layer | attention | mlp | norm |" in table
    assert re.search(r"layers most changed first: [23], [23],", table), table
