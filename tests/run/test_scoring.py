"""Scoring a run's samples in worker processes writes what scoring them here writes, byte for byte."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from harness.api.requests import ChoiceRequest, ChoiceScores
from harness.records.schema import DataInfo
from harness.run.config import RunConfig, TaskSelection
from harness.run.runner import run
from harness.run.scoring import PARALLEL_MIN_SAMPLES, Unit, language_works, score_languages, usable_cores


def _run(config: RunConfig, workers: int) -> tuple[list[str], list[dict]]:
    folder = run(dataclasses.replace(config, score_workers=workers)).folder
    tasks = json.loads((folder / "results.json").read_text())["tasks"]
    return (folder / "samples.jsonl").read_text().splitlines(), tasks


def test_two_workers_write_what_one_writes(tiny_model: Path, data_dir: Path, tmp_path: Path) -> None:
    """FLORES (sentence chrF++ rows read back by the corpus metrics, a bootstrap), XNLI and MGSM in two
    processes: the same sample lines in the same order, the same aggregated results."""
    config = RunConfig(model=str(tiny_model), tasks=("flores200", "xnli", "mgsm"),
                       languages=("eng_Latn-deu_Latn", "deu_Latn-eng_Latn", "en", "de"), limit=4, data_dir=data_dir,
                       out_dir=tmp_path / "runs", cache=tmp_path / "cache.sqlite",
                       backend_options={"progress": False})  # fmt: skip
    serial_lines, serial_tasks = _run(config, workers=1)
    parallel_lines, parallel_tasks = _run(config, workers=2)
    assert len(serial_lines) == 4 * 6 and parallel_lines == serial_lines
    assert parallel_tasks == serial_tasks
    chrf = serial_tasks[0]["languages"]["eng_Latn-deu_Latn"]["metrics"]["chrf++"]
    assert chrf["stderr"] is not None and "nrefs:1" in chrf["signature"]


def test_a_task_that_cannot_be_pickled_is_scored_here(data_dir: Path) -> None:
    from harness.api.registry import get_task

    sib = get_task("sib200")
    local = type("LocalSib", (type(sib),), {})()  # a class made in a function: pickling fails, so no workers
    selection = TaskSelection(local, "prompt_1", "test")
    english = sib.language("eng_Latn")
    units = []
    for example in local.load_local(data_dir, english, "test")[:2]:
        requests = local.requests(example, english, "prompt_1")
        answers = [_prefer_first(request) for request in requests]
        units.append(Unit(selection, english, example, requests, answers=answers))
    info = DataInfo(source="local", split="test", files={}, total_examples=2)
    works = language_works(units, lambda s: s.task.metrics(s.variant), {(selection.key, "eng_Latn"): info})
    ((key, lines, result),) = list(score_languages(works, samples=2, workers=2))
    first_label = json.loads(lines[0])["requests"][0]["continuations"][0].strip()
    assert len(lines) == 2 and json.loads(lines[0])["extracted"] == first_label
    assert result.n == 2 and key == (selection.key, "eng_Latn") and "acc" in result.metrics


def test_languages_must_be_contiguous(data_dir: Path) -> None:
    from harness.api.registry import get_task

    sib = get_task("sib200")
    selection = TaskSelection(sib, "prompt_1", "test")
    english, german = sib.language("eng_Latn"), sib.language("deu_Latn")
    examples = sib.load_local(data_dir, english, "test")[:3]
    languages = (english, german, english)
    units = [Unit(selection, language, example, []) for language, example in zip(languages, examples, strict=True)]
    info = DataInfo(source="local", split="test", files={}, total_examples=3)
    infos = {(selection.key, language.code): info for language in languages}
    with pytest.raises(AssertionError, match="not contiguous"):
        list(language_works(units, lambda s: (), infos))


def test_workers_default_to_the_usable_cores_only_for_large_runs() -> None:
    assert usable_cores() >= 1 and PARALLEL_MIN_SAMPLES > 1000


def _prefer_first(request: ChoiceRequest) -> ChoiceScores:
    """Answers given as data (this tests scoring, not a backend): the first choice is the likeliest."""
    count = len(request.continuations)
    return ChoiceScores(tuple(-1.0 - i for i in range(count)), tuple(1 for _ in range(count)), (False,) * count)
