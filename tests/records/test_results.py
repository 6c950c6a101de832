from pathlib import Path

import pytest

from harness.errors import OutputError
from harness.records.io import RunFolder, atomic_write_text, dumps, model_slug


def test_atomic_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "results.json"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_discarded_run_folder_leaves_nothing(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path, "model", "run-1")
    (folder.staging / "samples.jsonl").write_text("{}\n")
    folder.discard()
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_is_an_output_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match="cannot write results under"):
        RunFolder(blocker, "model", "run-1")


def test_model_slug() -> None:
    assert model_slug("google/gemma-3-270m") == "google__gemma-3-270m"
    assert model_slug("weird name!") == "weird_name_"


def test_nan_becomes_null() -> None:
    assert dumps({"stderr": float("nan")}) == '{"stderr": null}'


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_results_files_honour_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    """mkstemp made them 0600, so another user's `make leaderboard` on a shared results folder skipped them."""
    import os

    previous = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "results.json", "{}")
    finally:
        os.umask(previous)
    assert (tmp_path / "results.json").stat().st_mode & 0o777 == mode


def test_a_sample_record_is_one_line_for_every_line_reader() -> None:
    """Seen: a tiny model generated U+0085, which str.splitlines takes for a line break, splitting a record."""
    import json

    record = {"responses": ["a\x85b\u2028c\u2029d\x1c\ne"]}
    text = dumps(record)
    assert text.splitlines() == [text] and json.loads(text) == record


def test_samples_without_a_split_are_refused_where_the_run_had_two(tmp_path: Path) -> None:
    """Before schema 4 samples did not say their split: a run of sib200@test and @validation mixed them."""
    import json

    from harness.errors import DataError
    from harness.records.io import read_sample_scores, sample_group

    rows = [{"task": "sib200", "variant": "prompt_1", "language": "eng_Latn", "id": str(i), "extracted": 0,
             "gold": 0, "scores": {"acc": 1.0}} for i in range(4)]  # fmt: skip
    (tmp_path / "samples.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    groups = read_sample_scores(tmp_path / "samples.jsonl")
    assert len(sample_group(groups, "sib200", "prompt_1", "test", "eng_Latn", ["test"]) or {}) == 4
    with pytest.raises(DataError, match="ran on splits test, validation"):
        sample_group(groups, "sib200", "prompt_1", "test", "eng_Latn", ["test", "validation"])
