"""How the response store cuts a kind of request into chunks: each chunk is one backend call (or one worker's
task) and one commit. Longest requests first, as the backends order their batches; at most ``DEFAULT_CHUNK``
requests and ``MAX_CHUNK_COST`` estimated cost a chunk."""

from __future__ import annotations

from harness.api.requests import ChoiceRequest, GenerationRequest
from harness.backends.base import input_characters

# Requests computed (and committed) per backend call. Runs without a store are chunked the same way, so an
# answer never depends on whether the cache was on (batch composition moves float sums by ~1e-5).
DEFAULT_CHUNK = 128
# A chunk also holds at most this estimated cost (``choice_cost``/``generation_cost``, in characters), so
# long-context requests come in smaller chunks: Belebele's ~2,000-character items 32 a chunk, SIB-200's 128.
# Chunks of similar cost let a pool of workers finish together (harness/distributed) and commit long requests
# more often. The same chunks with or without workers or a store: answers never depend on either.
MAX_CHUNK_COST = 65_536


def prompt_size(request: GenerationRequest) -> int:
    return len(request.prompt)


def choice_size(request: ChoiceRequest) -> int:
    return len(request.context) + max(len(c) for c in request.continuations)


def generation_cost(request: GenerationRequest) -> int:
    """Prompt characters plus the token budget: decoding steps cost more than reading the prompt."""
    return input_characters(request) + request.max_new_tokens


def choice_cost(request: ChoiceRequest) -> int:
    return input_characters(request)


def chunks(items: list[str], costs: list[int], size: int, max_cost: int) -> list[list[str]]:
    """Consecutive runs of ``items`` of at most ``size`` items and ``max_cost`` summed cost (an item costing
    more than that alone is a chunk of its own)."""
    chunks: list[list[str]] = []
    current: list[str] = []
    total = 0
    for item, item_cost in zip(items, costs, strict=True):
        if current and (len(current) == size or total + item_cost > max_cost):
            chunks.append(current)
            current, total = [], 0
        current.append(item)
        total += item_cost
    if current:
        chunks.append(current)
    return chunks
