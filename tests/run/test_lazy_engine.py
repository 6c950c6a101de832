"""A run the response store answers whole loads no engine; one with a missing answer loads it then, and a
record that no longer matches the loaded engine is replaced without mixing answers of two engines."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

import pytest

from harness.backends import create_backend
from harness.run import runner
from harness.run.config import RunConfig
from harness.run.lazy_engine import engine_signature
from harness.run.model_info import describe_model


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The engines the runner creates (real ones), by model."""
    created: list[str] = []

    def counting(name, model, generation, **options):  # type: ignore[no-untyped-def]
        created.append(model)
        return create_backend(name, model, generation, **options)

    monkeypatch.setattr(runner, "create_backend", counting)
    return created


def _config(tiny_model: Path, data_dir: Path, tmp_path: Path, **changes) -> RunConfig:  # type: ignore[no-untyped-def]
    config = RunConfig(model=str(tiny_model), tasks=("xnli",), languages=("en", "de"), limit=3, data_dir=data_dir,
                       out_dir=tmp_path / "runs", cache=tmp_path / "store.sqlite",
                       backend_options={"progress": False})  # fmt: skip
    return dataclasses.replace(config, **changes)


def _samples(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]


def test_a_run_the_store_answers_whole_loads_no_engine(tiny_model, data_dir, tmp_path, loads) -> None:
    config = _config(tiny_model, data_dir, tmp_path)
    first = runner.run(config)
    assert len(loads) == 1 and first.result.timings["requests_computed"] > 0
    again = runner.run(config)
    assert len(loads) == 1  # no engine: every answer came from the store
    assert again.result.timings["requests_computed"] == 0
    assert again.result.backend == first.result.backend  # the engine that computed the answers
    assert [s["responses"] for s in _samples(again.folder)] == [s["responses"] for s in _samples(first.folder)]

    wider = runner.run(dataclasses.replace(config, languages=("en", "de", "fr")))  # French is not in the store
    assert len(loads) == 2 and wider.result.timings["requests_computed"] == 3
    assert wider.result.backend == first.result.backend
    assert wider.result.timings["requests_from_cache"] == again.result.timings["requests_from_cache"]


def test_a_record_that_no_longer_matches_is_replaced(tiny_model, data_dir, tmp_path, loads) -> None:
    config = _config(tiny_model, data_dir, tmp_path)
    first = runner.run(config)
    with sqlite3.connect(tmp_path / "store.sqlite") as store:
        ((signature, info),) = store.execute("SELECT signature, info FROM engines").fetchall()
        store.execute("UPDATE engines SET info = ?", (json.dumps({**json.loads(info), "dtype": "bfloat16"}),))
    again = runner.run(config)  # keys under the wrong dtype all miss, the engine loads and differs: start over
    assert len(loads) == 2
    assert again.result.backend == first.result.backend and again.result.timings["requests_computed"] == 0
    assert [s["responses"] for s in _samples(again.folder)] == [s["responses"] for s in _samples(first.folder)]
    with sqlite3.connect(tmp_path / "store.sqlite") as store:
        assert store.execute("SELECT info FROM engines WHERE signature = ?", (signature,)).fetchone()[0] == info


def test_the_signature_holds_what_goes_into_loading(tiny_model, data_dir, tmp_path, monkeypatch) -> None:
    config = _config(tiny_model, data_dir, tmp_path)
    model = describe_model(str(tiny_model))
    base = engine_signature(config, model)
    assert engine_signature(dataclasses.replace(config, limit=50, tasks=("mgsm",)), model) == base  # not a load
    changed = [
        dataclasses.replace(config, backend_options={"progress": False, "dtype": "bfloat16"}),
        dataclasses.replace(config, backend="vllm"),
        dataclasses.replace(config, revision="main"),
        dataclasses.replace(config, generation=dataclasses.replace(config.generation, temperature=0.7)),
    ]
    assert all(engine_signature(other, model) != base for other in changed)
    assert engine_signature(config, dataclasses.replace(model, fingerprint="another")) != base
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert engine_signature(config, model) != base
