"""Sentence vectors from a decoder's hidden states, as MEXA computes them (cisnlp/MEXA ``embed_extractor.py``).

- Position-weighted mean: ``sum_t t * h_t / sum_t t`` over the sentence's tokens, ``t = 1..T`` counted from its
  first token (BOS included, as the reference's tokenizer adds it), so later tokens, which have seen more of the
  sentence, weigh more. The reference embeds one sentence at a time; counting positions from each row's first
  real token makes a left- or right-padded batch give the same vectors.
- Last token: the hidden state of the sentence's last real token.

Both in float32 (the reference casts to float32), one vector per layer, never keeping a batch's full hidden states
beyond the layer being pooled.
"""

from __future__ import annotations

import torch


def position_weighted_mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(batch, dim) from (batch, tokens, dim) hidden states and a (batch, tokens) 0/1 attention mask."""
    weights = (mask.cumsum(dim=-1) * mask).to(torch.float32)  # 1..T over real tokens, 0 on padding
    summed = (hidden.to(torch.float32) * weights.unsqueeze(-1)).sum(dim=1)
    return summed / weights.sum(dim=-1, keepdim=True)


def last_token(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(batch, dim): each row's hidden state at its last real token (left or right padding)."""
    positions = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)
    last = torch.where(mask.bool(), positions, torch.full_like(positions, -1)).max(dim=1).values
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last].to(torch.float32)
