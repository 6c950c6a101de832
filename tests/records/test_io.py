"""The one reader and writer of run folders (``harness.records.io``), on the stored runs of tests/fixtures."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest

from harness.api.registry import get_task
from harness.errors import DataError
from harness.records.comparability import Setting, task_sampling
from harness.records.io import (
    RunFolder,
    iter_runs,
    read_run,
    read_sample_scores,
    run_folders,
    task_samples,
    to_jsonable,
)
from harness.records.schema import SAMPLES_FILE, SCHEMA_VERSION, DataInfo, Recipe, RunResult, SampleRecord
from tests.fixtures import BAD_RUNS, FIXTURE, FIXTURE_RUNS, ITEM_COUNT, MISSING_FIELD, RUNS_ROOT
from tests.fixtures.texts import ITEMS


@pytest.mark.parametrize("short", sorted(FIXTURE_RUNS))
def test_every_fixture_reads(short: str) -> None:
    run = read_run(FIXTURE_RUNS[short])
    assert run.run_id == FIXTURE[short].run_id == FIXTURE_RUNS[short].name
    assert run.created_at == FIXTURE[short].created_at
    assert [task.name for task in run.tasks][0] == "sib200"
    for task in run.tasks:
        assert task.languages, f"{short}: {task.name} has no languages"
        for language in task.languages.values():
            assert language.n == (task.limit or ITEM_COUNT)
            assert set(language.metrics) == set(task.metrics)


def test_iter_runs_finds_every_fixture_and_nothing_else() -> None:
    found = {folder: run for folder, run in iter_runs(RUNS_ROOT)}
    assert set(found) == set(FIXTURE_RUNS.values())
    assert run_folders(FIXTURE_RUNS["base"]) == [FIXTURE_RUNS["base"]]


@pytest.mark.parametrize("short", ["base", "merged_rerun", "base_sampled", "base_limit", "base_schema3"])
def test_results_agree_with_their_samples(short: str) -> None:
    """Every stored metric is what the task's metric computes from the run's samples."""
    folder = FIXTURE_RUNS[short]
    run = read_run(folder)
    groups = read_sample_scores(folder / SAMPLES_FILE)
    for task in run.tasks:
        metrics = {metric.name: metric for metric in get_task(task.name).metrics(task.variant)}
        for code, language in task.languages.items():
            items = task_samples(groups, run, task, code)
            assert items is not None and len(items) == language.n
            if language.data.sample_ids is not None:
                assert list(items) == language.data.sample_ids
            for name, stored in language.metrics.items():
                again = metrics[name].aggregate(list(items.values()))
                assert again.value == pytest.approx(stored.value), f"{short} {task.name} {code} {name}"
                assert again.signature == stored.signature


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("schema99", "results schema 99 was written by a newer xlh"),
        ("not_json", "not valid JSON"),
        ("missing_field", f"missing field {MISSING_FIELD!r}"),
    ],
)
def test_malformed_results_raise_data_error_naming_the_file(bad: str, message: str) -> None:
    file = BAD_RUNS[bad] / "results.json"
    with pytest.raises(DataError) as caught:
        read_run(BAD_RUNS[bad])
    assert str(file) in str(caught.value)
    assert message in str(caught.value)
    assert caught.value.path == file


def test_a_missing_results_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read results"):
        read_run(tmp_path / "results.json")


@pytest.mark.parametrize("document", [[], {"schema_version": "4"}, {"schema_version": True}, {"schema_version": 0}])
def test_documents_that_are_not_results_are_refused(tmp_path: Path, document: object) -> None:
    (tmp_path / "results.json").write_text(json.dumps(document))
    with pytest.raises(DataError, match="results"):
        read_run(tmp_path)


def test_a_field_of_the_wrong_type_is_named(tmp_path: Path) -> None:
    document = json.loads((FIXTURE_RUNS["base"] / "results.json").read_text())
    document["tasks"][0]["languages"]["deu_Latn"]["n"] = "twelve"
    (tmp_path / "results.json").write_text(json.dumps(document))
    with pytest.raises(DataError, match=r"tasks\[0\]\.languages\.deu_Latn\.n: expected int"):
        read_run(tmp_path)


def test_the_schema3_run_reads_as_first_n_items() -> None:
    folder = FIXTURE_RUNS["base_schema3"]
    assert json.loads((folder / "results.json").read_text())["schema_version"] == 3
    run = read_run(folder)
    for task in run.tasks:
        assert (task.limit, task.limit_mode, task.limit_seed, task.limit_sampler) == (6, "first", None, None)
        assert task_sampling(task) == "first"
        for language in task.languages.values():
            assert (language.truncated, language.length_capped, language.data.sample_ids) == (0, 0, None)
    assert run.model.full_fingerprint is None
    groups = read_sample_scores(folder / SAMPLES_FILE)
    assert {split for _, _, split, _ in groups} == {None}  # written before samples had a split
    sib = run.tasks[0]
    first_six = [str(index) for index, _ in ITEMS[:6]]
    assert list(task_samples(groups, run, sib, "deu_Latn") or {}) == first_six


@pytest.mark.parametrize("schema", [1, 2])
def test_schema_1_and_2_runs_read_without_the_fields_they_did_not_have(tmp_path: Path, schema: int) -> None:
    """Schema 2 added the few-shot fields, schema 3 the lineage: a file written before them reads with None."""
    document = json.loads((FIXTURE_RUNS["base_schema3"] / "results.json").read_text(encoding="utf-8"))
    document["schema_version"] = schema
    for key in ("display_name", "study", "recipe"):
        document.pop(key, None)
    if schema == 1:
        for task in document["tasks"]:
            task.pop("shot_seed", None)
            task.pop("shots_from", None)
            for language in task["languages"].values():
                language["data"].pop("shot_pool", None)
    (tmp_path / "results.json").write_text(json.dumps(document), encoding="utf-8")
    run = read_run(tmp_path)
    assert run.schema_version == schema and run.display_name is None and run.recipe is None
    assert all(task.limit_mode == "first" for task in run.tasks if task.limit is not None)
    if schema == 1:
        assert all(task.shots_from is None and task.shot_seed is None for task in run.tasks)


def test_the_schema3_limit_is_another_setting_than_the_seeded_one() -> None:
    old, seeded = read_run(FIXTURE_RUNS["base_schema3"]), read_run(FIXTURE_RUNS["base_limit"])
    assert Setting.of(old, old.tasks[0]).sampling == "first"
    assert Setting.of(seeded, seeded.tasks[0]).sampling == "seed 1234"


def _rich(run: RunResult) -> RunResult:
    """``run`` with every optional part of the records filled in: a recipe, an adapter, a full fingerprint,
    Hub data with a few-shot pool, skipped languages, notes."""
    task = run.tasks[0]
    english = task.languages["eng_Latn"]
    pool = DataInfo("local", "train", {"pool.tsv": "ab" * 32}, total_examples=701, language="eng_Latn")
    hub = {"path": "Davlan/sib200", "name": "eng_Latn", "split": "test", "revision": "abc", "fingerprint": None}
    data = DataInfo("hub", "test", {}, hub, 204, None, pool, ["14", "31"])
    language = dataclasses.replace(english, data=data, truncated=2, length_capped=1)
    task = dataclasses.replace(task, shots=5, shot_seed=7, shots_from="eng_Latn", languages={"eng_Latn": language},
                               skipped={"fra_Latn": "data file not found"}, notes=["a note"])  # fmt: skip
    model = dataclasses.replace(run.model, adapter="/a", adapter_fingerprint="cd" * 32, full_fingerprint="ef" * 32)
    return dataclasses.replace(run, model=model, recipe=Recipe.from_text("swap"), tasks=[task], parents=["x", "y"])


@pytest.mark.parametrize("short", ["base", "base_sampled", "base_limit", "base_openai"])
def test_a_run_result_round_trips(tmp_path: Path, short: str) -> None:
    original = _rich(read_run(FIXTURE_RUNS[short]))
    sample = SampleRecord("sib200", "prompt_1", "test", "eng_Latn", "14", [], [], "travel", "travel", {"acc": 1.0})
    folder = RunFolder(tmp_path, "model", original.run_id)
    folder.write(original, [sample])
    written = folder.commit()
    again = read_run(written)
    assert again == original
    assert to_jsonable(again) == to_jsonable(original)
    assert again.schema_version == SCHEMA_VERSION
    groups = read_sample_scores(written / SAMPLES_FILE)
    assert groups[("sib200", "prompt_1", "test", "eng_Latn")]["14"].scores == {"acc": 1.0}


def test_nan_values_are_written_as_null_and_read_as_nan(tmp_path: Path) -> None:
    run = read_run(FIXTURE_RUNS["base"])
    task = run.tasks[0]
    english = task.languages["eng_Latn"]
    nan = dataclasses.replace(english.metrics["acc"], value=math.nan)
    language = dataclasses.replace(english, metrics={**english.metrics, "acc": nan})
    run = dataclasses.replace(run, tasks=[dataclasses.replace(task, languages={"eng_Latn": language})])
    folder = RunFolder(tmp_path, "model", run.run_id)
    folder.write(run, [])
    written = folder.commit()
    assert '"value": null' in (written / "results.json").read_text()
    assert math.isnan(read_run(written).tasks[0].languages["eng_Latn"].metrics["acc"].value)


def test_unknown_fields_are_ignored_and_missing_defaults_filled(tmp_path: Path) -> None:
    document = json.loads((FIXTURE_RUNS["base"] / "results.json").read_text())
    document["a_field_from_the_future"] = 1
    del document["tasks"][0]["languages"]["deu_Latn"]["truncated"]
    (tmp_path / "results.json").write_text(json.dumps(document))
    run = read_run(tmp_path)
    assert run.tasks[0].languages["deu_Latn"].truncated == 0
    assert run == read_run(FIXTURE_RUNS["base"])


def test_the_stored_runs_are_what_make_runs_writes() -> None:
    """A changed task, metric signature or record shape makes the fixtures stale: rerun
    ``.venv/bin/python -m tests.fixtures.make_runs``."""
    from tests.fixtures.make_runs import build

    result, samples = build("merged")
    stale = "the stored runs are stale: run python -m tests.fixtures.make_runs"
    stored = _to_12_digits(to_jsonable(read_run(FIXTURE_RUNS["merged"])))
    assert stored == _to_12_digits(to_jsonable(result)), stale
    groups = read_sample_scores(FIXTURE_RUNS["merged"] / SAMPLES_FILE)
    assert sum(len(items) for items in groups.values()) == len(samples)


def _to_12_digits(value: object) -> object:
    """Floats to 12 significant digits: a standard error summed by numpy on another CPU (other SIMD widths)
    may differ from the stored one in its last bits, which no staleness is."""
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, dict):
        return {key: _to_12_digits(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_to_12_digits(item) for item in value]
    return value


# -- writing: streamed samples, the JSON of records, staging folders of killed runs ------------------------------
def _reference_to_jsonable(record: object) -> object:
    """The recursive conversion ``to_jsonable`` replaced (its output must not change)."""
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        return {f.name: _reference_to_jsonable(getattr(record, f.name)) for f in dataclasses.fields(record)}
    if isinstance(record, dict):
        return {str(k): _reference_to_jsonable(v) for k, v in record.items()}
    if isinstance(record, (list, tuple)):
        return [_reference_to_jsonable(v) for v in record]
    if isinstance(record, float) and record != record:
        return None
    return record


def test_to_jsonable_is_the_recursive_conversion_it_replaced() -> None:
    from collections import OrderedDict

    from harness.api.metric import MetricValue, Unit
    from harness.api.requests import ChoiceRequest, ChoiceScores, Generation, GenerationRequest

    class Keyed(dict):
        pass

    values = [
        GenerationRequest("p", ("\n", "Q:"), 12),
        ChoiceRequest("c", ("a", "b")),
        ChoiceScores((-1.5, math.nan), (1, 2), (True, False), 3),
        Generation("t", "length", 2),
        MetricValue(math.nan, None, "sig", Unit.SCORE),
        {1: (1, 2.5), None: [math.nan, {"x": True}], 2.0: OrderedDict(a=1)},
        Keyed(a=(1,)),
        [Unit.FRACTION, math.inf, -0.0, "\u2028"],
        read_run(FIXTURE_RUNS["base"]),
    ]
    for value in values:
        converted = to_jsonable(value)
        assert converted == _reference_to_jsonable(value)
        assert json.dumps(converted) == json.dumps(_reference_to_jsonable(value))
    assert to_jsonable(GenerationRequest) is GenerationRequest  # a dataclass class is not a record


def test_appended_samples_are_written_as_write_writes_them(tmp_path: Path) -> None:
    run = read_run(FIXTURE_RUNS["base"])
    samples = [
        SampleRecord(
            "sib200", "prompt_1", "test", "eng_Latn", str(i), [{"context": "c\u2028"}], [], i, 0, {"acc": math.nan}
        )
        for i in range(3)
    ]
    streamed = RunFolder(tmp_path / "streamed", "model", run.run_id)
    for sample in samples[:2]:
        streamed.append(sample)
    streamed.publish(run, samples[2:])
    whole = RunFolder(tmp_path / "whole", "model", run.run_id).publish(run, samples)
    for name in (SAMPLES_FILE, "results.json"):
        assert (streamed.final / name).read_bytes() == (whole.folder / name).read_bytes()
    assert sorted(p.name for p in whole.folder.iterdir()) == ["results.json", SAMPLES_FILE]  # no owner file


def _staged(out: Path, run_id: str, owner: dict[str, object] | None) -> Path:
    from harness.records.io import OWNER_FILE

    staging = out / "model" / f".{run_id}.partial"
    staging.mkdir(parents=True)
    (staging / SAMPLES_FILE).write_text("{}\n")
    if owner is not None:
        (staging / OWNER_FILE).write_text(json.dumps(owner))
    return staging


def test_staging_folders_of_killed_runs_are_removed_and_no_other(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from harness.records.io import OWNER_FILE, remove_abandoned

    folder = RunFolder(tmp_path, "model", "live")
    me = json.loads((folder.staging / OWNER_FILE).read_text())
    assert me["pid"] == os.getpid()
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    dead = _staged(tmp_path, "dead", {**me, "pid": ended.pid})
    kept = [
        _staged(tmp_path, "other-host", {**me, "pid": ended.pid, "host": "elsewhere"}),
        _staged(tmp_path, "other-namespace", {**me, "pid": ended.pid, "pid_namespace": "pid:[1]"}),
        _staged(tmp_path, "alive", {**me, "pid": os.getppid()}),
        _staged(tmp_path, "no-owner", None),
        _staged(tmp_path, "bad-owner", {"pid": "1"}),
        _staged(tmp_path, "group", {**me, "pid": 0}),
    ]
    assert remove_abandoned(tmp_path / "model") == [dead]
    assert not dead.exists() and folder.staging.is_dir() and all(staging.is_dir() for staging in kept)

    again = _staged(tmp_path, "dead-again", {**me, "pid": ended.pid})
    second = RunFolder(tmp_path, "model", "next")  # a new run cleans up before it starts
    assert second.removed == [again] and not again.exists() and folder.staging.is_dir()
    second.discard()
    folder.discard()
