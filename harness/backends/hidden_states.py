"""Sentence vectors of every layer from a transformers model (alignment, issue 16): each text's hidden states
pooled per layer as MEXA does (``harness.backends.pooling``), batch by batch, so no more than one batch's hidden
states exist at a time. Layers are ``hidden_states[0]`` (the embedding output) to the last layer, as the reference
code reads them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from harness.backends.pooling import last_token, position_weighted_mean


@dataclass(frozen=True)
class SentenceVectors:
    """(layers, texts, dim) float32 arrays, texts in the order given."""

    weighted: np.ndarray  # position-weighted mean over each text's tokens
    last_token: np.ndarray  # each text's last token

    @property
    def layers(self) -> int:
        return int(self.weighted.shape[0])


def embed_texts(
    model: Any, tokenizer: Any, texts: Sequence[str], batch_size: int = 16, max_length: int | None = None
) -> SentenceVectors:
    """Every layer's pooled vector of every text (with the tokenizer's special tokens, BOS included, as the
    reference tokenizes; texts longer than ``max_length`` tokens keep their start)."""
    if not texts:
        raise ValueError("no texts to embed")
    device = next(model.parameters()).device
    weighted: list[torch.Tensor] = []
    last: list[torch.Tensor] = []
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # similar lengths batch together
    for start in range(0, len(order), batch_size):
        batch = [texts[i] for i in order[start : start + batch_size]]
        # Right padding: real tokens keep positions 0..T-1 and never attend to padding, so a text's vectors do
        # not depend on its batch.
        encoded = tokenizer(batch, return_tensors="pt", padding=True, padding_side="right",
                            truncation=max_length is not None, max_length=max_length)  # fmt: skip
        mask = encoded["attention_mask"].to(device)
        with torch.inference_mode():
            out = model(input_ids=encoded["input_ids"].to(device), attention_mask=mask, output_hidden_states=True,
                        **_fewest_logits(model))  # fmt: skip
        weighted.append(torch.stack([position_weighted_mean(h, mask) for h in out.hidden_states]).cpu())
        last.append(torch.stack([last_token(h, mask) for h in out.hidden_states]).cpu())
        del out
    restore = np.argsort(order)  # back to the order given
    return SentenceVectors(torch.cat(weighted, dim=1).numpy()[:, restore], torch.cat(last, dim=1).numpy()[:, restore])


def _fewest_logits(model: Any) -> dict[str, int]:
    """Ask for one position's logits where the model allows it: only the hidden states are wanted, and the LM head
    over every position costs a (batch x tokens x vocabulary) product (262,144 wide for Gemma)."""
    import inspect

    return {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(model.forward).parameters else {}
