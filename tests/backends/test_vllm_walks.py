"""Forced walks: the request a walk sends and how its reply is read (vLLM's own log-prob containers)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from harness.backends.vllm_walks import WALK_ARG, Walk, read_walk
from tests.backends.conftest import require_vllm


def _reply(steps: list[list[tuple[int, float, int]]]):
    """A RequestOutput as vLLM builds it with flat_logprobs: per step, the sampled token first, then the reads."""
    require_vllm()
    from vllm.logprobs import FlatLogprobs

    logprobs = FlatLogprobs()
    for entries in steps:
        token_ids, values, ranks = zip(*entries, strict=True)
        logprobs.append_fast(list(token_ids), list(values), iter(ranks), [None] * len(entries))
    sample = SimpleNamespace(token_ids=[entries[0][0] for entries in steps], logprobs=logprobs)
    return SimpleNamespace(outputs=[sample])


def test_a_walk_asks_for_its_path_reads_and_the_reported_argmax() -> None:
    require_vllm()
    walk = Walk(prompt=(1, 2), path=(7, 8, 9), branch=1, read_ids=(8, 30))
    params = walk.sampling_params()
    assert params.max_tokens == 4 and params.ignore_eos and params.temperature == 0.0
    assert params.logprob_token_ids == [8, 30] and params.extra_args == {WALK_ARG: {"path": [7, 8, 9], "branch": 1}}
    plain = Walk(prompt=(1,), path=(5,)).sampling_params()
    assert plain.max_tokens == 1 and plain.logprobs == 0 and plain.logprob_token_ids is None


def test_the_reply_is_read_per_step_with_the_branch_reads_and_argmax() -> None:
    walk = Walk(prompt=(1, 2), path=(7, 8, 9), branch=1, read_ids=(8, 30))
    reply = _reply(
        [
            [(7, -0.5, 1), (8, -3.0, 1), (30, -4.0, 2)],
            [(8, -2.0, 3), (8, -2.0, 1), (30, -1.0, 2)],  # the branch: 30 beats the forced 8
            [(9, -0.1, 1), (8, -5.0, 1), (30, -6.0, 2)],
            [(30, -9.0, 40), (8, -7.0, 1), (30, -9.0, 2)],  # after the path: the argmax noted at the branch
        ]
    )
    result = read_walk(walk, reply)
    assert [(s.token, s.logprob, s.rank) for s in result.steps] == [(7, -0.5, 1), (8, -2.0, 3), (9, -0.1, 1)]
    assert result.branch_reads == {8: -2.0, 30: -1.0}
    assert result.branch_argmax == 30


def test_a_reply_off_the_forced_path_is_an_error() -> None:
    walk = Walk(prompt=(1,), path=(7, 8))
    reply = _reply([[(7, -0.5, 1)], [(4, -0.2, 1)]])  # an engine without the processor sampled freely
    with pytest.raises(RuntimeError, match=r"left the forced path \[7, 8\] \(emitted \[7, 4\]\)"):
        read_walk(walk, reply)
