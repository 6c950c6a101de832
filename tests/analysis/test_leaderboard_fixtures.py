"""The leaderboard on the stored runs of tests/fixtures (fast: no model runs): rows are model identities,
columns comparability settings, the newest run of each wins, and unreadable files are named."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from harness.analysis import leaderboard
from harness.analysis.board import LMEVAL_IDENTITY, BoardColumn, BoardRow, Leaderboard
from harness.cli import leaderboard as command
from harness.errors import XlhError
from harness.records.comparability import ModelIdentity
from harness.records.io import read_run
from tests.fixtures import BAD_ROOT, BAD_RUNS, FIXTURE, FIXTURE_RUNS, MISSING_FIELD, RUNS_ROOT

VARIANTS = ("base_lora", "base_chat", "base_openai", "other_base")  # other models, all named "base"


@pytest.fixture(scope="module")
def board() -> Leaderboard:
    return leaderboard.build(RUNS_ROOT)


def _identity(short: str) -> ModelIdentity:
    return ModelIdentity.of(read_run(FIXTURE_RUNS[short]))


def _row(board: Leaderboard, short: str) -> BoardRow:
    (row,) = [row for row in board.rows if row.model == _identity(short)]
    return row


def _columns(board: Leaderboard, task: str, **setting: Any) -> list[BoardColumn]:
    return [
        column
        for column in board.columns
        if column.config.task == task and all(getattr(column.config.setting, k) == v for k, v in setting.items())
    ]


def _run_id(short: str) -> str:
    return FIXTURE[short].run_id


def test_adapter_chat_server_and_other_checkpoint_runs_are_their_own_rows(board: Leaderboard) -> None:
    identities = {short: _identity(short) for short in ("base", *VARIANTS)}
    assert len(set(identities.values())) == len(identities)  # five models
    names = {short: _row(board, short).display for short in identities}
    assert len(set(names.values())) == len(names), names  # told apart
    assert all(name.startswith("base [") for name in names.values()), names  # by comparability.distinct_names
    assert names["base_lora"] == f"base [{identities['base_lora'].short()}]"
    assert names["other_base"] == f"base [{identities['other_base'].weights[:7]}]"  # same folder name, other weights
    assert {row.display for row in board.rows} >= {"math", "lang", "merged"}
    assert len(board.rows) == 8


def test_only_newer_runs_of_the_same_model_and_setting_supersede(board: Leaderboard) -> None:
    superseded = sorted((entry.run_id, entry.config.task) for entry in board.superseded)
    assert superseded == sorted(
        [
            (_run_id("base"), "sib200"),  # by base_full_fp: the same model (the sampled fingerprint), newer
            (_run_id("merged"), "flores200"),  # by merged_rerun
            (_run_id("merged"), "sib200"),
        ]
    )
    base = _identity("base")
    (greedy_sib,) = _columns(board, "sib200", sampling="all", temperature=0.0, dtype="bfloat16")
    assert greedy_sib.entries[base].run_id == _run_id("base_full_fp")
    for short in ("base_lora", "base_chat", "other_base"):  # newer than base, and in the same column
        assert greedy_sib.entries[_identity(short)].run_id == _run_id(short)
    (greedy_flores,) = _columns(board, "flores200", sampling="all", temperature=0.0)
    assert greedy_flores.entries[base].run_id == _run_id("base")  # base_full_fp ran no flores200
    assert sorted(_row(board, "base").runs) == sorted(
        _run_id(short) for short in ("base", "base_full_fp", "base_sampled", "base_limit", "base_schema3")
    )


def test_sampled_served_and_limited_runs_are_other_columns(board: Leaderboard) -> None:
    base = _identity("base")
    (sampled,) = _columns(board, "sib200", temperature=0.7)
    assert sampled.entries[base].run_id == _run_id("base_sampled")  # the base's row, its own column
    assert "temperature 0.7" in sampled.label
    (served,) = _columns(board, "sib200", dtype="server")
    assert list(served.entries) == [_identity("base_openai")] and "server" in served.label
    (seeded,) = _columns(board, "sib200", sampling="seed 1234")
    assert seeded.entries[base].run_id == _run_id("base_limit")
    assert seeded.label == "sib200:prompt_1@test 0-shot LIMIT 6 (seed 1234) v1 acc"
    (first,) = _columns(board, "sib200", sampling="first")  # the schema-3 run: its LIMIT took the first 6
    assert first.entries[base].run_id == _run_id("base_schema3")
    assert first.config.limit == 6 and first.summaries[base].languages == ("deu_Latn", "eng_Latn", "swh_Latn")


def test_summaries_are_the_headline_over_languages(board: Leaderboard) -> None:
    run = read_run(FIXTURE_RUNS["merged_rerun"])
    (task,) = [task for task in run.tasks if task.name == "sib200"]
    (column,) = _columns(board, "sib200", sampling="all", temperature=0.0, dtype="bfloat16")
    summary = column.summaries[_identity("merged")]
    values = {code: language.metrics["acc"].value for code, language in task.languages.items()}
    assert column.config.metric == "acc" and summary.mean == pytest.approx(sum(values.values()) / len(values))
    others = [value for code, value in values.items() if code != "eng_Latn"]
    assert summary.gap == pytest.approx(values["eng_Latn"] - sum(others) / len(others))
    lora = column.summaries[_identity("base_lora")]
    assert lora.partial and lora.languages == ("deu_Latn", "eng_Latn", "swh_Latn")


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "results"
    shutil.copytree(RUNS_ROOT, root / "runs")
    shutil.copytree(BAD_ROOT, root / "bad")
    return root


def test_unreadable_results_are_named_and_skipped(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    hidden = root / "runs" / "merged" / ".20260307-090000-aaaaaa.partial"  # a run still being written
    shutil.copytree(FIXTURE_RUNS["merged"], hidden)
    board = leaderboard.build(root)
    bad = {short: root / "bad" / folder.name / "results.json" for short, folder in BAD_RUNS.items()}
    assert [problem.path for problem in board.problems] == sorted(bad.values(), key=str)
    messages = {problem.path: problem.message for problem in board.problems}
    assert messages[bad["schema99"]].startswith("results schema 99 was written by a newer xlh")
    assert messages[bad["not_json"]].startswith("not valid JSON")
    assert MISSING_FIELD in messages[bad["missing_field"]]
    assert board.files_read == len(FIXTURE_RUNS) and len(board.rows) == 8
    with pytest.raises(XlhError, match=r"(?s)no results under .*\n.*schema-99/results.json: results schema 99"):
        leaderboard.build(BAD_ROOT)


def _lmeval_file(folder: Path, model: str, sha: str, accuracy: float) -> Path:
    """An lm-eval 0.4.13 results file of two xnli tasks (as its EvaluationTracker writes them, cut down)."""
    results = {f"xnli_{code}": {"acc,none": accuracy, "acc_stderr,none": 0.05} for code in ("en", "de")}
    configs = {f"xnli_{code}": {"dataset_path": "xnli", "dataset_name": code, "validation_split": "validation"}
               for code in ("en", "de")}  # fmt: skip
    document = {
        "results": results,
        "configs": configs,
        "versions": {name: 1.0 for name in results},
        "n-shot": {name: 0 for name in results},
        "n-samples": {name: {"original": 2490, "effective": 10} for name in results},
        "config": {"model": "hf", "model_args": f"pretrained={model}", "model_sha": sha, "limit": 10.0},
        "model_name": model,
        "lm_eval_version": "0.4.13",
        "date": 1767225600.0,
    }
    folder.mkdir(parents=True)
    path = folder / "results_2026-01-01T00-00-00.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_lmeval_results_are_their_own_rows_and_columns(tmp_path: Path) -> None:
    root = tmp_path / "results"
    shutil.copytree(FIXTURE_RUNS["base"], root / "base" / FIXTURE_RUNS["base"].name)
    first = _lmeval_file(root / "lm-eval" / "a", "org/model", "a" * 40, 0.5)
    second = _lmeval_file(root / "lm-eval" / "b", "org/model", "b" * 40, 0.25)  # another revision: another model
    board = leaderboard.build(root)
    assert not board.problems and board.files_read == 3
    (column,) = [column for column in board.columns if column.config.task == "xnli"]
    assert column.label == "xnli:sentence@validation 0-shot LIMIT 10 · lm-eval"
    assert column.config.setting.harness == "lm-eval" and column.config.version == "lm-eval v1.0"
    assert {entry.path for entry in column.entries.values()} == {first, second}
    for identity, entry in column.entries.items():
        assert identity.weights.startswith(LMEVAL_IDENTITY) and entry.harness == "lm-eval 0.4.13"
        assert set(entry.languages) == {"en", "de"}
    names = sorted(entry.display for entry in column.entries.values())
    assert names == [f"org/model (lm-eval) [as lm-eval records it: org/model@{c * 40}]" for c in "ab"]


def test_outputs_show_the_distinct_names_and_rebuild_identically(board: Leaderboard, tmp_path: Path) -> None:
    paths = command.write(board, tmp_path)
    assert [path.name for path in paths] == list(command.OUTPUTS)
    first = {path.name: path.read_bytes() for path in paths}
    command.write(leaderboard.build(RUNS_ROOT), tmp_path)
    assert {path.name: path.read_bytes() for path in paths} == first
    markdown = first["leaderboard.md"].decode()
    for row in board.rows:
        assert f"| {row.display} |" in markdown
    assert "Superseded by a newer run of the same model and configuration" in markdown
    header = first["leaderboard.csv"].decode().splitlines()[0].split(",")
    assert header[:7] == ["model", "name_or_path", "fingerprint", "identity", "harness", "role", "runs"]
    assert first["leaderboard.html"].decode().count('class="heatmap"') == len(board.columns)


def test_the_command_names_skipped_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _tree(tmp_path)
    assert command.main(root) == 0
    captured = capsys.readouterr()
    assert f"skipped {root / 'bad' / 'schema-99' / 'results.json'}: results schema 99" in captured.err
    assert captured.out.split() == [str(root / name) for name in command.OUTPUTS]
