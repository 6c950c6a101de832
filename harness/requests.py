"""The two request kinds a task can ask of a backend, and the answers backends give back.

Tasks speak about the benchmark (prompts, stop sequences, continuations); backends about models
(tokens, batches). These records are the whole vocabulary between the two.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MAX_NEW_TOKENS = 256


@dataclass(frozen=True)
class GenerationRequest:
    """Generate a continuation of ``prompt`` until a stop sequence, EOS or ``max_new_tokens``.

    Decoding is greedy unless the run's sampling parameters say otherwise.
    """

    prompt: str
    stop: tuple[str, ...] = ()
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS


@dataclass(frozen=True)
class ChoiceRequest:
    """Score each continuation given one shared context (log-likelihood of the continuation tokens).

    An empty context means "score the continuation from the start of the sequence"; backends condition
    on the model's BOS (or EOS) token then, as lm-eval does.
    """

    context: str
    continuations: tuple[str, ...]


Request = GenerationRequest | ChoiceRequest


@dataclass(frozen=True)
class ChoiceScores:
    """Per continuation: summed token log-probability, number of tokens, whether greedy decoding would
    have produced exactly these tokens."""

    loglikelihoods: tuple[float, ...]
    token_counts: tuple[int, ...]
    is_greedy: tuple[bool, ...]


Response = str | ChoiceScores
