"""Tolerances for comparing numbers that two engines or harnesses compute in floating point.

Predictions (acc, argmax, greedy flags) are compared exactly; only the summed log-probabilities behind
them get a tolerance, and that tolerance scales with their magnitude.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

FLOAT32_EPS = float(np.finfo(np.float32).eps)  # 2**-23 ~ 1.19e-7; unit roundoff u = eps / 2
# Below this, differences are noise whatever the sum's size: log-softmax rounds each token's log-prob to
# about u * |logit| in absolute terms (~1e-6 for logits ~ 20), and one side may sum in float64.
LOGLIKELIHOOD_FLOOR = 1e-4


def loglikelihood_tolerance(value: float, tokens: int) -> float:
    """The largest difference allowed between two float32 sums of ``tokens`` token log-probabilities
    whose exact value is about ``value``: ``max(1e-4, tokens * float32_eps * |value|)``.

    Why: recursive summation of n terms in floating point with unit roundoff u (u = eps / 2 = 2**-24 in
    float32) is off by at most gamma_{n-1} * sum |x_i|, with gamma_k = k*u / (1 - k*u) ~ k*u (Higham,
    "Accuracy and Stability of Numerical Algorithms", 2nd ed., eq. 4.4). Token log-probabilities are all
    <= 0, so sum |x_i| = |value|. Two engines summing in different orders (another CPU, another BLAS
    blocking, float32 against float64) are each within that bound of the exact sum, so they differ by at
    most 2 * (n - 1) * u * |value| < n * eps * |value|. Errors in the terms themselves (each token's
    log-softmax rounded in float32) are relative to the same magnitudes and are covered by the same
    margin, or by the absolute floor of 1e-4 on short continuations.

    Example: gemma-3-270m's XNLI sw sentence scored -376.01601 by xlh and -376.01614 by lm-eval (difference
    1.3e-4, relative 3.5e-7) passes for any n >= 3 (150 tokens allow 6.7e-3), while a real discrepancy of
    1e-2 on the same sum is still rejected up to 223 tokens.

    Args:
        value: the summed log-probability (either side's; they agree to far better than a factor of 2).
        tokens: how many token log-probabilities were summed (the continuation's token count).

    Returns:
        The absolute tolerance, never below ``LOGLIKELIHOOD_FLOOR``.
    """
    if tokens < 0:
        raise ValueError(f"tokens must be >= 0, got {tokens}")
    return max(LOGLIKELIHOOD_FLOOR, tokens * FLOAT32_EPS * abs(value))


def assert_loglikelihoods_match(
    ours: Sequence[float], theirs: Sequence[float], token_counts: Sequence[int], where: object = None
) -> None:
    """Each of ``ours`` equals the matching one of ``theirs`` within ``loglikelihood_tolerance``."""
    assert len(ours) == len(theirs) == len(token_counts), (where, ours, theirs, token_counts)
    for mine, reference, tokens in zip(ours, theirs, token_counts, strict=True):
        tolerance = loglikelihood_tolerance(reference, tokens)
        assert abs(mine - reference) <= tolerance, (where, mine, reference, f"tolerance {tolerance:.3g}")
