"""Which stored runs share a table, which run of a model is shown and how rows are named
(``harness.analysis.table_runs``, deciding through ``harness.records.comparability``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness.analysis.table_model import TableError
from harness.analysis.table_runs import Group, comparable_groups, load_runs
from harness.analysis.tables import transfer_table
from harness.records.comparability import ModelIdentity
from harness.records.io import StoredRun, read_run
from tests.fixtures import BAD_RUNS, FIXTURE_RUNS, RUNS_ROOT

BASE_LIKE = ("base_lora", "base_chat", "other_base")  # other models that show as "base" by name


def _runs(*shorts: str) -> list[StoredRun]:
    return load_runs([FIXTURE_RUNS[short] for short in shorts])


@pytest.fixture(scope="module")
def every_run() -> list[StoredRun]:
    return load_runs([RUNS_ROOT])


def _main_group(groups: list[Group]) -> Group:
    (main,) = [group for group in groups if any(e.folder == FIXTURE_RUNS["math"] for e in group.entries)]
    return main


def _row(group: Group, short: str):
    (entry,) = [entry for entry in group.entries if entry.folder == FIXTURE_RUNS[short]]
    return entry


def test_lora_chat_and_another_checkpoint_are_rows_of_their_own(every_run) -> None:
    group = _main_group(comparable_groups(every_run, "sib200", "acc"))
    folders = [entry.folder for entry in group.entries]
    expected = ["base_full_fp", "math", "lang", "merged_rerun", *BASE_LIKE]
    assert sorted(folders) == sorted(FIXTURE_RUNS[short] for short in expected)
    assert group.entries[0].folder == FIXTURE_RUNS["base_full_fp"]  # the base's newest run, first (role base)
    names = [entry.name for entry in group.entries]
    assert len(set(names)) == len(names)
    for short in ("base_full_fp", *BASE_LIKE):  # all called "base": each gets its identity in brackets
        entry = _row(group, short)
        assert entry.name == f"base [{ModelIdentity.of(entry.run).short()}]"
    assert "+lora" in _row(group, "base_lora").name and " chat " in _row(group, "base_chat").name
    assert {_row(group, short).name for short in ("math", "lang", "merged_rerun")} == {"math", "lang", "merged"}


def test_sampled_served_limited_and_old_runs_are_tables_of_their_own(every_run) -> None:
    groups = comparable_groups(every_run, "sib200", "acc")
    assert len(groups) == 5
    apart = {short: [g for g in groups if any(e.folder == FIXTURE_RUNS[short] for e in g.entries)]
             for short in ("base_sampled", "base_openai", "base_limit", "base_schema3")}  # fmt: skip
    for short, (group,) in apart.items():
        assert [entry.folder for entry in group.entries] == [FIXTURE_RUNS[short]], short
    main = _main_group(groups)
    assert main.setting.sampling == "all" and main.setting.temperature == 0.0
    assert apart["base_limit"][0].setting.sampling == "seed 1234"
    assert apart["base_schema3"][0].setting.sampling == "first"  # schema 3: a LIMIT took the first items
    assert any("temperature: 0.0 vs 0.7" in note for note in main.notes)
    assert any("dtype: bfloat16 vs server" in note for note in main.notes)
    assert any("sampling: all vs seed 1234" in note for note in main.notes)


@pytest.mark.parametrize("order", [("base", "base_full_fp"), ("base_full_fp", "base")])
def test_a_full_fingerprint_run_is_the_same_model_so_the_newest_run_wins(order) -> None:
    (group,) = comparable_groups(_runs(*order), "sib200", "acc")
    (entry,) = group.entries
    assert entry.folder == FIXTURE_RUNS["base_full_fp"] and entry.name == "base"
    assert f"base: run {FIXTURE_RUNS['base']} left out (newer: same model and setting)" in group.notes


def test_the_newest_run_of_a_model_is_shown_whatever_its_folder() -> None:
    (group,) = comparable_groups(_runs("merged_rerun", "merged"), "sib200", "acc")
    assert [entry.folder for entry in group.entries] == [FIXTURE_RUNS["merged_rerun"]]


def test_two_checkpoints_in_folders_of_the_same_name_are_two_rows() -> None:
    runs = _runs("base", "other_base")
    assert {Path(run.model.name_or_path).name for _, run in runs} == {"base"}
    (group,) = comparable_groups(runs, "sib200", "acc")
    assert len(group.entries) == 2 and group.entries[0].name != group.entries[1].name
    assert not any("left out (" in note for note in group.notes)


def test_rows_follow_the_order_given_then_the_roles() -> None:
    runs = _runs("merged", "lang", "math", "base")
    (group,) = comparable_groups(runs, "sib200", "acc")
    assert [entry.name for entry in group.entries] == ["base", "lang", "math", "merged"]  # roles, then as given
    (group,) = comparable_groups(runs, "sib200", "acc", order=["merged", "math"])
    assert [entry.name for entry in group.entries] == ["merged", "math", "base", "lang"]


def _other_data(run: StoredRun, code: str) -> StoredRun:
    """The run with other data files for ``code`` in its sib200 results (in memory)."""
    folder, result = run
    task = result.tasks[0]
    language = task.languages[code]
    data = dataclasses.replace(language.data, files={name: "0" * 64 for name in language.data.files})
    languages = {**task.languages, code: dataclasses.replace(language, data=data)}
    return folder, dataclasses.replace(
        result, tasks=[dataclasses.replace(task, languages=languages), *result.tasks[1:]]
    )


def test_a_cell_on_other_data_is_left_out_with_a_note() -> None:
    base, math, lang = _runs("base", "math", "lang")
    (group,) = comparable_groups([base, _other_data(math, "deu_Latn"), lang], "sib200", "acc")
    entries = {entry.name: entry for entry in group.entries}
    assert entries["math"].left_out == {"deu_Latn"} and entries["base"].left_out == frozenset()
    assert entries["math"].metric("deu_Latn", "acc") is None and entries["math"].metric("fra_Latn", "acc")
    assert "math: deu_Latn: data files (SHA-256) differ from base's, so its cell is left out" in group.notes
    table = transfer_table([base, _other_data(math, "deu_Latn"), lang], "sib200", "acc")
    row = next(row for row in table.rows if row.name == "math")
    german = next(i for i, column in enumerate(table.columns) if column.key == "deu_Latn")
    mean = next(i for i, column in enumerate(table.columns) if column.key == "mean")
    assert row.cells[german] is None and row.cells[mean] is None
    assert table.rows[0].cells[german] is not None


def test_the_data_most_rows_used_is_the_reference() -> None:
    base, math, lang = _runs("base", "math", "lang")
    (group,) = comparable_groups([_other_data(base, "swh_Latn"), math, lang], "sib200", "acc")
    assert {entry.name: entry.left_out for entry in group.entries}["base"] == {"swh_Latn"}


def test_one_table_of_results_of_two_settings_is_refused_naming_what_differs() -> None:
    runs = _runs("base", "base_limit")
    with pytest.raises(TableError, match=r"base \(.*\) and base \(.*\) are not comparable: sampling: all vs seed 1234"):
        transfer_table(runs, "sib200", "acc")
    assert [len(group.entries) for group in comparable_groups(runs, "sib200", "acc")] == [1, 1]


def test_a_task_variant_or_a_metric_selects_results() -> None:
    runs = _runs("base", "math")
    assert comparable_groups(runs, "sib200:prompt_1", "acc")
    assert not comparable_groups(runs, "sib200:prompt_2", "acc")
    assert not comparable_groups(runs, "sib200", "chrf++")


def test_an_old_schema_reads_into_the_same_records() -> None:
    (folder, run), *_ = _runs("base_schema3")
    assert run == read_run(folder) and run.tasks[0].limit_mode == "first"


@pytest.mark.parametrize("bad", sorted(BAD_RUNS))
def test_an_unreadable_results_file_is_named(bad) -> None:
    with pytest.raises(TableError, match=str(BAD_RUNS[bad] / "results.json")):
        load_runs([BAD_RUNS[bad]])


def test_folders_without_runs_are_refused(tmp_path) -> None:
    with pytest.raises(TableError, match="no run folder"):
        load_runs([tmp_path])
    with pytest.raises(TableError, match="no such run folder"):
        load_runs([tmp_path / "nowhere"])
