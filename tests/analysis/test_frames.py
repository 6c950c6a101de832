"""Run folders as pandas frames (``harness.analysis.frames``), on the stored runs of tests/fixtures."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pandas as pd
import pytest

from harness.analysis.frames import RUN_COLUMNS, SAMPLE_COLUMNS, points, read_runs, read_sample_frame
from harness.errors import DataError
from harness.records.comparability import ModelIdentity
from harness.records.io import RunFolder, read_run
from tests.fixtures import BAD_RUNS, FIXTURE, FIXTURE_RUNS, ITEM_COUNT, REGRESSED_LANGUAGE, RUNS_ROOT

STUDY = [FIXTURE_RUNS[short] for short in ("base", "math", "lang", "merged")]


@pytest.fixture(scope="module")
def everything() -> pd.DataFrame:
    return read_runs([RUNS_ROOT])


@pytest.fixture(scope="module")
def study() -> pd.DataFrame:
    return read_runs(STUDY)


def test_columns_and_types(everything: pd.DataFrame) -> None:
    assert tuple(everything.columns) == RUN_COLUMNS
    assert str(everything["created_at"].dtype).startswith("datetime64") and str(everything["created_at"].dt.tz) == "UTC"
    assert everything["limit"].dtype == "Int64"
    assert everything["value"].dtype == everything["stderr"].dtype == "float64"
    assert everything["n"].dtype == "int64"
    assert set(everything["run_id"]) == {run.run_id for run in FIXTURE.values()}


def test_one_row_per_run_task_language_and_metric(study: pd.DataFrame) -> None:
    base = study[study["run_id"] == FIXTURE["base"].run_id]
    assert len(base) == 5 * 4 + 4 * 2  # sib200: 5 languages x 4 metrics; flores200: 4 directions x 2
    assert not base.duplicated(["task", "language", "metric"]).any()
    assert list(base[base.task == "sib200"]["metric"][:4]) == ["acc", "macro_f1", "f1_weighted", "acc_norm"]
    assert (base["n"] == ITEM_COUNT).all()


def test_a_researchers_pivot_merged_against_its_parents(study: pd.DataFrame) -> None:
    acc = study[(study.task == "sib200") & (study.metric == "acc")]
    table = acc.pivot(index="model", columns="language", values="value")
    assert table.loc["merged", "eng_Latn"] == pytest.approx(11 / 12)
    best_parent = table.loc[["math", "lang"]].max()
    gain = table.loc["merged"] - best_parent
    assert list(gain[gain > 0].index) == ["deu_Latn", "eng_Latn", "fra_Latn", "swh_Latn"]
    assert list(gain[gain < 0].index) == ["zho_Hans"]
    chrf = study[(study.task == "flores200") & (study.metric == "chrf++")]
    by_target = chrf.pivot(index="model", columns="flores", values="value")
    assert (by_target.loc["merged"] > by_target.loc[["math", "lang"]].max()).sum() == 3


def test_groupby_family_and_script(study: pd.DataFrame) -> None:
    acc = study[(study.task == "sib200") & (study.metric == "acc")]
    families = acc.groupby(["model", "family"])["value"].mean().unstack()
    assert families.loc["merged", "Indo-European"] == pytest.approx((11 + 10 + 9) / 36)
    assert families.loc["merged", "Sino-Tibetan"] == pytest.approx(3 / 12)
    assert set(families.columns) == {"Indo-European", "Atlantic-Congo", "Sino-Tibetan"}
    scripts = dict(zip(acc["language"], acc["script"], strict=True))
    assert scripts["zho_Hans"] == "Hans" and scripts["swh_Latn"] == "Latn"
    flores = study[(study.task == "flores200") & (study.language == f"eng_Latn-{REGRESSED_LANGUAGE}")]
    assert set(flores["flores"]) == {REGRESSED_LANGUAGE} and set(flores["family"]) == {"Atlantic-Congo"}


def test_units_and_points(study: pd.DataFrame) -> None:
    units = study.groupby("metric")["unit"].unique()
    assert {metric: list(found) for metric, found in units.items()} == {
        "acc": ["fraction"],
        "acc_norm": ["fraction"],
        "macro_f1": ["fraction"],
        "f1_weighted": ["fraction"],
        "chrf++": ["score"],
        "bleu": ["score"],
    }
    fractions, scores = study[study.unit == "fraction"], study[study.unit == "score"]
    assert fractions["value"].between(0, 1).all()
    assert scores["value"].max() > 1
    assert (points(fractions) == fractions["value"] * 100).all()
    assert (points(scores) == scores["value"]).all()
    assert (points(fractions, "stderr").dropna() == fractions["stderr"].dropna() * 100).all()


def test_missing_standard_errors_are_nan(study: pd.DataFrame) -> None:
    f1 = study[study.metric == "macro_f1"]
    assert f1["stderr"].isna().all()
    assert study[study.metric == "acc"]["stderr"].notna().all()


def test_a_nan_value_is_nan_and_skipped_by_means(tmp_path: Path) -> None:
    run = read_run(FIXTURE_RUNS["base"])
    task = run.tasks[0]
    english = task.languages["eng_Latn"]
    nan = dataclasses.replace(english.metrics["acc"], value=math.nan)
    languages = {**task.languages, "eng_Latn": dataclasses.replace(english, metrics={**english.metrics, "acc": nan})}
    folder = RunFolder(tmp_path, "base", run.run_id)
    folder.write(dataclasses.replace(run, tasks=[dataclasses.replace(task, languages=languages)]), [])
    frame = read_runs([folder.commit()])
    acc = frame[frame.metric == "acc"].set_index("language")["value"]
    assert math.isnan(acc["eng_Latn"])
    assert acc.mean() == pytest.approx(acc.drop("eng_Latn").mean())


def test_models_of_one_name_are_told_apart(everything: pd.DataFrame) -> None:
    names = everything.groupby("identity")["model"].unique()
    assert all(len(found) == 1 for found in names)  # one name per identity
    base = ModelIdentity.of(read_run(FIXTURE_RUNS["base"])).short()
    assert names[base][0] == f"base [{base}]"
    assert len({found[0] for found in names}) == len(names)  # and one identity per name
    assert set(everything[everything.role == "merged"]["parents"]) == {"math,lang"}
    assert set(everything[everything.run_id == FIXTURE["other_base"].run_id]["role"].isna()) == {True}


def test_latest_keeps_the_newest_run_of_each_model_and_setting(everything: pd.DataFrame) -> None:
    newest = read_runs([RUNS_ROOT], latest=True)
    base = ModelIdentity.of(read_run(FIXTURE_RUNS["base"])).short()
    full = newest[(newest.identity == base) & (newest.task == "sib200") & (newest.sampling == "all")]
    assert set(full["run_id"]) == {FIXTURE["base_full_fp"].run_id, FIXTURE["base_sampled"].run_id}
    assert full.groupby("setting_key")["run_id"].nunique().eq(1).all()
    assert set(newest[newest.model == "merged"]["run_id"]) == {FIXTURE["merged_rerun"].run_id}
    dropped = {FIXTURE[short].run_id for short in ("merged",)}
    assert dropped.isdisjoint(newest["run_id"]) and dropped <= set(everything["run_id"])
    for short in ("base_lora", "base_chat", "base_openai", "other_base"):
        assert FIXTURE[short].run_id in set(newest["run_id"])


def test_settings_are_columns(everything: pd.DataFrame) -> None:
    limited = everything[everything.run_id == FIXTURE["base_limit"].run_id]
    assert set(limited["limit"]) == {6} and set(limited["sampling"]) == {"seed 1234"}
    old = everything[everything.run_id == FIXTURE["base_schema3"].run_id]
    assert set(old["sampling"]) == {"first"}
    full = everything[everything.run_id == FIXTURE["base"].run_id]
    assert full["limit"].isna().all() and set(full["sampling"]) == {"all"}
    # Within a model a label names one setting (a sampled run's says so); the label leaves out the dtype, which
    # here only the openai-served run (another model) differs in.
    keys = everything.groupby(["identity", "setting"])["setting_key"].nunique()
    assert (keys == 1).all()


def test_paths_are_read_once_and_filtered_by_task() -> None:
    twice = read_runs([FIXTURE_RUNS["base"], RUNS_ROOT / "base", FIXTURE_RUNS["base"]], tasks={"flores200"})
    assert not twice.duplicated(["run_id", "task", "language", "metric"]).any()
    assert set(twice["task"]) == {"flores200"}


def test_missing_and_malformed_paths_raise(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such run folder"):
        read_runs([tmp_path / "typo"])
    with pytest.raises(DataError, match="schema 99"):
        read_runs([BAD_RUNS["schema99"]])
    empty = read_runs([tmp_path])
    assert empty.empty and tuple(empty.columns) == RUN_COLUMNS


def test_sample_frame_agrees_with_the_results(study: pd.DataFrame) -> None:
    samples = read_sample_frame(STUDY, tasks={"sib200"})
    assert tuple(samples.columns) == SAMPLE_COLUMNS
    assert len(samples) == 4 * 5 * ITEM_COUNT * 2  # runs x languages x items x (acc, acc_norm)
    means = samples.groupby(["run_id", "language", "metric"])["score"].mean()
    stored = study[study.task == "sib200"].set_index(["run_id", "language", "metric"])["value"]
    assert means.to_dict() == pytest.approx(stored.reindex(means.index).to_dict())


def test_sample_frame_pairs_items_across_runs() -> None:
    shorts = ("merged", "merged_rerun")
    samples = read_sample_frame([FIXTURE_RUNS[short] for short in shorts], tasks={"sib200"})
    acc = samples[(samples.metric == "acc") & (samples.language == REGRESSED_LANGUAGE)]
    paired = acc.pivot(index="item", columns="run_id", values="score")
    old, new = (FIXTURE[short].run_id for short in shorts)
    assert ((paired[old] == 1) & (paired[new] == 0)).sum() == 7
    assert ((paired[old] == 0) & (paired[new] == 1)).sum() == 0


def test_sample_frame_of_translations_and_old_samples() -> None:
    samples = read_sample_frame([FIXTURE_RUNS["base_schema3"]])
    assert set(samples["split"]) == {"test", "devtest"}  # schema 3 samples take their task's split
    chrf = samples[samples.metric == "sentence_chrf++"]
    assert len(chrf) == 6 and chrf["score"].between(0, 100).all()
    assert all(isinstance(text, str) for text in (*chrf["extracted"], *chrf["gold"]))
    assert set(samples[samples.task == "sib200"]["item"]) == {"14", "31", "58", "77", "102", "135"}
