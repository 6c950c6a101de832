"""Which study models still need a run, on the stored runs of tests/fixtures (fast: no model runs): a run is a
study model's when it is the plain model (no adapter, chat template or server), complete when its setting is
the selection's and, with a data folder, when it read the data files as they are now."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from harness.analysis import study_runs as studies
from harness.analysis.study import Study, StudyEval, parse_study
from harness.analysis.study_runs import missing_results, runs_of
from harness.api.registry import get_task
from harness.records.io import StoredRun, iter_runs, read_run, run_folders
from tests.fixtures import FIXTURE, RUNS_ROOT

LANGS = ("eng_Latn", "deu_Latn", "swh_Latn")
SIB = StudyEval(tasks=("sib200",), langs=LANGS)


def _study() -> Study:
    document = {
        "name": "fixtures",
        "models": [
            {"name": "base", "model": "/data/ckpt/base", "role": "base"},
            {"name": "merged", "model": "/data/ckpt/merged", "role": "merged", "parents": ["base"]},
            {"name": "other", "model": "/data/other/base", "role": "expert", "parents": ["base"]},
        ],
        "eval": {"tasks": ["sib200"], "langs": list(LANGS)},
    }
    return parse_study(document, Path("fixtures.yaml"))


@pytest.fixture(scope="module")
def runs() -> list[StoredRun]:
    return list(iter_runs(RUNS_ROOT))


def _ids(found: list[StoredRun]) -> list[str]:
    return sorted(stored.folder.name for stored in found)


def _run_ids(*shorts: str) -> list[str]:
    return sorted(FIXTURE[short].run_id for short in shorts)


def test_runs_of_a_model_as_named_are_its_plain_runs(runs: list[StoredRun]) -> None:
    """The folders are not here: runs are matched by the name as given; the LoRA, chat and served runs of the
    base name it too, but are other models; the other checkpoint is another folder."""
    study = _study()
    plain = ("base", "base_sampled", "base_full_fp", "base_limit", "base_schema3")
    assert _ids(runs_of(study.model("base"), runs)) == _run_ids(*plain)
    assert _ids(runs_of(study.model("merged"), runs)) == _run_ids("merged", "merged_rerun")
    assert _ids(runs_of(study.model("other"), runs)) == _run_ids("other_base")


def test_runs_of_a_model_folder_are_those_of_its_current_fingerprint(
    runs: list[StoredRun], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder that exists is matched by its current (sampled) fingerprint, whatever its name: the
    --full-fingerprint run records the same one, so it is found."""
    base = next(stored for stored in runs if stored.folder.name == FIXTURE["base"].run_id)
    fingerprint = base.result.model.fingerprint
    monkeypatch.setattr(studies, "model_identity", lambda model: ("/elsewhere/base", "/elsewhere/base", fingerprint))
    found = _ids(runs_of(_study().model("other"), runs))  # named like another model, with the base's weights
    assert found == _run_ids("base", "base_sampled", "base_full_fp", "base_limit", "base_schema3")


def test_complete_means_the_selected_setting_and_languages() -> None:
    study = _study()
    assert missing_results(study, RUNS_ROOT) == []  # every model ran sib200 on these three languages
    every = StudyEval(tasks=("sib200",), langs=(*LANGS, "fra_Latn"))
    assert [m.name for m in missing_results(study, RUNS_ROOT, every)] == ["other"]
    seeded = StudyEval(tasks=("sib200",), langs=LANGS, limit=6)  # base_limit: seed 1234, the default
    assert [m.name for m in missing_results(study, RUNS_ROOT, seeded)] == ["merged", "other"]
    first = StudyEval(tasks=("sib200",), langs=LANGS, limit=6, limit_mode="first")  # base_schema3
    assert [m.name for m in missing_results(study, RUNS_ROOT, first)] == ["merged", "other"]
    other_seed = StudyEval(tasks=("sib200",), langs=LANGS, limit=6, limit_seed=7)
    assert [m.name for m in missing_results(study, RUNS_ROOT, other_seed)] == ["base", "merged", "other"]
    shots = StudyEval(tasks=("sib200",), langs=LANGS, shots=5)
    assert [m.name for m in missing_results(study, RUNS_ROOT, shots)] == ["base", "merged", "other"]


def test_a_sampled_run_is_not_complete_greedy_results(tmp_path: Path) -> None:
    """The base's only run in the folder was sampled (temperature 0.7): ``make eval STUDY=`` decodes greedily
    and must evaluate the base again; asked for the same sampling, the sampled run is complete."""
    source = RUNS_ROOT / FIXTURE["base_sampled"].slug / FIXTURE["base_sampled"].run_id
    shutil.copytree(source, tmp_path / "base" / source.name)
    study = Study(tmp_path / "s.yaml", "s", (_study().model("base"),), SIB)
    selection = StudyEval(tasks=("sib200",), langs=LANGS)
    assert [m.name for m in missing_results(study, tmp_path, selection)] == ["base"]
    sampled = read_run(source).generation
    assert missing_results(study, tmp_path, selection, generation=sampled) == []
    other_seed = dataclasses.replace(sampled, seed=sampled.seed + 1)
    assert [m.name for m in missing_results(study, tmp_path, selection, generation=other_seed)] == ["base"]


def _data_folder(root: Path) -> Path:
    """A data folder with sib200's test files for LANGS (any bytes: the runs' hashes are set to match)."""
    task = get_task("sib200")
    for code in LANGS:
        for path in task.local_files(root, task.language(code), "test"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"{code} {path.name}\n", encoding="utf-8")
    return root


def _run_on(data_dir: Path, results: Path) -> Path:
    """The merged run, copied under ``results`` with the SHA-256 of ``data_dir``'s files recorded."""
    task = get_task("sib200")
    source = RUNS_ROOT / FIXTURE["merged_rerun"].slug / FIXTURE["merged_rerun"].run_id
    folder = shutil.copytree(source, results / "merged" / source.name)
    document = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    (sib,) = [entry for entry in document["tasks"] if entry["name"] == "sib200"]
    for code in LANGS:
        files = task.local_files(data_dir, task.language(code), "test")
        sib["languages"][code]["data"]["files"] = {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    (folder / "results.json").write_text(json.dumps(document), encoding="utf-8")
    return folder


def test_a_run_on_other_data_is_not_complete(tmp_path: Path) -> None:
    study = Study(tmp_path / "s.yaml", "s", (_study().model("merged"),), SIB)
    data_dir = _data_folder(tmp_path / "data")
    results = tmp_path / "results"
    _run_on(data_dir, results)
    assert missing_results(study, results, data_dir=data_dir) == []
    assert missing_results(study, RUNS_ROOT, data_dir=data_dir) == list(study.models)  # the fixtures' own data
    german = get_task("sib200").local_files(data_dir, get_task("sib200").language("deu_Latn"), "test")[0]
    german.write_text("edited\n", encoding="utf-8")  # the data changed since the run
    assert missing_results(study, results, data_dir=data_dir) == list(study.models)
    assert missing_results(study, results) == []  # without a data folder, only the setting is checked
    german.unlink()  # a file the run read is gone
    assert missing_results(study, results, data_dir=data_dir) == list(study.models)


def test_run_folders_skips_staged_runs(tmp_path: Path) -> None:
    shutil.copytree(RUNS_ROOT / "merged", tmp_path / "merged")
    shutil.copytree(tmp_path / "merged" / FIXTURE["merged"].run_id, tmp_path / "merged" / ".x.partial")
    assert [folder.name for folder in run_folders(tmp_path)] == _run_ids("merged", "merged_rerun")
    assert run_folders(tmp_path / "missing") == []
