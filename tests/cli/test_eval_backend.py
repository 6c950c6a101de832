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
