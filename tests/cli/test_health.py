"""``xlh health`` end to end through ``harness.cli.main``: the formats, ``--tasks``, several models, and its
errors as exit 2 (a path that is no run, a run without a generative task)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli.main import main
from tests.fixtures import alignment_runs as fx
from tests.fixtures import health_runs as hx


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    folder = tmp_path_factory.mktemp("health")
    hx.write_health_run(folder, data_dir, "base")
    hx.write_health_run(folder, data_dir, "other", run_id="20260302-090000-health")
    return folder


def test_text_of_two_models(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["health", str(root / "base"), str(root / "other")]) == 0
    out = capsys.readouterr().out
    rows = [line.split()[:2] for line in out.splitlines() if line.startswith("eng_Latn-swh_Latn ")]
    assert rows == [["eng_Latn-swh_Latn", "base"], ["eng_Latn-swh_Latn", "other"]]
    assert "3/9 (33.3%)" in out and "not covered" in out and "not checked" in out


def test_json_of_selected_tasks(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = next((root / "base").iterdir())
    assert main(["health", str(run), "--tasks", "mgsm:native_cot,xquad", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    (checked,) = document["runs"]
    assert [setting["variant"] for setting in checked["settings"]] == ["native_cot", "default"]
    native = checked["settings"][0]["languages"][0]["checks"]
    assert (native["off_target"]["count"], native["unparsable"]["count"], native["length_capped"]["count"]) == (2, 1, 1)
    assert main(["health", str(run), "--tasks", "xquad", "--format", "csv"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1 + 6


def test_errors_exit_2(tmp_path: Path, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["health", str(tmp_path / "missing")]) == 2
    assert "no such run folder" in capsys.readouterr().err
    sib = fx.write(tmp_path, fx.run([fx.score_task("sib200", {"deu_Latn": ("deu_Latn", 0.5)})], "sib"))
    assert main(["health", str(sib)]) == 2
    assert f"xlh: error: {sib}: no generative task to check (its tasks: sib200:default@test" in capsys.readouterr().err
    assert main(["health", str(root), "--tasks", "xnli"]) == 2
    assert "no generative task matching xnli in" in capsys.readouterr().err


def test_regress_refuses_a_negative_off_target_tolerance(tmp_path: Path) -> None:
    import argparse

    from harness.cli import regress
    from harness.errors import ConfigError

    parser = argparse.ArgumentParser()
    regress.add_arguments(parser)
    args = parser.parse_args(["--baseline", str(tmp_path), "--candidate", str(tmp_path), "--off-target-tol", "-1"])
    with pytest.raises(ConfigError, match="--off-target-tol must be >= 0"):
        regress.run(args)


def test_the_leaderboard_page_has_a_health_section(tmp_path: Path, data_dir: Path) -> None:
    from harness.cli import leaderboard

    hx.write_health_run(tmp_path, data_dir)
    assert leaderboard.main(tmp_path) == 0
    page = (tmp_path / "leaderboard.html").read_text(encoding="utf-8")
    section = page[page.index('<h2 id="health">') : page.index("<h2>Runs used</h2>")]
    assert "<h3>flores200:default@devtest (text checked: hypothesis)</h3>" in section
    assert "<td>3/9 (33.3%)</td>" in section  # eng_Latn-swh_Latn: three English answers of nine decided
    assert "### Output health" in (tmp_path / "leaderboard.md").read_text(encoding="utf-8")
