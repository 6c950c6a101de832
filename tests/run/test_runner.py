"""The runner: data checks for every source, LIMIT samples recorded in results, samples carry their split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.api.registry import get_task
from harness.api.task import HubSource
from harness.errors import DataError
from harness.run.runner import RunConfig, load_examples, run


def _hub_folder(tmp_path: Path, rows: list[dict]) -> Path:
    """A dataset folder that ``datasets.load_dataset`` reads like a Hub dataset (offline, no network)."""
    folder = tmp_path / "hub-sib"
    folder.mkdir()
    (folder / "test.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return folder


def _sib_rows(data_dir: Path) -> list[dict]:
    task = get_task("sib200")
    examples = task.load_local(data_dir, task.language("deu_Latn"), "test")
    return [{"index_id": int(e.id), "category": task_label(e.label), "text": e.text} for e in examples]


def task_label(index: int) -> str:
    from tasks.sib200 import LABELS

    return LABELS[index]


@pytest.fixture
def hub_sib(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Point SIB-200's Hub source at a local folder; yields a function that writes its rows."""
    task = get_task("sib200")

    def use(rows: list[dict]) -> None:
        folder = _hub_folder(tmp_path, rows)
        monkeypatch.setattr(type(task), "hub_source", lambda self, language, split: HubSource(str(folder), None, split))

    return use


def test_hub_split_passes_the_same_checks_as_local_files(data_dir: Path, hub_sib) -> None:
    task = get_task("sib200")
    rows = _sib_rows(data_dir)
    hub_sib(rows)
    examples, info = load_examples(task, task.language("deu_Latn"), "test", None)
    assert len(examples) == 204 and info.source == "hub"


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda rows: rows[:-1], r"Hub dataset .*hub-sib.*expected 204 examples in 'test', found 203"),
        (lambda rows: [*rows[:-1], rows[0]], r"Hub dataset .*hub-sib.*item id '.*' appears twice"),
        (lambda rows: [{**rows[0], "category": "cooking"}, *rows[1:]], r"row 0: unknown category 'cooking'"),
    ],
    ids=["row count", "duplicate id", "bad record"],
)
def test_hub_split_errors_name_the_dataset(data_dir: Path, hub_sib, change, message: str) -> None:
    task = get_task("sib200")
    hub_sib(change(_sib_rows(data_dir)))
    with pytest.raises(DataError, match=message):
        load_examples(task, task.language("deu_Latn"), "test", None)


