"""The response-cache key: every option that can change an answer changes it, the neutral ones do not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from safetensors.torch import save_file

from harness.api.requests import ChoiceRequest, ChoiceScores, Generation, GenerationRequest
from harness.backends.base import BackendInfo, GenerationParams
from harness.run.model_info import with_adapter
from harness.run.response_cache import ANSWER_NEUTRAL_OPTIONS, CacheIdentity, CachingBackend, ResponseStore

REQUEST = GenerationRequest(prompt="Question: 2+2?\nAnswer:", stop=("\n",), max_new_tokens=16)

# The options each backend records in info().options (see their __init__), with the values of a plain run.
VLLM_OPTIONS: dict[str, Any] = {
    "dtype": "float32",
    "max_model_len": 2048,
    "gpu_memory_utilization": 0.9,
    "tensor_parallel_size": 1,
    "enable_prefix_caching": True,
    "enforce_eager": False,
    "trust_remote_code": False,
    "seed": 1234,
    "kv_cache_memory_bytes": 2**31,
    "max_num_seqs": None,
    "max_num_batched_tokens": None,
    "block_size": 32,
    "generates": True,
    "revision": None,
    "lora_path": None,
    "score_mode": "shared_context",
    "add_bos_token": None,
    "chat": False,
    "environment": {"VLLM_ENABLE_V1_MULTIPROCESSING": "0"},
}
OPENAI_OPTIONS: dict[str, Any] = {
    "base_url": "http://127.0.0.1:8000/v1",
    "served_model": "gemma",
    "server_version": "0.32.0",
    "tokenizer": "models/gemma-3-270m",
    "max_length": 2048,
    "concurrency": 16,
    "timeout_s": 600.0,
    "max_retries": 4,
    "add_bos_token": None,
    "chat": False,
}
VERSIONS = {"torch": "2.13.0", "transformers": "5.19.0", "vllm": "0.32.0", "xlh": "0.1.0"}


def _key(info: BackendInfo, adapter: str | None = None, generation: GenerationParams | None = None) -> str:
    identity = CacheIdentity.of("m", "fingerprint", info, generation or GenerationParams(), adapter_fingerprint=adapter)
    return identity.key(REQUEST)


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value * 2 + 1
    if isinstance(value, dict):
        return {**value, "X": "1"}
    return f"{value}-other"


@pytest.mark.parametrize("name, options", [("vllm", VLLM_OPTIONS), ("openai", OPENAI_OPTIONS)])
def test_each_option_changes_the_key_unless_it_is_answer_neutral(name: str, options: dict[str, Any]) -> None:
    base = BackendInfo(name, VERSIONS, "cpu", "float32", dict(options))
    reference = _key(base)
    for option, value in options.items():
        changed = _key(BackendInfo(name, VERSIONS, "cpu", "float32", {**options, option: _changed(value)}))
        if option in ANSWER_NEUTRAL_OPTIONS:
            assert changed == reference, f"{name}: {option} cannot change an answer but changed the key"
        else:
            assert changed != reference, f"{name}: {option} can change an answer but left the key unchanged"


def test_the_real_transformers_backend_options_are_all_in_the_key(hf_backend) -> None:
    info = hf_backend.info()
    reference = _key(info)
    assert info.options, "the hf backend records its options"
    for option, value in info.options.items():
        changed = BackendInfo(
            info.name, info.versions, info.device, info.dtype, {**info.options, option: _changed(value)}
        )
        assert (_key(changed) == reference) == (option in ANSWER_NEUTRAL_OPTIONS), option


def test_engine_versions_device_dtype_sampling_and_adapter_change_the_key() -> None:
    info = BackendInfo("vllm", VERSIONS, "cpu", "float32", dict(VLLM_OPTIONS))
    reference = _key(info)
    variants = [
        BackendInfo("vllm", {**VERSIONS, "vllm": "0.33.0"}, "cpu", "float32", dict(VLLM_OPTIONS)),
        BackendInfo("vllm", {**VERSIONS, "server": "0.32.1"}, "cpu", "float32", dict(VLLM_OPTIONS)),
        BackendInfo("vllm", VERSIONS, "cuda", "float32", dict(VLLM_OPTIONS)),
        BackendInfo("vllm", VERSIONS, "cpu", "bfloat16", dict(VLLM_OPTIONS)),
        BackendInfo("openai", VERSIONS, "cpu", "float32", dict(VLLM_OPTIONS)),
    ]
    keys = {_key(variant) for variant in variants}
    keys |= {_key(info, adapter="adapter-sha"), _key(info, generation=GenerationParams(seed=7))}
    keys.add(_key(info, generation=GenerationParams(temperature=0.7)))
    assert reference not in keys and len(keys) == len(variants) + 3
    # The openai backend's HTTP client cannot change an answer.
    assert _key(BackendInfo("vllm", {**VERSIONS, "aiohttp": "3.9"}, "cpu", "float32", dict(VLLM_OPTIONS))) == reference
    # "hf" and "transformers" are one engine.
    hf = BackendInfo("hf", VERSIONS, "cpu", "float32", {})
    assert _key(hf) == _key(BackendInfo("transformers", VERSIONS, "cpu", "float32", {}))


def _adapter(folder: Path, scale: float) -> Path:
    import torch

    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({"r": 8, "lora_alpha": 16, "peft_type": "LORA"}))
    save_file({"base_model.model.layers.0.q_proj.lora_A.weight": torch.full((8, 64), scale)},
              str(folder / "adapter_model.safetensors"))  # fmt: skip
    return folder


def test_a_lora_run_and_a_base_run_share_no_key(tmp_path: Path) -> None:
    """The seen failure: a vLLM run with --lora and a plain run of the base answered from each other's entries."""
    from harness.run.model_info import ModelInfo

    base = ModelInfo("m", None, None, "fingerprint", "test")
    with_sw = with_adapter(base, str(_adapter(tmp_path / "sw", 0.1)))
    with_te = with_adapter(base, str(_adapter(tmp_path / "te", 0.2)))
    assert with_adapter(base, None) is base
    assert with_sw.adapter_fingerprint and with_sw.adapter_fingerprint != with_te.adapter_fingerprint
    plain = BackendInfo("vllm", VERSIONS, "cpu", "float32", dict(VLLM_OPTIONS))
    lora = BackendInfo("vllm", VERSIONS, "cpu", "float32", {**VLLM_OPTIONS, "lora_path": str(tmp_path / "sw")})
    keys = {_key(plain), _key(lora, with_sw.adapter_fingerprint), _key(lora, with_te.adapter_fingerprint)}
    assert len(keys) == 3
    # The same adapter from another folder is the same model.
    moved = with_adapter(base, str(_adapter(tmp_path / "copy", 0.1)))
    assert moved.adapter_fingerprint == with_sw.adapter_fingerprint


