import numpy as np
import pytest

from tests.tolerances import LOGLIKELIHOOD_FLOOR, assert_loglikelihoods_match, loglikelihood_tolerance

XLH, LMEVAL = -376.01601, -376.01614  # gemma-3-270m, XNLI sw, float32 on two CPUs


@pytest.mark.parametrize("tokens", [3, 20, 150])
def test_the_float32_summation_difference_seen_on_xnli_sw_passes(tokens: int) -> None:
    assert abs(XLH - LMEVAL) == pytest.approx(1.3e-4, abs=1e-6)
    assert abs(XLH - LMEVAL) <= loglikelihood_tolerance(LMEVAL, tokens)
    assert_loglikelihoods_match([XLH], [LMEVAL], [tokens])


def test_a_real_discrepancy_on_the_same_sum_is_rejected() -> None:
    assert loglikelihood_tolerance(LMEVAL, 150) < 1e-2
    with pytest.raises(AssertionError):
        assert_loglikelihoods_match([LMEVAL + 1e-2], [LMEVAL], [150])


def test_small_sums_get_the_absolute_floor() -> None:
    assert loglikelihood_tolerance(-0.5, 1) == LOGLIKELIHOOD_FLOOR
    assert loglikelihood_tolerance(0.0, 0) == LOGLIKELIHOOD_FLOOR
    with pytest.raises(ValueError):
        loglikelihood_tolerance(-1.0, -1)


def test_float32_sums_in_any_order_stay_within_the_tolerance() -> None:
    """The bound holds for what it models: the same float32 log-probs summed in different orders, and in
    float64 (as xlh sums them)."""
    rng = np.random.default_rng(0)
    for tokens in (2, 10, 150, 1000):
        logprobs = (-rng.exponential(3.0, size=tokens)).astype(np.float32)
        exact = float(np.sum(logprobs, dtype=np.float64))
        for _ in range(20):
            shuffled = rng.permutation(logprobs)
            total = np.float32(0.0)
            for x in shuffled:  # sequential float32 accumulation, as a token-by-token loop does
                total = np.float32(total + x)
            assert abs(float(total) - exact) <= loglikelihood_tolerance(exact, tokens) / 2, tokens
