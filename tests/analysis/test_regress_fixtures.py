"""``xlh regress`` on the stored fixture runs (``tests/fixtures``): fast, no model. The regression of the newer
merged run is flagged where it is and nowhere else; another model in the same setting is compared and named;
another setting is refused with every difference; old and malformed runs are read as ``records.io`` reads them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from harness.analysis.regress import (
    IMPROVEMENT,
    REGRESSION,
    REPORT_SCHEMA_VERSION,
    UNCHANGED,
    WITHIN_TOL,
    NotComparable,
    compare,
)
from harness.analysis.regress_report import BOOTSTRAP, MCNEMAR
from harness.api.metric import SampleScore
from harness.api.registry import get_task
from harness.cli.regress import main
from harness.records.io import read_run
from harness.records.schema import RESULTS_FILE, SAMPLES_FILE
from tests.fixtures import BAD_RUNS, FIXTURE_RUNS, REGRESSED_LANGUAGE

FAST = ["--resamples", "2000"]  # resolution enough for Holm over 5 languages


def _gate(tmp_path: Path, baseline: str | Path, candidate: str | Path, *extra: str) -> tuple[int, dict[str, Any]]:
    folders = [FIXTURE_RUNS[run] if isinstance(run, str) else run for run in (baseline, candidate)]
    report = tmp_path / "report.json"
    argv = ["--baseline", str(folders[0]), "--candidate", str(folders[1]), "--report", str(report), *FAST, *extra]
    return main(argv), json.loads(report.read_text())


def _copy(name: str, destination: Path) -> tuple[Path, dict[str, Any]]:
    """A copy of a fixture run and its results.json as plain JSON, to be edited and written back."""
    shutil.copytree(FIXTURE_RUNS[name], destination)
    return destination, json.loads((destination / RESULTS_FILE).read_text())


def test_the_newer_merged_run_regresses_in_one_language(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = _gate(tmp_path, "merged", "merged_rerun")
    assert code == report["exit_code"] == 1 and report["schema_version"] == REPORT_SCHEMA_VERSION
    regressions = [cell for cell in report["cells"] if cell["verdict"] == REGRESSION]
    assert regressions and report["regressions"] == len(regressions)
    assert all(REGRESSED_LANGUAGE in cell["language"] for cell in regressions)
    assert all(cell["delta"] < 0 and cell["ci_high"] < 0 for cell in regressions)
    cells = {(cell["task"], cell["language"]): cell for cell in report["cells"]}
    assert cells["flores200", f"eng_Latn-{REGRESSED_LANGUAGE}"]["test"] == BOOTSTRAP
    sib = cells["sib200", REGRESSED_LANGUAGE]  # 9/12 -> 2/12: seven items lost, McNemar on the pairs
    assert sib["test"] == MCNEMAR and sib["discordant"] == [7, 0] and sib["n"] == 12
    assert sib["delta"] == pytest.approx(-700 / 12) and sib["p_value"] == pytest.approx(2 * 0.5**7)
    assert cells["sib200", "fra_Latn"]["discordant"] == [1, 0]  # one item fewer: not significant
    assert {cell["verdict"] for key, cell in cells.items() if REGRESSED_LANGUAGE not in key[1]} == {UNCHANGED}
    # The same weights and setting: the same model, reported as such.
    assert report["baseline"]["identity"] == report["candidate"]["identity"]
    assert report["baseline"]["identity"]["adapter"] is None
    out = capsys.readouterr().out
    assert "the same model in both runs" in out and "FAIL" in out

    tolerated, report = _gate(tmp_path, "merged", "merged_rerun", "--tol", "99")
    assert tolerated == 0 and {c["verdict"] for c in report["cells"] if c["verdict"] != UNCHANGED} == {WITHIN_TOL}
    swapped, report = _gate(tmp_path, "merged_rerun", "merged")
    assert swapped == 0 and report["improvements"] >= 1
    assert {c["verdict"] for c in report["cells"]} <= {IMPROVEMENT, UNCHANGED}


def test_a_run_compared_with_itself_is_unchanged(tmp_path: Path) -> None:
    code, report = _gate(tmp_path, "merged", "merged", "--all-metrics")
    assert code == 0 and report["regressions"] == report["improvements"] == 0
    assert {cell["verdict"] for cell in report["cells"]} == {UNCHANGED}
    assert all(cell["delta"] == 0 and cell["p_value"] == 1 for cell in report["cells"])
    tested = {(cell["task"], cell["metric"], cell["test"]) for cell in report["cells"]}
    assert tested == {
        ("sib200", "acc", MCNEMAR),
        ("sib200", "acc_norm", MCNEMAR),
        ("sib200", "macro_f1", BOOTSTRAP),
        ("sib200", "f1_weighted", BOOTSTRAP),
        ("flores200", "chrf++", BOOTSTRAP),
        ("flores200", "bleu", BOOTSTRAP),
    }
    assert report["notes"] == []


@pytest.mark.parametrize(
    ("candidate", "differs"),
    [
        ("base_lora", {"adapter"}),
        ("base_chat", {"chat_template"}),
        ("other_base", {"weights"}),
        ("base_full_fp", set()),  # the same model, fingerprinted in full
    ],
)
def test_another_model_in_the_same_setting_is_compared_and_named(
    tmp_path: Path, candidate: str, differs: set[str]
) -> None:
    code, report = _gate(tmp_path, "base", candidate)
    assert code in (0, 1) and report["cells"] and not report["refused"]
    base, other = report["baseline"]["identity"], report["candidate"]["identity"]
    assert {field for field in base if base[field] != other[field]} == differs
    assert all(cell["n"] == 12 for cell in report["cells"])


def test_backend_options_that_differ_are_noted(tmp_path: Path) -> None:
    _, report = _gate(tmp_path, "base", "base_lora")
    assert "backend option lora_path: None (baseline) vs '/data/adapters/swahili-lora' (candidate)" in report["notes"]
    assert "flores200:default@devtest is only in the baseline: not compared" in report["notes"]


@pytest.mark.parametrize(
    ("baseline", "candidate", "refused"),
    [
        ("base", "base_sampled", ["sib200: temperature: 0.0 vs 0.7", "sib200: seed: None vs 1234",
                                  "flores200: temperature: 0.0 vs 0.7", "flores200: seed: None vs 1234"]),
        ("base", "base_openai", ["sib200: dtype: bfloat16 vs server"]),
        ("base", "base_limit", ["sib200: sampling: all vs seed 1234", "flores200: sampling: all vs seed 1234"]),
        ("base_limit", "base", ["sib200: sampling: seed 1234 vs all", "flores200: sampling: seed 1234 vs all"]),
        ("base_schema3", "base", ["sib200: sampling: first vs all", "flores200: sampling: first vs all"]),
    ],
)  # fmt: skip
def test_another_setting_is_refused_with_every_difference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], baseline: str, candidate: str, refused: list[str]
) -> None:
    code, report = _gate(tmp_path, baseline, candidate)
    assert code == report["exit_code"] == 2 and report["cells"] == []
    assert report["refused"] == refused
    assert report["candidate"]["identity"] is not None  # both runs were read: the refusal names the models
    err = capsys.readouterr().err
    assert "runs are not comparable (each line: baseline vs candidate)" in err and refused[0] in err


def test_other_data_metric_signatures_and_gold_answers_are_refused(tmp_path: Path) -> None:
    other, result = _copy("base", tmp_path / "other")
    sib = result["tasks"][0]
    files = sib["languages"]["deu_Latn"]["data"]["files"]
    files[next(iter(files))] = "0" * 64
    sib["languages"]["eng_Latn"]["metrics"]["acc"]["signature"] = "acc|agg:median|n:12"
    (other / RESULTS_FILE).write_text(json.dumps(result))
    with pytest.raises(NotComparable) as refused:
        compare(FIXTURE_RUNS["base"], other)
    assert refused.value.differences == [
        # One language computed otherwise: the candidate's setting shows both of its signatures.
        "sib200: metric acc: acc|agg:mean|stderr:sample_std_ddof1/sqrt(n) vs "
        "acc|agg:mean|stderr:sample_std_ddof1/sqrt(n) ; acc|agg:median",
        "sib200/deu_Latn: data files (SHA-256) differ",
    ]

    gold, _ = _copy("base", tmp_path / "gold")
    records = [json.loads(line) for line in (gold / SAMPLES_FILE).read_text().splitlines()]
    first = next(r for r in records if (r["task"], r["language"]) == ("sib200", "fra_Latn"))
    first["gold"] = "sports" if first["gold"] != "sports" else "travel"
    (gold / SAMPLES_FILE).write_text("".join(json.dumps(r) + "\n" for r in records))
    with pytest.raises(NotComparable) as refused:
        compare(FIXTURE_RUNS["base"], gold)
    expected = f"sib200/fra_Latn: gold answers differ on 1 shared items (first: item {first['id']})"
    assert refused.value.differences == [expected]


def test_samples_that_do_not_reproduce_the_results_are_refused(tmp_path: Path) -> None:
    edited, _ = _copy("merged", tmp_path / "edited")
    records = [json.loads(line) for line in (edited / SAMPLES_FILE).read_text().splitlines()]
    wrong = next(r for r in records if r["task"] == "sib200" and r["scores"]["acc"] == 0.0)
    wrong["scores"]["acc"] = 1.0
    (edited / SAMPLES_FILE).write_text("".join(json.dumps(r) + "\n" for r in records))
    code, report = _gate(tmp_path, "merged", edited)
    assert code == report["exit_code"] == 2
    assert f"samples.jsonl does not reproduce results.json: sib200/{wrong['language']} acc" in report["refused"][0]


def test_a_smaller_seeded_limit_is_compared_on_the_shared_items(tmp_path: Path) -> None:
    """The same seeded LIMIT cut to 3 items of each language (and the results re-aggregated): the items are
    a subset of LIMIT 6's, so the two are compared on them."""
    smaller, result = _copy("base_limit", tmp_path / "smaller")
    records = [json.loads(line) for line in (smaller / SAMPLES_FILE).read_text().splitlines()]
    kept: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for record in records:
        group = kept.setdefault((record["task"], record["language"]), [])
        if len(group) < 3:
            group.append(record)
    (smaller / SAMPLES_FILE).write_text("".join(json.dumps(r) + "\n" for group in kept.values() for r in group))
    for task in result["tasks"]:
        task["limit"] = 3
        metrics = {metric.name: metric for metric in get_task(task["name"]).metrics(task["variant"])}
        for code, entry in task["languages"].items():
            scored = [SampleScore(r["extracted"], r["gold"], r["scores"]) for r in kept[task["name"], code]]
            entry["n"] = len(scored)
            for name, stored in entry["metrics"].items():
                stored["value"] = metrics[name].aggregate(scored).value
    (smaller / RESULTS_FILE).write_text(json.dumps(result))
    code, report = _gate(tmp_path, "base_limit", smaller, "--all-metrics")
    assert code == 0 and {cell["n"] for cell in report["cells"]} == {3}
    assert all(cell["delta"] == 0 for cell in report["cells"])
    assert "sib200: LIMIT 6 (baseline) vs 3 (candidate): shared items only" in report["notes"]


def test_a_schema_3_run_is_read_and_compared_with_itself(tmp_path: Path) -> None:
    assert read_run(FIXTURE_RUNS["base_schema3"]).schema_version == 3
    code, report = _gate(tmp_path, "base_schema3", "base_schema3")
    assert code == 0 and report["cells"] and {cell["n"] for cell in report["cells"]} == {6}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("schema99", "written by a newer xlh"),
        ("not_json", "not valid JSON"),
        ("missing_field", "missing field 'model.fingerprint'"),
    ],
)
def test_a_malformed_run_is_refused_with_its_reader_s_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: str, message: str
) -> None:
    code, report = _gate(tmp_path, "base", BAD_RUNS[bad])
    assert code == report["exit_code"] == 2 and message in report["refused"][0]
    assert report["candidate"]["identity"] is None and report["candidate"]["path"] == str(BAD_RUNS[bad])
    assert message in capsys.readouterr().err