class _FailsAfter:
    """A failure-injection double for the caching wrapper's own logic: answers the first ``n`` requests of
    a call, then fails the way the openai backend does (the answers that did arrive on ``received``)."""

    name = "hf"

    def __init__(self, n: int) -> None:
        self.n = n
        self.calls: list[int] = []

    def generate(self, requests: list[GenerationRequest]) -> list[Generation]:
        self.calls.append(len(requests))
        answers = {i: Generation(f"answer {r.prompt}", "stop") for i, r in enumerate(requests)}
        if len(requests) > self.n:
            error = RuntimeError("the server went away")
            error.received = {i: answers[i] for i in range(self.n)}  # type: ignore[attr-defined]
            raise error
        return [answers[i] for i in range(len(requests))]

    def score_choices(self, requests: list[ChoiceRequest]) -> list[ChoiceScores]:
        raise NotImplementedError

    def info(self) -> BackendInfo:
        return BackendInfo("hf", VERSIONS, "cpu", "float32", {})

    def close(self) -> None:
        pass


def test_answers_received_before_a_failure_are_stored(tmp_path: Path) -> None:
    requests = [GenerationRequest(prompt=f"p{i}") for i in range(10)]
    store = ResponseStore(tmp_path / "store.sqlite")
    identity = CacheIdentity.of("m", "fp", _FailsAfter(0).info(), GenerationParams())
    with pytest.raises(RuntimeError, match="went away"):
        CachingBackend(_FailsAfter(6), store, identity).generate(requests)
    retry = _FailsAfter(100)
    wrapper = CachingBackend(retry, store, identity)
    answers = wrapper.generate(requests)
    assert (wrapper.hits, wrapper.computed, retry.calls) == (6, 4, [4])
    assert [a.text for a in answers] == [f"answer p{i}" for i in range(10)]
    assert all(a.finish_reason == "stop" for a in answers)
