"""Choice scoring on vLLM by forced decoding: the engine is made to emit a given token path, and each step's
sampled-token log-prob is that token's score.

Why: vLLM caches whole KV blocks only (32 tokens on CPU) and computes prompt log-probs with the LM head (Gemma's
is 262,144 wide) at every position it computes. Reading continuation tokens as prompt log-probs recomputes the
shared prefix's last partial block and runs the LM head over it; reading them from next-token distributions, one
request per token, recomputes that block once per token. A forced walk computes each token of its path once (the
prompt in the prefill, then one token a decoding step) and the LM head only at the steps it reads.

A ``Walk``: the engine gets ``prompt`` and emits ``path`` token by token, forced by
``vllm_forcing.ForcedPathProcessor`` (a vLLM logits processor the engine is started with). Log-probs and ranks
come from the raw logits (vLLM's default ``logprobs_mode``), before any processor, so forcing changes no score:
step k's sampled-token entry is the log-prob and vocabulary rank of ``path[k]`` (rank 1: no token as likely, the
greedy flag). At step ``branch`` the request also returns the log-probs of ``read_ids`` (every continuation's first
token); their greedy flags need that step's argmax, which forcing hides, so the processor notes it and emits it
after the path: the token at output ``len(path)`` is the argmax at ``branch`` (a branch at ``len(path)`` is simply
not forced, and greedy sampling emits it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WALK_ARG = "xlh_forced_walk"  # SamplingParams.extra_args key: {"path": [token ids], "branch": step or None}
PROCESSOR = "harness.backends.vllm_forcing:ForcedPathProcessor"  # as the engine loads it (in any process)


@dataclass(frozen=True)
class Walk:
    """One forced request: ``prompt``, then ``path`` emitted; ``branch`` (a step, at most ``len(path)``) is where
    ``read_ids`` are read and whose argmax is reported after the path."""

    prompt: tuple[int, ...]
    path: tuple[int, ...]
    branch: int | None = None
    read_ids: tuple[int, ...] = ()

    @property
    def max_tokens(self) -> int:
        return len(self.path) + (self.branch is not None)

    def sampling_params(self) -> Any:
        from vllm import SamplingParams

        return SamplingParams(
            max_tokens=self.max_tokens,
            temperature=0.0,
            ignore_eos=True,  # a forced token may be EOS; the walk must go on
            detokenize=False,
            flat_logprobs=True,
            # Sampled-token entries only (log-prob and rank), or those plus the branch's reads.
            logprobs=None if self.read_ids else 0,
            logprob_token_ids=list(self.read_ids) or None,
            extra_args={WALK_ARG: {"path": list(self.path), "branch": self.branch}},
        )


@dataclass(frozen=True)
class Step:
    """What one decoding step of a walk returned."""

    token: int  # the sampled (forced) token
    logprob: float
    rank: int  # its vocabulary rank

    @property
    def greedy(self) -> bool:
        return self.rank == 1  # no token as likely


@dataclass(frozen=True)
class WalkResult:
    steps: tuple[Step, ...]  # one per path token
    branch_reads: dict[int, float]
    branch_argmax: int | None


def read_walk(walk: Walk, output: Any) -> WalkResult:
    """The steps of ``walk`` from vLLM's ``RequestOutput``; a step that did not emit its path token (an engine
    started without ``ForcedPathProcessor``) is an error rather than a wrong score."""
    sample = output.outputs[0]
    logprobs = sample.logprobs  # FlatLogprobs: per step, the sampled token first, then the requested ids
    steps = [
        Step(int(sample.token_ids[index]), float(logprobs.logprobs[start]), int(logprobs.ranks[start]))
        for index, start in enumerate(logprobs.start_indices[: walk.max_tokens])
    ]
    followed = tuple(step.token for step in steps[: len(walk.path)])
    if followed != walk.path:
        raise RuntimeError(f"the engine left the forced path {list(walk.path)} (emitted {list(followed)})")
    if walk.branch is None:
        return WalkResult(tuple(steps), {}, None)
    start, end = logprobs.start_indices[walk.branch], logprobs.end_indices[walk.branch]
    reads = dict(zip(logprobs.token_ids[start + 1 : end], logprobs.logprobs[start + 1 : end], strict=True))
    return WalkResult(tuple(steps[: len(walk.path)]), reads, steps[len(walk.path)].token)


__all__ = ["PROCESSOR", "WALK_ARG", "Step", "Walk", "WalkResult", "read_walk"]
