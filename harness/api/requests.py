"""The two request kinds a task can ask of a backend, and the answers backends give back.

Tasks speak about the benchmark (prompts, stop sequences, continuations); backends about models
(tokens, batches). These records are the whole vocabulary between the two.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MAX_NEW_TOKENS = 256


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """Generate a continuation of ``prompt`` until a stop sequence, EOS or ``max_new_tokens``.

    Decoding is greedy unless the run's sampling parameters say otherwise.
    """

    prompt: str
    stop: tuple[str, ...] = ()
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS


@dataclass(frozen=True, slots=True)
class ChoiceRequest:
    """Score each continuation given one shared context (log-likelihood of the continuation tokens).

    An empty context means "score the continuation from the start of the sequence"; backends condition
    on the model's BOS (or EOS) token then, as lm-eval does.
    """

    context: str
    continuations: tuple[str, ...]


Request = GenerationRequest | ChoiceRequest


@dataclass(frozen=True, slots=True)
class ChoiceScores:
    """Per continuation: summed token log-probability, number of tokens, whether greedy decoding would
    have produced exactly these tokens. ``truncated_tokens``: context tokens cut from the left (after the
    BOS token, which is kept) so that context and the longest continuation fit the model."""

    loglikelihoods: tuple[float, ...]
    token_counts: tuple[int, ...]
    is_greedy: tuple[bool, ...]
    truncated_tokens: int = 0


# Why a generation ended: a stop sequence of the request, the model's end-of-sequence token, or the token
# budget (``max_new_tokens``, or the context window). "length" answers are cut, not finished.
FINISH_REASONS = ("stop", "eos", "length")


@dataclass(frozen=True, slots=True)
class Generation:
    """A generated continuation (cut before its stop sequence), why it ended (one of ``FINISH_REASONS``),
    and how many prompt tokens were cut from the left (after BOS, which is kept) to leave room for
    ``max_new_tokens``."""

    text: str
    finish_reason: str
    truncated_tokens: int = 0

    def __post_init__(self) -> None:
        if self.finish_reason not in FINISH_REASONS:
            raise ValueError(f"unknown finish reason {self.finish_reason!r}; valid: {', '.join(FINISH_REASONS)}")


Answer = Generation | ChoiceScores  # what a backend returns for one request
Response = str | ChoiceScores  # what a task scores: a generation's text, or the choice scores
