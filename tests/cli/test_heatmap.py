"""``xlh heatmap`` end to end through ``harness.cli.main``: the PNG, its default name, and the refusals."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.image
import pytest

from harness.cli.main import main
from tests.fixtures import alignment_runs as fx


def _run(root: Path) -> Path:
    return fx.write(root, *fx.alignment_run(fx.curves(("eng_Latn", "deu_Latn", "swh_Latn"), n=4, layers=6)))


def test_a_png_is_written_where_asked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _run(tmp_path / "results")
    out = tmp_path / "plots" / "mexa.png"
    assert main(["heatmap", str(folder), "--out", str(out), "--group", "resource", "--pooling", "last_token"]) == 0
    assert f"heatmap: {out} (3 languages x 6 layers)" in capsys.readouterr().out
    assert matplotlib.image.imread(out).ndim == 3


def test_the_default_name_is_in_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _run(tmp_path / "results")
    monkeypatch.chdir(tmp_path)
    assert main(["heatmap", str(folder), "--curve", "cosine"]) == 0
    assert (tmp_path / "alignment-cosine-weighted.png").is_file()
    assert sorted(os.listdir(folder)) == ["results.json", "samples.jsonl"]


def test_refusals_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _run(tmp_path / "results")
    assert main(["heatmap", str(folder), "--out", str(folder / "x.png")]) == 2
    assert "published runs are never changed" in capsys.readouterr().err
    assert main(["heatmap", str(tmp_path), "--out", str(tmp_path / "x.png")]) == 2
    assert "not a run folder" in capsys.readouterr().err
