"""Loading a transformers model for the transformers backend: device, dtype, tokenizer and weights, and the
batch limits that depend on the device."""

from __future__ import annotations

from typing import Any

import torch
import transformers

from harness.backends.memory import import_transformers_generation_without_sklearn, release_tokenizer_sources
from harness.backends.model_folder import require_model_folder_if_local
from harness.errors import ConfigError, ModelError

# Padded tokens per forward pass on CPU. Throughput there does not grow past ~1,000 tokens a pass, while
# activations do: Belebele eng/deu LIMIT 50 on gemma-3-270m took 44.3 s and 1.94 GiB peak RSS at 16 contexts a
# pass (~7,500 tokens), 42.6 s / 1.93 GiB at 4,096 tokens, 40.9 s / 1.81 GiB at 2,048 and 40.9 s / 1.76 GiB at
# 1,024; the Belebele + SIB-200 slice peaked at 1.80 GiB at 1,024 against 1.83-1.89 GiB at 2,048 (with the heap
# trimmed after each batch). On GPU larger passes are faster, so there is no limit there.
CPU_MAX_BATCH_TOKENS = 1024


def resolve_max_batch_tokens(max_batch_tokens: int | None, device: torch.device) -> int | None:
    """The padded-token limit of one forward pass: as given, else ``CPU_MAX_BATCH_TOKENS`` on CPU and none on GPU."""
    if max_batch_tokens is not None:
        if max_batch_tokens < 1:
            raise ConfigError(f"max_batch_tokens must be at least 1, got {max_batch_tokens}")
        return max_batch_tokens
    return CPU_MAX_BATCH_TOKENS if device.type == "cpu" else None


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == "auto":
        # float32 on CPU: bfloat16 is slow there and changes greedy outputs.
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    try:
        value = getattr(torch, dtype)
    except AttributeError:
        value = None
    if not isinstance(value, torch.dtype):
        raise ConfigError(f"unknown dtype {dtype!r}; use auto, float32, bfloat16 or float16")
    return value


def load(
    model: str,
    revision: str | None,
    device: torch.device,
    dtype: torch.dtype,
    trust_remote_code: bool,
    attn_implementation: str | None = None,
):
    require_model_folder_if_local(model)
    import_transformers_generation_without_sklearn()
    kernels = {"attn_implementation": attn_implementation} if attn_implementation else {}
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(
            model, revision=revision, trust_remote_code=trust_remote_code
        )
        release_tokenizer_sources(tokenizer)
        loaded = transformers.AutoModelForCausalLM.from_pretrained(
            model, revision=revision, dtype=dtype, trust_remote_code=trust_remote_code, **kernels
        )
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise ModelError(f"cannot load model {model!r}: {error}") from error
    loaded.to(device)  # type: ignore[arg-type]
    loaded.eval()
    return tokenizer, loaded


def model_max_length(model: Any, tokenizer: Any) -> int:
    for attribute in ("max_position_embeddings", "n_positions", "n_ctx", "seq_length"):
        value = getattr(model.config, attribute, None)
        if isinstance(value, int) and value > 0:
            return value
    limit = getattr(tokenizer, "model_max_length", None)
    return limit if isinstance(limit, int) and 0 < limit < 1_000_000 else 2048


def keeps_logits(model: Any) -> bool:
    """Whether ``model.forward`` takes ``logits_to_keep``: then a pass computes the LM head (a tokens x vocabulary
    product, 262,144 wide for Gemma) only at the positions asked for."""
    import inspect

    return "logits_to_keep" in inspect.signature(model.forward).parameters
