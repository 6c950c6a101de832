"""Every layer's sentence vectors of a batch equal those of each text alone, pooled by hand."""

from __future__ import annotations

import numpy as np
import torch

from harness.backends.hidden_states import embed_texts

TEXTS = ["Ein kurzer Satz.", "A somewhat longer English sentence, with a comma and more words in it.", "Habari", "x"]


def test_batched_vectors_equal_each_text_alone(hf_backend) -> None:
    model, tokenizer = hf_backend.model, hf_backend.tokenizer
    vectors = embed_texts(model, tokenizer, TEXTS, batch_size=3)
    layers = model.config.num_hidden_layers + 1  # the embedding output and every layer
    assert vectors.weighted.shape == vectors.last_token.shape == (layers, len(TEXTS), model.config.hidden_size)
    for index, text in enumerate(TEXTS):
        ids = tokenizer(text, return_tensors="pt")["input_ids"]
        with torch.inference_mode():
            hidden = model(input_ids=ids, output_hidden_states=True).hidden_states
        for layer, states in enumerate(hidden):
            tokens = states[0].double()
            weights = torch.arange(1, tokens.shape[0] + 1, dtype=torch.float64)
            expected = (tokens * weights[:, None]).sum(0) / weights.sum()
            assert np.allclose(vectors.weighted[layer, index], expected.numpy(), atol=1e-5), (text, layer)
            assert np.allclose(vectors.last_token[layer, index], tokens[-1].numpy(), atol=1e-5), (text, layer)
