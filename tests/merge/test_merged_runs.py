"""A merged folder evaluates like any model and its run records its lineage from xlh-recipe.json; tables compute
merge gain against the recorded parents' runs."""

from __future__ import annotations

from pathlib import Path

from harness.cli.main import main
from harness.merge.build import build_merge
from harness.merge.recipe import parse
from harness.records.io import iter_runs


def test_a_merged_folder_runs_as_merged_and_tables_show_its_merge_gain(
    family: dict[str, Path], tmp_path: Path, data_dir: Path, capsys
) -> None:
    raw = {
        "method": "layer_swap",
        "keep": str(family["math"]),
        "swap_in": str(family["language"]),
        "bottom": 1,
        "top": 1,
    }
    merged = build_merge(parse("swap", raw, "r.yaml"), tmp_path / "models" / "swap", "r.yaml", say=lambda _: None)
    out = tmp_path / "results"
    for model in (family["math"], family["language"], merged):
        args = ["eval", "--model", str(model), "--tasks", "xnli", "--langs", "en,de", "--limit", "6", "--data-dir",
                str(data_dir), "--out", str(out), "--backend", "hf", "--no-progress", "--cache", "off"]  # fmt: skip
        assert main(args) == 0
    runs = {stored.result.model.local_path: stored.result for stored in iter_runs(out)}
    result = runs[str(merged.resolve())]
    assert result.role == "merged"
    assert result.parents == [str(family["math"].resolve()), str(family["language"].resolve())]
    assert result.recipe is not None and result.recipe.kind == "merge"
    assert result.recipe.sha256 == parse("swap", raw, "r.yaml").sha256
    assert runs[str(family["math"].resolve())].role is None  # folders without xlh-recipe.json record no lineage
    capsys.readouterr()
    assert main(["table", str(out), "--format", "md", "--resamples", "200"]) == 0
    table = capsys.readouterr().out
    assert "merge gain" in table.lower() and "swap" in table
