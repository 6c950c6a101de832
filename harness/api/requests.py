"""The request kinds a task can ask of a backend, and the answers backends give back.

Tasks speak about the benchmark (prompts, stop sequences, continuations); backends about models
(tokens, batches). These records are the whole vocabulary between the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

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


@dataclass(frozen=True, slots=True)
class EmbedRequest:
    """Read ``text`` (with the tokenizer's special tokens, as a sentence encoder would) and return every layer's
    hidden states pooled into one vector per layer: alignment tasks compare these across languages."""

    text: str


Request = GenerationRequest | ChoiceRequest | EmbedRequest


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


@dataclass(frozen=True, slots=True, eq=False)
class Embedding:
    """Every layer's pooled hidden state of one text: ``weighted`` (MEXA's position-weighted mean over the
    text's tokens) and ``last_token``, each a float32 ``(layers, dim)`` array whose row 0 is the embedding
    layer's output. ``tokens``: how many tokens the text was read as (special tokens included);
    ``truncated_tokens``: tokens cut from its end to fit the model."""

    weighted: np.ndarray
    last_token: np.ndarray
    tokens: int
    truncated_tokens: int = 0

    def summary(self) -> dict[str, int]:
        """What ``samples.jsonl`` keeps of it: its shape, not its numbers (a 7B model's vectors of one sentence
        take a megabyte; the scores computed from them are kept instead)."""
        layers, dim = self.weighted.shape
        return {"layers": int(layers), "dim": int(dim), "tokens": self.tokens}


Answer = Generation | ChoiceScores | Embedding  # what a backend returns for one request
Response = str | ChoiceScores | Embedding  # what a task scores: a generation's text, the choice scores, vectors
