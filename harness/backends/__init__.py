"""Backends: a registry from name to a lazily imported class, so optional engines cost nothing until used."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from harness.backends.base import Backend, BackendInfo, GenerationParams
from harness.errors import ConfigError

# The version of xlh's request-encoding code: how a request becomes tokens and scores (tokenization.py,
# scoring.py, chat.py, truncation and finish reasons in each backend). Part of every response-cache key;
# bump it whenever that code changes (tests/test_versions.py fails when a module changes without a bump).
# 3: generation budgets above 256 shrink to fit before the prompt is cut; 4: the transformers backend batches
# shared contexts by context, computes only the logits it scores (log-likelihoods move by ~1e-5, as a batch
# size does); 5: it scores each context's first continuation token once and runs the continuation pass only
# for continuations of two or more tokens, sixteen contexts a batch (again ~1e-6: other batch shapes); 6: its
# context pass also reads the continuations' common tokens (SIB-200's " \n\n"), so only what follows them runs
# as continuation rows, and on CPU a forward pass holds at most 2,048 padded tokens; vLLM reads those common
# tokens from next-token distributions, in waves over the prefix cache, not from prompt log-probs (~1e-6 again);
# 7: the transformers backend takes and records its attention kernels (``attn_implementation``; the default
# unchanged), which float32 on a GPU showed can change answers; 8: on CPU a transformers forward pass holds at
# most 1,024 padded tokens (other batch shapes: log-likelihoods move by ~1e-6); 9: vLLM scores choices by forced
# decoding (``vllm_walks.py``): continuation tokens come from decoding steps, not prompt log-probs or waves
# (log-likelihoods within 3e-5 of the waves' on SIB-200, every prediction and greedy flag the same)
ENCODING_VERSION = 9

# name -> "module:Class"; aliases point at the same class.
BACKENDS: dict[str, str] = {
    "hf": "harness.backends.hf:TransformersBackend",
    "transformers": "harness.backends.hf:TransformersBackend",
    "vllm": "harness.backends.vllm:VLLMBackend",
    "openai": "harness.backends.openai:OpenAIBackend",
}


# The backends that can return every layer's hidden states (``HiddenStatesBackend.embed``), which tasks that read
# them (``Task.reads_hidden_states``: alignment) need. vLLM's pooling runner returns one pooled vector of the last
# layer, not every layer's; an OpenAI-compatible server's embeddings endpoint likewise.
HIDDEN_STATE_BACKENDS = frozenset({"hf", "transformers"})


def create_backend(name: str, model: str, generation: GenerationParams, **options: Any) -> Backend:
    """Instantiate the backend ``name`` for ``model``; unknown names list the valid ones."""
    if name not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r}; valid: {', '.join(sorted(BACKENDS))}")
    module_name, class_name = BACKENDS[name].split(":")
    backend_class = getattr(importlib.import_module(module_name), class_name)
    return backend_class(model, generation=generation, **options)


def default_backend() -> str:
    """``vllm`` when vLLM is installed and a GPU is present, else ``hf`` (vLLM on CPU only when asked for)."""
    if importlib.util.find_spec("vllm") is None:
        return "hf"
    import torch

    return "vllm" if torch.cuda.is_available() else "hf"


__all__ = [
    "BACKENDS",
    "ENCODING_VERSION",
    "HIDDEN_STATE_BACKENDS",
    "Backend",
    "BackendInfo",
    "GenerationParams",
    "create_backend",
    "default_backend",
]
