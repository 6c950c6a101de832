"""``xlh sweep``: a 2x2 layer-swap sweep on the tiny family builds 4 merges, evaluates them and their parents,
and tables them; a rerun builds and computes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli.main import main
from harness.records.io import iter_runs


def test_a_two_by_two_sweep_builds_evaluates_and_tables_every_combination(
    family: dict[str, Path], tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    recipe = tmp_path / "swap.yaml"
    recipe.write_text(
        f"method: layer_swap\nkeep: {family['math']}\nswap_in: {family['language']}\nbottom: [0, 1]\ntop: [1, 2]\n"
    )
    args = ["sweep", str(recipe), "--tasks", "xnli", "--langs", "en,de", "--limit", "6", "--data-dir", str(data_dir),
            "--backend", "hf", "--cache", "off", "--no-progress", "--resamples", "100"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    points = ["swap-bottom0-top1", "swap-bottom0-top2", "swap-bottom1-top1", "swap-bottom1-top2"]
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == points
    assert f"evaluating math, language, {', '.join(points)}" in out
    assert "merge gain" in out and all(f"{point} − best of math, language" in out for point in points)
    runs = list(iter_runs(tmp_path / "results"))
    assert len(runs) == 6 and {r.result.display_name for r in runs} == {"math", "language", *points}

    assert main(args) == 0  # nothing changed: nothing built, nothing evaluated
    again = capsys.readouterr().out
    assert again.count("is up to date") == 4 and "evaluating none" in again
    assert len(list(iter_runs(tmp_path / "results"))) == 6


def test_a_recipe_without_choices_is_not_a_sweep(family: dict[str, Path], tmp_path: Path, capsys) -> None:
    recipe = tmp_path / "one.yaml"
    recipe.write_text(f"method: layer_swap\nkeep: {family['math']}\nswap_in: {family['language']}\nbottom: 1\ntop: 1\n")
    assert main(["sweep", str(recipe), "--sweeps-dir", str(tmp_path / "sweeps")]) == 2
    assert "has no list of choices to sweep (bottom, top, transition)" in capsys.readouterr().err
