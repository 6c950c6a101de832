"""Every layer's sentence vectors of a batch equal those of each text alone, pooled by hand; long texts keep their
start; the backend answers ``EmbedRequest``s in request order."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.api.requests import EmbedRequest
from harness.backends.base import embedder
from harness.backends.hidden_states import embed_requests
from harness.errors import ConfigError

TEXTS = ["Ein kurzer Satz.", "A somewhat longer English sentence, with a comma and more words in it.", "Habari", "x"]


def _by_hand(model, ids: list[int]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each layer's position-weighted mean (weights 1..T, float64) and last token of one unpadded text."""
    with torch.inference_mode():
        hidden = model(input_ids=torch.tensor([ids]), output_hidden_states=True).hidden_states
    weighted, last = [], []
    for states in hidden:
        tokens = states[0].double()
        weights = torch.arange(1, tokens.shape[0] + 1, dtype=torch.float64)
        weighted.append(((tokens * weights[:, None]).sum(0) / weights.sum()).numpy())
        last.append(tokens[-1].numpy())
    return weighted, last


def test_batched_vectors_equal_each_text_alone(hf_backend) -> None:
    model, tokenizer = hf_backend.model, hf_backend.tokenizer
    answers = embed_requests(model, tokenizer, [EmbedRequest(t) for t in TEXTS], batch_size=3)
    layers = model.config.num_hidden_layers + 1  # the embedding output and every layer
    for text, answer in zip(TEXTS, answers, strict=True):
        assert answer.weighted.shape == answer.last_token.shape == (layers, model.config.hidden_size)
        assert answer.weighted.dtype == np.float32
        ids = tokenizer.encode(text)
        assert answer.tokens == len(ids) and answer.truncated_tokens == 0
        weighted, last = _by_hand(model, ids)
        for layer in range(layers):
            assert np.allclose(answer.weighted[layer], weighted[layer], atol=1e-5), (text, layer)
            assert np.allclose(answer.last_token[layer], last[layer], atol=1e-5), (text, layer)
    assert answers[0].summary() == {"layers": layers, "dim": model.config.hidden_size, "tokens": answers[0].tokens}


def test_a_text_longer_than_the_model_keeps_its_start(hf_backend) -> None:
    model, tokenizer = hf_backend.model, hf_backend.tokenizer
    text = TEXTS[1]
    ids = tokenizer.encode(text)
    (answer,) = embed_requests(model, tokenizer, [EmbedRequest(text)], max_length=5)
    assert answer.tokens == 5 and answer.truncated_tokens == len(ids) - 5
    weighted, _ = _by_hand(model, ids[:5])
    assert np.allclose(answer.weighted[-1], weighted[-1], atol=1e-5)


def test_the_backend_embeds_in_request_order_within_its_token_budget(hf_backend) -> None:
    requests = [EmbedRequest(t) for t in TEXTS]
    answers = hf_backend.embed(requests)
    alone = [hf_backend.embed([request])[0] for request in requests]
    for batched, single in zip(answers, alone, strict=True):
        assert np.allclose(batched.weighted, single.weighted, atol=1e-5)
    small = embed_requests(hf_backend.model, hf_backend.tokenizer, requests, batch_size=16, max_batch_tokens=8)
    assert all(np.allclose(a.last_token, b.last_token, atol=1e-5) for a, b in zip(small, answers, strict=True))


def test_a_backend_without_hidden_states_is_named() -> None:
    with pytest.raises(ConfigError, match="backend 'vllm' cannot return every layer's hidden states.*--backend hf"):
        embedder(object(), "vllm")  # type: ignore[arg-type]
