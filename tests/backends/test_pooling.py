"""Sentence vectors from hidden states as MEXA's embed_extractor.py computes them, by hand, and independent of
padding side."""

from __future__ import annotations

import torch

from harness.backends.pooling import last_token, position_weighted_mean


def test_position_weighted_mean_equals_a_hand_computation_and_ignores_padding() -> None:
    torch.manual_seed(0)
    sentence = torch.randn(4, 8)  # 4 tokens (BOS included), dim 8
    expected = sum((t + 1) * sentence[t] for t in range(4)) / (1 + 2 + 3 + 4)
    right = torch.cat([sentence, torch.randn(2, 8)]).unsqueeze(0)  # two padding positions after it
    left = torch.cat([torch.randn(2, 8), sentence]).unsqueeze(0)
    assert torch.allclose(position_weighted_mean(right, torch.tensor([[1, 1, 1, 1, 0, 0]])), expected, atol=1e-6)
    assert torch.allclose(position_weighted_mean(left, torch.tensor([[0, 0, 1, 1, 1, 1]])), expected, atol=1e-6)


def test_last_token_takes_each_rows_last_real_token() -> None:
    hidden = torch.arange(2 * 5 * 3, dtype=torch.float32).reshape(2, 5, 3)
    mask = torch.tensor([[1, 1, 1, 0, 0], [0, 0, 1, 1, 1]])
    assert torch.equal(last_token(hidden, mask), torch.stack([hidden[0, 2], hidden[1, 4]]))
