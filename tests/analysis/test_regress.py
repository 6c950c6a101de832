"""The regression gate on real runs of the tiny model: identical runs pass, a candidate made worse on one
language fails, runs set up differently are refused.

The worse candidate is a copy of the candidate run folder in which the answers of one language are changed
(XNLI: the gold label made the least likely choice wherever the model had it right; FLORES-200: each
translation cut to its first word) and then rescored by the task's own ``score`` and re-aggregated by its own
metrics, so the folder is what a run of a model that answered that way would have written.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.analysis.regress import IMPROVEMENT, REGRESSION, UNCHANGED, WITHIN_TOL
from harness.api.registry import get_task
from harness.api.requests import ChoiceScores, Response
from harness.backends.base import Backend
from harness.cli.regress import main
from harness.records.io import dumps, to_jsonable
from harness.records.schema import RESULTS_FILE, SAMPLES_FILE
from harness.run.config import RunConfig
from harness.run.examples import load_examples
from harness.run.runner import run
from harness.run.sampling import limit_examples

pytestmark = pytest.mark.slow

XNLI_LANGS = ("en", "de", "fr")
XNLI_LIMIT = 60
FLORES_DIRECTION = "deu_Latn-eng_Latn"
FLORES_LIMIT = 8
FAST = ["--resamples", "2000"]  # enough resolution for 1-3 languages; keeps the gate quick


@pytest.fixture(scope="module")
def runs(
    tiny_model: Path, hf_backend: Backend, data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """Real runs: XNLI (3 languages) and FLORES-200 (one direction) twice each (the second run of each is
    answered from the session's response store, as a rerun of the same model is), and two small XNLI runs
    set up differently (1 shot; the label variant)."""
    out = tmp_path_factory.mktemp("runs")
    store = Path(os.environ["XLH_RESPONSE_CACHE"])

    def evaluate(
        tasks: tuple[str, ...], languages: tuple[str, ...], limit: int, shots: int = 0, limit_seed: int = 1234
    ) -> Path:
        config = RunConfig(
            model=str(tiny_model),
            tasks=tasks,
            languages=languages,
            limit=limit,
            limit_seed=limit_seed,
            data_dir=data_dir,
            out_dir=out,
            shots=shots,
            cache=store,
        )
        return run(config, backend=hf_backend).folder

    return {
        "xnli": evaluate(("xnli",), XNLI_LANGS, XNLI_LIMIT),
        "xnli_again": evaluate(("xnli",), XNLI_LANGS, XNLI_LIMIT),
        "flores": evaluate(("flores200",), (FLORES_DIRECTION,), FLORES_LIMIT),
        "flores_again": evaluate(("flores200",), (FLORES_DIRECTION,), FLORES_LIMIT),
        "xnli_1shot": evaluate(("xnli",), ("en",), 6, shots=1),
        "xnli_label": evaluate(("xnli:label",), ("en",), 6),
        "xnli_seed7": evaluate(("xnli",), ("en",), 6, limit_seed=7),
    }


def _rescored_copy(
    folder: Path,
    destination: Path,
    task_name: str,
    language_code: str,
    data_dir: Path,
    change: Callable[[list[Response], Any], list[Response]],
) -> Path:
    """A copy of a run folder whose responses for one task and language are ``change(responses, example)``,
    rescored with the task's ``score`` and re-aggregated with its ``metrics``."""
    shutil.copytree(folder, destination)
    result = json.loads((destination / RESULTS_FILE).read_text())
    (entry,) = [task for task in result["tasks"] if task["name"] == task_name]
    task = get_task(task_name)
    language = task.language(language_code)
    examples = {example.id: example for example in load_examples(task, language, entry["split"], data_dir)[0]}
    records = [json.loads(line) for line in (destination / SAMPLES_FILE).read_text().splitlines()]
    scored = []
    for record in records:
        if (record["task"], record["language"]) != (task_name, language.code):
            continue
        responses = [ChoiceScores(**r) if isinstance(r, dict) else r for r in record["responses"]]
        example = examples[record["id"]]
        responses = change(responses, example)
        score = task.score(example, language, record["variant"], responses)
        record.update(
            responses=to_jsonable(responses),
            extracted=score.extracted,
            gold=score.gold,
            scores=score.scores,
            details=score.details,
        )
        scored.append(score)
    assert scored, f"no sample of {task_name}/{language.code} in {folder}"
    metrics = {metric.name: metric.aggregate(scored) for metric in task.metrics(entry["variant"])}
    entry["languages"][language.code]["metrics"] = to_jsonable(metrics)
    (destination / SAMPLES_FILE).write_text("".join(dumps(record) + "\n" for record in records))
    (destination / RESULTS_FILE).write_text(json.dumps(result, indent=2))
    return destination


def _gold_made_least_likely(responses: list[Response], example: Any) -> list[Response]:
    """The gold label swapped with the least likely one: an item the model had right becomes wrong."""
    (scores,) = responses
    assert isinstance(scores, ChoiceScores)
    lls = list(scores.loglikelihoods)
    gold, worst = example.label, lls.index(min(lls))
    lls[gold], lls[worst] = lls[worst], lls[gold]
    if gold == worst:  # already least likely: wrong already (three choices)
        return responses
    return [ChoiceScores(tuple(lls), scores.token_counts, scores.is_greedy)]


def _first_word(responses: list[Response], example: Any) -> list[Response]:
    (text,) = responses
    assert isinstance(text, str)
    return [" ".join(text.split()[:1])]


def _gate(tmp_path: Path, baseline: Path, candidate: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    report = tmp_path / "report.json"
    code = main(["--baseline", str(baseline), "--candidate", str(candidate), "--report", str(report), *FAST, *extra])
    return code, json.loads(report.read_text())


def _cells(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {cell["language"]: cell for cell in report["cells"]}


def test_identical_runs_pass(runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for baseline, candidate in (("xnli", "xnli_again"), ("flores", "flores_again")):
        code, report = _gate(tmp_path, runs[baseline], runs[candidate], "--all-metrics")
        assert code == 0 and report["exit_code"] == 0 and report["regressions"] == 0
        assert report["candidate"]["run_id"] == runs[candidate].name
        assert {cell["verdict"] for cell in report["cells"]} == {UNCHANGED}
        assert all(cell["delta"] == 0 and cell["p_value"] == 1 for cell in report["cells"])
    xnli_code, xnli = _gate(tmp_path, runs["xnli"], runs["xnli_again"])
    assert xnli_code == 0
    assert {(c["language"], c["metric"], c["test"], c["n"]) for c in xnli["cells"]} == {
        (code, "acc", "mcnemar_exact", XNLI_LIMIT) for code in XNLI_LANGS
    }
    assert "PASS" in capsys.readouterr().out


def test_a_candidate_worse_in_one_language_fails(
    runs: dict[str, Path], data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    worse = _rescored_copy(runs["xnli_again"], tmp_path / "worse", "xnli", "de", data_dir, _gold_made_least_likely)
    code, report = _gate(tmp_path, runs["xnli"], worse)
    cells = _cells(report)
    assert code == 1 and report["exit_code"] == 1 and report["regressions"] == 1
    german = cells["de"]
    baseline_right = round(german["baseline"] * XNLI_LIMIT / 100)
    assert baseline_right > 5  # the tiny model gets some right: those are the flipped items
    assert german["candidate"] == 0 and german["discordant"] == [baseline_right, 0]
    assert german["verdict"] == REGRESSION and german["p_holm"] <= 0.05
    assert german["p_value"] == pytest.approx(2 * 0.5**baseline_right)
    assert german["ci_high"] < 0
    assert cells["en"]["verdict"] == cells["fr"]["verdict"] == UNCHANGED
    out = capsys.readouterr().out
    assert "FAIL" in out and "regression" in out

    # The same drop within a tolerance larger than it: reported, not failed.
    tolerant, report = _gate(tmp_path, runs["xnli"], worse, "--tol", str(german["baseline"] + 1))
    assert tolerant == 0 and _cells(report)["de"]["verdict"] == WITHIN_TOL
    # Swapped around, the same change is an improvement.
    better, report = _gate(tmp_path, worse, runs["xnli"])
    assert better == 0 and _cells(report)["de"]["verdict"] == IMPROVEMENT and report["improvements"] == 1


def test_a_worse_translation_candidate_fails_by_bootstrap(
    runs: dict[str, Path], data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    worse = _rescored_copy(
        runs["flores_again"], tmp_path / "worse", "flores200", FLORES_DIRECTION, data_dir, _first_word
    )
    code, report = _gate(tmp_path, runs["flores"], worse)
    (cell,) = report["cells"]
    assert code == 1 and cell["metric"] == "chrf++" and cell["test"] == "paired_bootstrap"
    assert cell["verdict"] == REGRESSION and cell["delta"] < 0 and cell["ci_high"] < 0
    assert cell["p_value"] == pytest.approx(1 / 2001)  # no resample reaches the null

    # Too few resamples to ever reach alpha: a gate that cannot fail is refused, not passed.
    assert main(["--baseline", str(runs["flores"]), "--candidate", str(worse), "--resamples", "10"]) == 2
    assert "use --resamples 20 or more" in capsys.readouterr().err


def test_runs_set_up_differently_are_refused(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = _gate(tmp_path, runs["xnli"], runs["xnli_1shot"])
    assert code == 2 and report["exit_code"] == 2 and report["cells"] == []
    assert "xnli: shots: 0 vs 1" in report["refused"]  # comparability.setting_differences, baseline vs candidate
    assert "not comparable" in capsys.readouterr().err

    code, report = _gate(tmp_path, runs["xnli"], runs["xnli_label"])
    assert code == 2
    assert report["refused"] == ["xnli: baseline ran xnli:sentence@test, candidate xnli:label@test"]
    assert "xnli:label@test" in capsys.readouterr().err

    code, report = _gate(tmp_path, runs["xnli"], runs["flores"])
    assert code == 2 and report["refused"] == ["no task in common"]

    # The same LIMIT drawn with another seed evaluated other items.
    code, report = _gate(tmp_path, runs["xnli"], runs["xnli_seed7"])
    assert code == 2
    assert report["refused"] == ["xnli: sampling: seed 1234 vs seed 7"]


def test_other_data_or_edited_samples_are_refused(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other_data = tmp_path / "other-data"
    shutil.copytree(runs["xnli_again"], other_data)
    result = json.loads((other_data / RESULTS_FILE).read_text())
    files = result["tasks"][0]["languages"]["fr"]["data"]["files"]
    first = next(iter(files))
    files[first] = "0" * 64
    (other_data / RESULTS_FILE).write_text(json.dumps(result))
    code, report = _gate(tmp_path, runs["xnli"], other_data)
    assert code == 2 and report["refused"] == ["xnli/fr: data files (SHA-256) differ"]

    edited = tmp_path / "edited"
    shutil.copytree(runs["xnli_again"], edited)
    records = [json.loads(line) for line in (edited / SAMPLES_FILE).read_text().splitlines()]
    target = next(r for r in records if r["language"] == "en" and r["scores"]["acc"] == 0.0)
    target["scores"]["acc"] = 1.0  # a score changed without re-aggregating results.json
    (edited / SAMPLES_FILE).write_text("".join(json.dumps(r) + "\n" for r in records))
    capsys.readouterr()
    code, report = _gate(tmp_path, runs["xnli"], edited)
    assert code == 2 and report["exit_code"] == 2
    assert "samples.jsonl does not reproduce results.json: xnli/en acc" in report["refused"][0]
    assert "samples.jsonl does not reproduce results.json: xnli/en acc" in capsys.readouterr().err

    assert _gate(tmp_path, runs["xnli"], runs["xnli_again"])[0] == 0  # a passing report, then an unreadable run:
    code, report = _gate(tmp_path, runs["xnli"], tmp_path / "nowhere")  # the report must not stay "passed"
    assert code == report["exit_code"] == 2 and "not a run folder" in report["refused"][0]
    assert "not a run folder" in capsys.readouterr().err


def test_a_smaller_candidate_is_compared_on_the_shared_items(runs: dict[str, Path], tmp_path: Path, data_dir) -> None:
    """A candidate with a smaller LIMIT (a copy keeping LIMIT 30's items of each language, re-aggregated: a
    subset of LIMIT 60's, as samples are nested)."""
    smaller = tmp_path / "smaller"
    shutil.copytree(runs["xnli_again"], smaller)
    records = [json.loads(line) for line in (smaller / SAMPLES_FILE).read_text().splitlines()]
    xnli = get_task("xnli")
    examples = xnli.load_local(data_dir, xnli.language("en"), "test")
    sample = {e.id for e in limit_examples(examples, 30, "sample", 1234, "xnli", xnli.stratum)}  # LIMIT 30's items
    kept = [r for r in records if r["id"] in sample]
    (smaller / SAMPLES_FILE).write_text("".join(json.dumps(r) + "\n" for r in kept))
    result = json.loads((smaller / RESULTS_FILE).read_text())
    from harness.api.metric import SampleScore

    task = result["tasks"][0]
    task["limit"] = 30
    for code, entry in task["languages"].items():
        scores = [SampleScore(r["extracted"], r["gold"], r["scores"]) for r in kept if r["language"] == code]
        entry["n"] = len(scores)
        metrics = {m.name: m.aggregate(scores) for m in get_task("xnli").metrics(task["variant"])}
        entry["metrics"] = to_jsonable(metrics)
    (smaller / RESULTS_FILE).write_text(json.dumps(result))
    code, report = _gate(tmp_path, runs["xnli"], smaller)
    assert code == 0 and {cell["n"] for cell in report["cells"]} == {30}
    assert "xnli: LIMIT 60 (baseline) vs 30 (candidate): shared items only" in report["notes"]
    assert all(cell["delta"] == 0 for cell in report["cells"])
