"""``xlh correlate`` end to end through ``harness.cli.main``: the formats, the options, and its errors as exit 2."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from scipy import stats

from harness.cli.main import main
from tests.fixtures import alignment_runs as fx

LANGS = ("eng_Latn", "deu_Latn", "fra_Latn", "swh_Latn", "zho_Hans", "hin_Deva")


def _model(root: Path) -> tuple[Path, Path]:
    result, samples = fx.alignment_run(fx.curves(LANGS))
    alignment = fx.write(root, result, samples)
    flores = {f"eng_Latn-{code}": (code, 10.0 + 7 * rank) for rank, code in enumerate(LANGS[1:])}
    sib = {code: (code, 0.2 + 0.1 * rank) for rank, code in enumerate(LANGS)}
    tasks = [fx.score_task("flores200", flores, "chrf++", split="devtest"), fx.score_task("sib200", sib)]
    return alignment, fx.write(root, fx.run(tasks, created="2026-03-02T09:00:00+00:00", run_id="20260302-090000-t1"))


def test_text_for_a_results_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _model(tmp_path)
    assert main(["correlate", str(tmp_path / "base"), "--resamples", "100"]) == 0
    out = capsys.readouterr().out
    assert "model: base (fingerprint" in out and "100 resamples, numpy default_rng(seed=1234)" in out
    assert "flores200:default@devtest chrf++ eng_Latn->X" in out and "sib200:default@test acc" in out


def test_csv_and_json_with_metrics_and_seed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    alignment, tasks = _model(tmp_path)
    argv = ["correlate", str(alignment), str(tasks), "--alignment-metric", "mexa_mean,cosine_mean",
            "--alignment-metric", "mexa_max_last", "--seed", "3", "--resamples", "50"]  # fmt: skip
    assert main([*argv, "--format", "csv"]) == 0
    lines = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [line["alignment_metric"] for line in lines] == ["mexa_mean"] * 2 + ["cosine_mean"] * 2 + [
        "mexa_max_last"
    ] * 2
    assert main([*argv, "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    mexa = document["alignment"][0]["values"]
    row = document["correlations"][0]
    chrf = document["tasks"][0]["values"]
    expected = stats.pearsonr([mexa[code] for code in row["languages"]], [chrf[code] for code in row["languages"]])
    assert row["pearson"]["value"] == pytest.approx(expected.statistic) and row["n"] == 5
    assert document["bootstrap"] == {"resamples": 50, "seed": 3, "confidence": 0.95,
                                     "method": "percentile, languages resampled with replacement"}  # fmt: skip


def test_errors_exit_2_and_name_the_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    alignment, tasks = _model(tmp_path)
    assert main(["correlate", str(tasks)]) == 2
    assert "no alignment run among" in capsys.readouterr().err
    assert main(["correlate", str(alignment)]) == 2
    assert "no task run besides the alignment run" in capsys.readouterr().err
    assert main(["correlate", str(tmp_path / "missing")]) == 2
    assert "no such run folder" in capsys.readouterr().err
    other = fx.write(tmp_path / "other", fx.run([], weights="other", run_id="20260301-090000-other1"))
    assert main(["correlate", str(alignment), str(tasks), str(other)]) == 2
    assert "runs of different models: base" in capsys.readouterr().err
