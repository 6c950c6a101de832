"""``xlh eval`` picks the backend a selection needs when none is named: hidden-state tasks run on transformers."""

from __future__ import annotations

import argparse

import pytest

from harness.analysis.study import StudyEval
from harness.cli import eval as eval_command


def _config(monkeypatch: pytest.MonkeyPatch, *argv: str):
    monkeypatch.setattr("harness.backends.default_backend", lambda: "vllm")  # as on a GPU machine with vLLM
    parser = argparse.ArgumentParser()
    eval_command.add_arguments(parser)
    args = parser.parse_args(["--model", "m", *argv])
    return eval_command._run_config(args, "m", StudyEval(tasks=tuple(args.tasks.split(",")) if args.tasks else None))


def test_alignment_without_a_backend_runs_on_transformers(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _config(monkeypatch, "--tasks", "alignment").backend == "hf"
    assert _config(monkeypatch, "--tasks", "sib200").backend == "vllm"
    assert _config(monkeypatch, "--tasks", "alignment", "--backend", "vllm").backend == "vllm"  # refused later


def test_a_vllm_engine_loads_its_own_tokenizer_only_when_a_task_generates(monkeypatch: pytest.MonkeyPatch) -> None:
    # xlh tokenises locally; vLLM's copies of the tokenizer serve only stop strings (on gemma-3-270m they cost
    # 0.9 GiB and 12 s of start-up), so a run of choice tasks starts the engine without them.
    choices = _config(monkeypatch, "--tasks", "sib200,belebele,xnli").backend_options
    assert choices["generates"] is False
    mixed = _config(monkeypatch, "--tasks", "sib200,mgsm").backend_options
    assert mixed["generates"] is True
    assert _config(monkeypatch, "--tasks", "flores200").backend_options["generates"] is True
    assert "generates" not in _config(monkeypatch, "--tasks", "sib200", "--backend", "hf").backend_options


def test_vllm_cache_and_block_sizes_reach_the_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    options = _config(monkeypatch, "--tasks", "sib200", "--kv-cache-gib", "0.5", "--block-size", "64").backend_options
    assert (options["kv_cache_gib"], options["block_size"]) == (0.5, 64)
    defaults = _config(monkeypatch, "--tasks", "sib200").backend_options
    assert (defaults["kv_cache_gib"], defaults["block_size"]) == (None, None)  # the backend picks per device
