"""Choice scoring shared by the engines that tokenise locally (vLLM in-process, OpenAI-compatible servers):
the lm-eval tokenisation of ``tokenization.py`` plus the truncation rule of the transformers backend, and
the plan that lets every continuation of a request share one context computation.

A choice request's continuations often share more than the context: XNLI's ``sentence`` variant puts the
whole premise into every continuation, so the shared part is the context plus the longest common token
prefix of the continuations. The log-probabilities of those shared tokens are the same for every
continuation (same tokens before them, same target), so they are computed once and added to each.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.api.requests import ChoiceRequest, ChoiceScores
from harness.backends.tokenization import EncodedChoice, encode_choice, truncate_left


def encode_for_scoring(
    tokenizer: Any, request: ChoiceRequest, max_length: int, add_bos_token: bool | None = None
) -> EncodedChoice:
    """Encode like lm-eval; a context too long for ``max_length`` input positions (context and the longest
    continuation, less the last token, which is only a target) keeps its BOS and its end
    (``truncate_left``; lm-eval keeps only the end), and ``truncated`` counts the tokens cut."""
    encoded = encode_choice(tokenizer, request.context, request.continuations, add_bos_token)
    for text, tokens in zip(request.continuations, encoded.continuations, strict=True):
        if not tokens:
            raise ValueError(f"continuation {text!r} encodes to no tokens (context {request.context[-80:]!r})")
    longest = max(len(tokens) for tokens in encoded.continuations)
    keep = max(1, max_length + 1 - longest)
    context, cut = truncate_left(encoded.context, keep, tokenizer.bos_token_id)
    return EncodedChoice(context=context, continuations=encoded.continuations, truncated=cut) if cut else encoded


@dataclass(frozen=True)
class SharedPlan:
    """One choice request split for shared computation.

    ``prefix`` = context + the continuations' common tokens (``common`` of them); every continuation
    keeps at least one token of its own (``rests``), so the prefix's next-token distribution scores
    the first token of every rest.
    """

    context_length: int
    prefix: tuple[int, ...]
    rests: tuple[tuple[int, ...], ...]

    @property
    def common(self) -> int:
        return len(self.prefix) - self.context_length

    @property
    def first_tokens(self) -> list[int]:
        """The distinct first tokens of the rests, in first-seen order."""
        return list(dict.fromkeys(rest[0] for rest in self.rests))


def shared_plan(encoded: EncodedChoice) -> SharedPlan:
    conts = encoded.continuations
    common = 0
    shortest = min(len(c) for c in conts)
    # Leave every continuation at least one token of its own.
    while common < shortest - 1 and len({c[common] for c in conts}) == 1 and len(conts) > 1:
        common += 1
    prefix = encoded.context + conts[0][:common]
    return SharedPlan(len(encoded.context), prefix, tuple(c[common:] for c in conts))


@dataclass
class TokenScores:
    """Running sum of token log-probabilities, token count and greedy flag of one continuation."""

    logprob: float = 0.0
    count: int = 0
    greedy: bool = True

    def add(self, logprob: float, greedy: bool) -> None:
        if math.isnan(logprob):
            raise ValueError("the engine returned NaN for a token log-probability")
        self.logprob += logprob
        self.count += 1
        self.greedy = self.greedy and greedy

    def extend(self, other: TokenScores) -> None:
        self.logprob += other.logprob
        self.count += other.count
        self.greedy = self.greedy and other.greedy


def choice_scores(per_continuation: Sequence[TokenScores], truncated: int = 0) -> ChoiceScores:
    return ChoiceScores(
        loglikelihoods=tuple(s.logprob for s in per_continuation),
        token_counts=tuple(s.count for s in per_continuation),
        is_greedy=tuple(s.greedy for s in per_continuation),
        truncated_tokens=truncated,
    )


__all__ = ["SharedPlan", "TokenScores", "choice_scores", "encode_for_scoring", "shared_plan"]