def test_a_limit_run_records_its_sample_and_pairs_languages(
    tiny_model: Path, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = RunConfig(model=str(tiny_model), tasks=("sib200",), languages=("eng_Latn", "swh_Latn"), limit=14,
                       data_dir=data_dir, out_dir=tmp_path, backend_options={"progress": False})  # fmt: skip
    folder = run(config).folder
    result = json.loads((folder / "results.json").read_text())
    task = result["tasks"][0]
    assert (task["limit"], task["limit_mode"], task["limit_seed"]) == (14, "sample", 1234)
    ids = {code: language["data"]["sample_ids"] for code, language in task["languages"].items()}
    assert ids["eng_Latn"] == ids["swh_Latn"] and len(ids["eng_Latn"]) == 14
    samples = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
    assert {sample["split"] for sample in samples} == {"test"}
    assert len({sample["gold"] for sample in samples if sample["language"] == "eng_Latn"}) == 7  # every topic
    assert all(sample["truncated_tokens"] == 0 and sample["finish_reasons"] == [] for sample in samples)
    assert task["languages"]["eng_Latn"]["truncated"] == 0

    first = run(RunConfig(**{**config.__dict__, "limit_mode": "first"})).folder
    first_task = json.loads((first / "results.json").read_text())["tasks"][0]
    assert (first_task["limit_mode"], first_task["limit_seed"]) == ("first", None)
    assert first_task["languages"]["eng_Latn"]["data"]["sample_ids"] != ids["eng_Latn"]
    first_golds = {json.loads(line)["gold"] for line in (first / "samples.jsonl").read_text().splitlines()}
    assert len(first_golds) == 1  # the test files are sorted by topic
    # ...which the run says, once for the task (the sampled run above said nothing)
    warnings = [line for line in capsys.readouterr().err.splitlines() if "classes" in line]
    assert warnings == [
        "xlh: warning: sib200:prompt_1@test/eng_Latn: the 14 items of this LIMIT hold 1 of the split's 7 classes "
        "(the file is ordered by class): its scores measure those classes only; --limit-mode sample (the default) "
        "keeps every class in proportion"
    ]
    # Two quick runs, often within one second: their times still say which is newer (comparability.latest).
    assert json.loads((first / "results.json").read_text())["created_at"] > result["created_at"]


def test_two_splits_of_one_task_stay_apart(tiny_model: Path, data_dir: Path, tmp_path: Path) -> None:
    """sib200@test and sib200@validation in one run: every sample names its split, and readers keep them apart."""
    from harness.cli.regress import main as regress
    from harness.records.io import read_sample_scores, sample_group

    config = RunConfig(model=str(tiny_model), tasks=("sib200@test", "sib200@validation"), languages=("eng_Latn",),
                       limit=5, data_dir=data_dir, out_dir=tmp_path, backend_options={"progress": False})  # fmt: skip
    folder = run(config).folder
    groups = read_sample_scores(folder / "samples.jsonl")
    test = sample_group(groups, "sib200", "prompt_1", "test", "eng_Latn")
    validation = sample_group(groups, "sib200", "prompt_1", "validation", "eng_Latn")
    assert test is not None and validation is not None and len(test) == len(validation) == 5
    assert set(test) != set(validation)
    assert regress(["--baseline", str(folder), "--candidate", str(folder), "--report", str(tmp_path / "r.json")]) == 0


def test_truncation_and_length_caps_are_counted_and_warned_once(tiny_model, data_dir, tmp_path, capsys) -> None:
    """A context window too small for MGSM's prompts (300 tokens, 256 of them kept for the answer): every prompt
    is cut, each sample says by how much, each language counts them, and one warning per task and language."""
    config = RunConfig(model=str(tiny_model), tasks=("mgsm", "sib200"), languages=("en", "de"), limit=3,
                       data_dir=data_dir, out_dir=tmp_path, cache=None,
                       backend_options={"progress": False, "max_length": 300})  # fmt: skip
    folder = run(config).folder
    samples = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
    tasks = {task["name"]: task for task in json.loads((folder / "results.json").read_text())["tasks"]}
    for sample in samples:
        language = tasks[sample["task"]]["languages"][sample["language"]]
        if sample["task"] == "mgsm":
            assert sample["truncated_tokens"] > 0 and len(sample["finish_reasons"]) == 1
            assert sample["finish_reasons"][0] in ("stop", "eos", "length")
        else:
            assert sample["truncated_tokens"] == 0 and sample["finish_reasons"] == []  # SIB's prompts fit
        mine = [s for s in samples if (s["task"], s["language"]) == (sample["task"], sample["language"])]
        assert language["truncated"] == sum(1 for s in mine if s["truncated_tokens"])
        assert language["length_capped"] == sum(1 for s in mine if "length" in s["finish_reasons"])
    assert tasks["mgsm"]["languages"]["de"]["truncated"] == 3
    err = capsys.readouterr().err
    for code in ("en", "de"):
        assert err.count(f"mgsm:direct@test/{code}: 3 of 3 samples had their prompt cut") == 1
    assert "sib200" not in err


def test_a_run_removes_the_staging_folder_of_a_killed_run_and_no_other(tiny_model, data_dir, tmp_path, capsys) -> None:
    """A killed run cannot remove its staging folder: the next run into the same model folder does, when the
    folder's owner process is gone; a live run's (here: ours) stays."""
    import subprocess
    import sys

    from harness.records.io import OWNER_FILE, RunFolder, model_slug

    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    live = RunFolder(tmp_path, model_slug(str(tiny_model)), "live")
    killed = RunFolder(tmp_path, model_slug(str(tiny_model)), "killed")
    owner = json.loads((killed.staging / OWNER_FILE).read_text())
    (killed.staging / OWNER_FILE).write_text(json.dumps({**owner, "pid": ended.pid}))
    config = RunConfig(model=str(tiny_model), tasks=("sib200",), languages=("eng_Latn",), limit=2, data_dir=data_dir,
                       out_dir=tmp_path, cache=None, backend_options={"progress": False})  # fmt: skip
    folder = run(config).folder
    assert not killed.staging.exists() and live.staging.is_dir()
    assert f"removed {killed.staging}, left behind by a run that was killed" in capsys.readouterr().err
    assert sorted(p.name for p in folder.iterdir()) == ["results.json", "samples.jsonl"]
    live.discard()


def test_a_run_failing_while_samples_stream_leaves_nothing(tiny_model, data_dir, tmp_path, monkeypatch) -> None:
    task = get_task("sib200")
    score, calls = type(task).score, []

    def failing(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # two samples are already in the staging folder's samples.jsonl
            raise RuntimeError("scoring failed")
        return score(self, *args, **kwargs)

    monkeypatch.setattr(type(task), "score", failing)
    config = RunConfig(model=str(tiny_model), tasks=("sib200",), languages=("eng_Latn",), limit=4, data_dir=data_dir,
                       out_dir=tmp_path, cache=None, backend_options={"progress": False})  # fmt: skip
    with pytest.raises(RuntimeError, match="scoring failed"):
        run(config)
    assert list(tmp_path.iterdir()) == []
