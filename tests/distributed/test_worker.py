"""The worker's body without Ray: it holds one engine, answers a chunk as that engine does, reloads only for
another model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.api.requests import ChoiceRequest, GenerationRequest
from harness.backends import GenerationParams, create_backend
from harness.distributed.worker import EngineSpec, EngineWorker

OPTIONS = {"batch_size": 4, "device": "cpu", "dtype": "float32"}


def _spec(model: Path) -> EngineSpec:
    return EngineSpec.of("hf", str(model), GenerationParams(), OPTIONS)


@pytest.fixture(autouse=True)
def _torch_threads():
    """A worker sets torch's threads for its whole process: this one's are put back after each test."""
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_a_chunk_may_run_on_more_threads_when_the_engine_uses_torchs(tiny_model: Path) -> None:
    # In a fresh process, as a worker actor is: an in-process vLLM engine (the vLLM tests) replaces
    # torch.set_num_threads in this one with a no-op.
    script = f"""
import json, torch
from harness.api.requests import ChoiceRequest
from harness.backends import GenerationParams
from harness.distributed.worker import EngineSpec, EngineWorker
spec = EngineSpec.of("hf", {str(tiny_model)!r}, GenerationParams(), {OPTIONS!r})
worker = EngineWorker(threads=1)
seen = [torch.get_num_threads()]
request = [ChoiceRequest("The capital of France is", (" Paris", " Berlin"))]
one = worker.answer(spec, "choice", request)
two = worker.answer(spec, "choice", request, threads=2)
seen.append(torch.get_num_threads())
print(json.dumps([seen, worker.threads, one.answers[0].loglikelihoods, two.answers[0].loglikelihoods]))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    seen, threads, one, two = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == [1, 2] and threads == 2
    assert one == pytest.approx(two, abs=1e-5)
    vllm = EngineSpec.of("vllm", str(tiny_model), GenerationParams(), {})
    assert _spec(tiny_model).threads_adjustable and not vllm.threads_adjustable  # vLLM binds its own threads


def test_a_chunk_is_answered_as_the_engine_answers_it(tiny_model: Path) -> None:
    worker = EngineWorker(threads=1)
    choices = [ChoiceRequest("The capital of France is", (" Paris", " Berlin and more")), ChoiceRequest("", (" a",))]
    prompts = [GenerationRequest("Once upon a time", ("\n",), 8)]
    engine = create_backend("hf", str(tiny_model), GenerationParams(), progress=False, **OPTIONS)
    scored = worker.answer(_spec(tiny_model), "choice", choices)
    generated = worker.answer(_spec(tiny_model), "generate", prompts)
    assert scored.answers == engine.score_choices(choices)
    assert generated.answers == engine.generate(prompts)
    assert scored.info == engine.info() and scored.load_s > 0 and generated.load_s == 0.0  # loaded once


def test_another_model_is_loaded_in_place_of_the_first(tiny_model: Path, tmp_path: Path, data_dir: Path) -> None:
    from harness.run.tiny_model import build_tiny_model

    other = build_tiny_model(tmp_path / "other", data_dir, seed=1)
    worker = EngineWorker()
    worker.load(_spec(tiny_model))
    first = worker.engine
    _, load_s = worker.load(_spec(other))
    assert worker.engine is not first and load_s > 0 and worker.spec == _spec(other)


def test_workers_draw_no_progress_bars_and_unknown_kinds_fail(tiny_model: Path) -> None:
    assert dict(_spec(tiny_model).options)["progress"] is False
    with pytest.raises(ValueError, match="unknown request kind 'rolling'"):
        EngineWorker().answer(_spec(tiny_model), "rolling", [])
