"""End to end: `make eval` and the `xlh` CLI on the tiny model with real data, and bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli.main import main
from harness.records.schema import SCHEMA_VERSION
from tests.conftest import REPO_ROOT

SLICE = ["TASKS=mgsm,xnli", "LANGS=en,de,sw", "LIMIT=4"]


def _make_eval(model: Path, out: Path, data_dir: Path) -> Path:
    completed = subprocess.run(
        ["make", "--no-print-directory", "eval", f"MODEL={model}", f"OUT={out}", f"DATA_DIR={data_dir}", *SLICE],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "English" in completed.stdout and "mean (non-English)" in completed.stdout  # the summary table
    # MGSM generates: its output health in a line under the table (the random tiny model's answers hit the cap)
    assert "output health (xlh health " in completed.stdout and "\n  mgsm:direct@test: " in completed.stdout
    (folder,) = [
        line.removeprefix("results: ") for line in completed.stdout.splitlines() if line.startswith("results: ")
    ]
    return Path(folder)


def _scores(folder: Path) -> dict:
    result = json.loads((folder / "results.json").read_text())
    return {t["name"]: {code: lang["metrics"] for code, lang in t["languages"].items()} for t in result["tasks"]}


@pytest.fixture(scope="module")
def run_folder(tiny_model: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make_eval(tiny_model, tmp_path_factory.mktemp("out"), data_dir)


def test_make_eval_writes_a_complete_results_file(run_folder: Path, tiny_model: Path) -> None:
    result = json.loads((run_folder / "results.json").read_text())
    assert run_folder.parent.name == tiny_model.name
    assert result["schema_version"] == SCHEMA_VERSION
    assert len(result["model"]["fingerprint"]) == 64 and "model.safetensors" in result["model"]["files"]
    assert set(result["backend"]["versions"]) == {"torch", "transformers", "xlh"}
    assert result["generation"] == {"temperature": 0.0, "top_p": 1.0, "seed": 1234}
    by_name = {task["name"]: task for task in result["tasks"]}
    assert set(by_name) == {"mgsm", "xnli"}
    assert (by_name["mgsm"]["variant"], by_name["xnli"]["variant"], by_name["xnli"]["split"]) == (
        "direct",
        "sentence",
        "test",
    )
    for task in result["tasks"]:
        assert task["version"] >= 1 and task["limit"] == 4
        assert set(task["languages"]) == {"en", "de", "sw"}
        for language in task["languages"].values():
            assert language["n"] == 4
            assert language["data"]["source"] == "local"
            assert all(len(digest) == 64 for digest in language["data"]["files"].values())
            for name, metric in language["metrics"].items():
                if name == "unparsable":
                    assert 0 <= metric["value"] <= 4
                else:
                    assert 0.0 <= metric["value"] <= 1.0
                    assert metric["stderr"] is None or metric["stderr"] >= 0
                assert metric["signature"].startswith(name)
    sw = by_name["xnli"]["languages"]["sw"]
    assert (sw["flores"], sw["data"]["total_examples"]) == ("swh_Latn", 5010)


def test_samples_file_has_one_scored_line_per_example(run_folder: Path) -> None:
    lines = [json.loads(line) for line in (run_folder / "samples.jsonl").read_text().splitlines()]
    assert len(lines) == 2 * 3 * 4
    mgsm = next(line for line in lines if line["task"] == "mgsm" and line["language"] == "de")
    assert mgsm["requests"][0]["prompt"].startswith("Frage: ") and mgsm["requests"][0]["prompt"].endswith("\nAntwort:")
    assert isinstance(mgsm["responses"][0], str) and mgsm["gold"].isdigit()
    assert set(mgsm["scores"]) >= {"exact_match", "flexible_match"}
    xnli = next(line for line in lines if line["task"] == "xnli")
    assert len(xnli["responses"][0]["loglikelihoods"]) == 3
    assert xnli["gold"] in ("entailment", "neutral", "contradiction")
    assert xnli["scores"]["acc"] == float(xnli["extracted"] == xnli["gold"])


def test_a_second_identical_run_gives_identical_scores(run_folder: Path, tiny_model: Path, data_dir: Path) -> None:
    again = _make_eval(tiny_model, run_folder.parent.parent, data_dir)
    assert again != run_folder
    assert _scores(again) == _scores(run_folder)
    assert (again / "samples.jsonl").read_text() == (run_folder / "samples.jsonl").read_text()


def test_show_reprints_the_table(run_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", str(run_folder)]) == 0
    assert "German (de)" in capsys.readouterr().out


def test_tasks_lists_tasks_variants_and_languages(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    for name in ("mgsm", "xnli", "xquad", "belebele", "sib200", "flores200"):
        assert f"│ {name} " in out
    for variant in ("direct", "native_cot", "en_cot", "sentence", "label", "prompt_5"):
        assert variant in out
    assert "sw (swh_Latn)" in out and "nqo_Nkoo" in out and "406 directions" in out
    assert "shots from" in out and "exemplars" in out


def test_cross_lingual_few_shot_run(tiny_model, data_dir, tmp_path) -> None:
    """SHOTS=2 with English shots for German items: pool recorded in results, shots in every prompt."""
    args = ["--tasks", "mgsm:native_cot,xnli", "--langs", "de", "--limit", "2", "--shots", "2", "--shots-from", "en"]
    assert _eval(tiny_model, tmp_path / "out", data_dir, *args) == 0
    (folder,) = [p for p in (tmp_path / "out").glob("*/*") if p.is_dir()]
    tasks = {t["name"]: t for t in json.loads((folder / "results.json").read_text())["tasks"]}
    for task in tasks.values():
        assert (task["shots"], task["shots_from"], task["shot_seed"]) == (2, "en", 1234)
    mgsm_pool = tasks["mgsm"]["languages"]["de"]["data"]["shot_pool"]
    assert mgsm_pool["language"] == "en" and mgsm_pool["split"] == "exemplars"
    assert [Path(f).name for f in mgsm_pool["files"]] == ["mgsm_exemplars.json"]
    xnli_pool = tasks["xnli"]["languages"]["de"]["data"]["shot_pool"]
    assert (xnli_pool["split"], [Path(f).name for f in xnli_pool["files"]]) == ("validation", ["dev-en.tsv"])

    samples = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
    for sample in samples:
        assert len(sample["details"]["shots"]) == 2
        if sample["task"] == "mgsm":
            assert sample["details"]["shots"] == ["exemplar-1", "exemplar-2"]
            prompt = sample["requests"][0]["prompt"]
            assert prompt.startswith("Question: Roger has 5 tennis balls.")
            assert prompt.endswith("\nSchritt-für-Schritt-Antwort:") and prompt.count("\n\n") == 2
        else:
            assert sample["requests"][0]["context"].count("\n\n") == 2  # two English demonstrations
            assert sample["id"] not in sample["details"]["shots"]


# -- bad input: a clear error (exit 2) and no run folder left behind -------------------------------------


def _eval(model: Path, out: Path, data_dir: Path, *extra: str) -> int:
    return main(
        ["eval", "--model", str(model), "--out", str(out), "--data-dir", str(data_dir), "--no-progress", *extra]
    )


def _assert_no_run_folder(out: Path) -> None:
    leftovers = [p for p in out.rglob("*")] if out.is_dir() else []
    assert leftovers == [], leftovers


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tasks", "mgsm,nope"], "unknown task 'nope'; valid: "),
        (
            ["--tasks", "mgsm", "--langs", "de,xx"],
            "no selected task has language 'xx'; valid: mgsm: 11: bn (ben_Beng), de (deu_Latn)",
        ),
        (["--tasks", "xnli:fancy"], "no prompt variant 'fancy'; valid: sentence, label"),
        (["--tasks", "xnli@train"], "no split 'train'; valid: test, validation"),
        (["--limit", "0"], "LIMIT must be a positive number"),
        (["--limit", "-3"], "LIMIT must be a positive number"),
        (["--tasks", "mgsm", "--shots", "-1"], "SHOTS must be 0 or more"),
        (["--tasks", "mgsm", "--shots", "9"], "mgsm: SHOTS=9 but MGSM has 8 exemplars per language"),
        (["--tasks", "xnli", "--shots", "1", "--shots-from", "ja"], "task 'xnli' has no language 'ja'"),
    ],
)
def test_bad_configuration(tiny_model, data_dir, tmp_path, capsys, args, message) -> None:
    assert _eval(tiny_model, tmp_path / "out", data_dir, *args) == 2
    assert message in capsys.readouterr().err
    _assert_no_run_folder(tmp_path / "out")


def test_missing_model_path(data_dir, tmp_path, capsys) -> None:
    assert _eval(tmp_path / "no-such-model", tmp_path / "out", data_dir, "--tasks", "mgsm", "--limit", "1") == 2
    assert "no-such-model not found" in capsys.readouterr().err
    _assert_no_run_folder(tmp_path / "out")


def test_malformed_data_file_names_file_and_line(tiny_model, data_dir, tmp_path, capsys) -> None:
    broken = tmp_path / "data" / "mgsm"
    broken.mkdir(parents=True)
    lines = (data_dir / "mgsm" / "mgsm_de.tsv").read_text(encoding="utf-8").splitlines()
    lines[99] = lines[99] + "\textra"
    (broken / "mgsm_de.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    code = _eval(tiny_model, tmp_path / "out", tmp_path / "data", "--tasks", "mgsm", "--langs", "de", "--limit", "2")
    assert code == 2
    assert "mgsm_de.tsv:100: expected 2 tab-separated fields, found 3" in capsys.readouterr().err
    _assert_no_run_folder(tmp_path / "out")


def test_unwritable_output_folder(tiny_model, data_dir, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    out.write_text("a file where the results folder should be")
    assert _eval(tiny_model, out, data_dir, "--tasks", "mgsm", "--limit", "1") == 2
    assert "cannot write results under" in capsys.readouterr().err
    assert out.read_text().startswith("a file")


def test_missing_language_file_skips_that_language_only(tiny_model, data_dir, tmp_path, capsys) -> None:
    partial = tmp_path / "data" / "mgsm"
    partial.mkdir(parents=True)
    shutil.copy(data_dir / "mgsm" / "mgsm_de.tsv", partial)
    code = _eval(tiny_model, tmp_path / "out", tmp_path / "data", "--tasks", "mgsm", "--langs", "de,fr", "--limit", "2")
    assert code == 0
    (folder,) = [p for p in (tmp_path / "out").glob("*/*") if p.is_dir()]
    (task,) = json.loads((folder / "results.json").read_text())["tasks"]
    assert set(task["languages"]) == {"de"}
    assert "mgsm_fr.tsv" in task["skipped"]["fr"]
    assert "skipping mgsm/fr" in capsys.readouterr().err


def test_the_command_line_imports_no_engine_or_plotting_library_until_a_command_needs_one() -> None:
    """`xlh --help` stays well under a second: torch, transformers, vLLM and matplotlib load only in the
    commands that use them."""
    heavy = "('torch', 'transformers', 'vllm', 'matplotlib')"
    script = f"import sys, harness.cli.main; print(sorted(m for m in {heavy} if m in sys.modules))"
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"


def test_a_failing_health_summary_warns_and_keeps_the_run(tiny_model, data_dir, tmp_path, capsys, monkeypatch) -> None:
    # The results are written before the summary lines: an error there is a warning, never a failed run.
    def broken(folders):
        raise RuntimeError("detector unavailable")

    monkeypatch.setattr("harness.analysis.health.health_report", broken)
    code = _eval(tiny_model, tmp_path / "out", data_dir, "--tasks", "mgsm", "--langs", "de", "--limit", "2")
    assert code == 0
    (folder,) = [p for p in (tmp_path / "out").glob("*/*") if p.is_dir()]
    assert (folder / "results.json").is_file() and (folder / "samples.jsonl").is_file()
    captured = capsys.readouterr()
    assert "no output health summary (RuntimeError: detector unavailable)" in captured.err
    assert f"xlh health {folder}" in captured.err and f"results: {folder}" in captured.out
