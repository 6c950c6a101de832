"""Sentence vectors of every layer from a transformers model (``EmbedRequest``; alignment, issue 16): each text's
hidden states pooled per layer as MEXA does (``harness.backends.pooling``), batch by batch, so no more than one
batch's hidden states exist at a time. Layers are ``hidden_states[0]`` (the embedding output) to the last layer,
as the reference code (cisnlp/MEXA ``embed_extractor.py``) reads them.

Texts are tokenised as the backend tokenises prompts (``special_tokens_kwargs``: Gemma's BOS included, as the
reference's tokenizer adds it); one longer than ``max_length`` tokens keeps its start (the vectors describe the
sentence's beginning; the answer counts the tokens cut). Batches are right-padded: real tokens keep positions
0..T-1 and never attend to padding, so a text's vectors do not depend on its batch (up to float summation order).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch

from harness.api.requests import Embedding, EmbedRequest
from harness.backends.hf_model import keeps_logits
from harness.backends.memory import trim_heap
from harness.backends.pooling import last_token, position_weighted_mean
from harness.backends.tokenization import pad_token_id, special_tokens_kwargs


def embed_requests(
    model: Any,
    tokenizer: Any,
    requests: Sequence[EmbedRequest],
    *,
    batch_size: int = 16,
    max_batch_tokens: int | None = None,
    max_length: int | None = None,
    add_bos_token: bool | None = None,
) -> list[Embedding]:
    """Every layer's pooled vectors of every request's text, in request order."""
    kwargs = special_tokens_kwargs(add_bos_token)
    encoded = [tokenizer.encode(request.text, **kwargs) for request in requests]
    if any(not ids for ids in encoded):
        empty = next(i for i, ids in enumerate(encoded) if not ids)
        raise ValueError(f"text {requests[empty].text!r} has no tokens to embed")
    cut = [max(0, len(ids) - max_length) if max_length else 0 for ids in encoded]
    encoded = [ids[: len(ids) - n] for ids, n in zip(encoded, cut, strict=True)]
    device = next(model.parameters()).device
    pad = pad_token_id(tokenizer)
    answers: list[Embedding | None] = [None] * len(requests)
    order = sorted(range(len(encoded)), key=lambda i: (-len(encoded[i]), i))  # similar lengths batch together
    for batch in _batches(order, [len(ids) for ids in encoded], batch_size, max_batch_tokens):
        width = len(encoded[batch[0]])
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, index in enumerate(batch):
            ids[row, : len(encoded[index])] = torch.tensor(encoded[index])
            mask[row, : len(encoded[index])] = 1
        weighted, last = _pooled(model, ids.to(device), mask.to(device))
        for row, index in enumerate(batch):
            answers[index] = Embedding(weighted[:, row], last[:, row], len(encoded[index]), cut[index])
        trim_heap()  # the pass's freed activations (harness/backends/memory.py)
    assert all(answer is not None for answer in answers), "a text was left unembedded"
    return answers  # type: ignore[return-value]


def _pooled(model: Any, ids: torch.Tensor, mask: torch.Tensor) -> tuple[Any, Any]:
    """(layers, batch, dim) float32 NumPy arrays: position-weighted means and last tokens of one batch."""
    with torch.inference_mode():
        out = model(input_ids=ids, attention_mask=mask, output_hidden_states=True, **_fewest_logits(model))
        weighted = torch.stack([position_weighted_mean(h, mask) for h in out.hidden_states]).cpu()
        last = torch.stack([last_token(h, mask) for h in out.hidden_states]).cpu()
    del out  # every layer's token states: let go before the next batch
    return weighted.numpy(), last.numpy()


def _batches(order: list[int], lengths: list[int], size: int, max_tokens: int | None) -> Iterator[list[int]]:
    """Consecutive indices (longest first) in batches of at most ``size`` texts and ``max_tokens`` padded tokens
    (a text longer than that alone is a batch of its own)."""
    batch: list[int] = []
    for index in order:
        width = lengths[batch[0]] if batch else lengths[index]
        if batch and (len(batch) >= size or (max_tokens is not None and width * (len(batch) + 1) > max_tokens)):
            yield batch
            batch = []
        batch.append(index)
    if batch:
        yield batch


def _fewest_logits(model: Any) -> dict[str, int]:
    """One position's logits where the model allows it: only the hidden states are wanted."""
    return {"logits_to_keep": 1} if keeps_logits(model) else {}
