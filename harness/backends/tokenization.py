"""Turning choice requests into tokens exactly as lm-eval 0.4.13 does, for every backend that tokenises
locally (transformers now, vLLM later), so log-likelihoods are comparable across engines and harnesses.

- Trailing whitespace of the context moves to the continuation (``"Answer: " + "B"`` is scored as
  ``"Answer:" + " B"``), so word-initial tokens look as they do in running text.
- The continuation's tokens are those of ``encode(context + continuation)`` after the first
  ``len(encode(context))`` tokens; the model sees ``encode(context)`` followed by them.
- An empty context conditions on the prefix token (BOS, or EOS when the model has none).

Inputs that do not fit the model are cut from the left by ``truncate_left``, which keeps a leading BOS token
(lm-eval does not; for inputs that fit nothing differs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EncodedChoice:
    """The shared context tokens and one token list per continuation (each non-empty); ``truncated``: how
    many context tokens were cut to fit the model (``truncate_left``)."""

    context: tuple[int, ...]
    continuations: tuple[tuple[int, ...], ...]
    truncated: int = 0


def truncate_left(tokens: Sequence[int], keep: int, bos_token_id: int | None) -> tuple[tuple[int, ...], int]:
    """The last ``keep`` tokens of ``tokens`` and how many were cut; a leading BOS token stays in front.

    lm-eval cuts an input that does not fit from the left without exception (``tokens[-keep:]``), so BOS
    is the first token lost and the model reads text that starts mid-sentence without the token every
    training sequence started with. xlh deliberately differs from lm-eval for those inputs only: when
    ``tokens`` starts with ``bos_token_id`` (and ``keep`` leaves room for it and one more token), the result
    is BOS followed by the last ``keep - 1`` tokens. Inputs of at most ``keep`` tokens come back unchanged,
    so every input that fits is encoded exactly as lm-eval encodes it.

    Args:
        tokens: the encoded input, BOS (if any) first.
        keep: how many tokens fit (at least 1).
        bos_token_id: the tokenizer's BOS token, or None when it has none.

    Returns:
        The kept tokens and the number of tokens cut (0 when the input fits).
    """
    if keep < 1:
        raise ValueError(f"cannot keep {keep} tokens: at least one must fit")
    cut = len(tokens) - keep
    if cut <= 0:
        return tuple(tokens), 0
    if keep >= 2 and bos_token_id is not None and tokens[0] == bos_token_id:
        return (tokens[0], *tokens[cut + 1 :]), cut
    return tuple(tokens[cut:]), cut


# A prompt too long for its generation budget first gives up budget, down to this many tokens (lm-eval's
# generation budget), and only then loses its start. See fit_generation.
PROTECTED_BUDGET = 256


def fit_generation(
    tokens: Sequence[int], max_new_tokens: int, max_length: int, bos_token_id: int | None
) -> tuple[tuple[int, ...], int, int]:
    """A prompt and its generation budget fitted into a context of ``max_length`` tokens: the kept prompt
    tokens, the budget and the number of prompt tokens cut.

    lm-eval keeps the budget whole and cuts the prompt to ``max_length - max_new_tokens``. With budgets of
    at most PROTECTED_BUDGET (MGSM, XQuAD) xlh does the same, so every lm-eval prompt is encoded alike. A
    larger budget (FLORES sizes its budget from the source sentence: up to ~3,000 tokens into Shan) first
    shrinks to the room the prompt leaves, down to PROTECTED_BUDGET, before the prompt loses anything: on a
    2,048-token model the prompt would otherwise shrink to a few tokens and nothing would be translated. A
    generation the smaller budget stops says so (finish reason "length").
    """
    wanted = min(max_new_tokens, max_length - 1)
    room = max_length - len(tokens)
    budget = min(wanted, max(room, min(wanted, PROTECTED_BUDGET)))
    kept, cut = truncate_left(tokens, max_length - budget, bos_token_id)
    return kept, budget, cut


def special_tokens_kwargs(add_bos_token: bool | None) -> dict[str, bool]:
    """Keyword arguments for ``tokenizer.encode``: the tokenizer's own default unless told otherwise."""
    return {} if add_bos_token is None else {"add_special_tokens": add_bos_token}


def pad_token_id(tokenizer: Any) -> int:
    """The id padding positions hold (never attended to): the tokenizer's pad token, else EOS, else 0."""
    for candidate in (tokenizer.pad_token_id, tokenizer.eos_token_id, 0):
        if candidate is not None:
            return int(candidate)
    return 0


def prefix_token_id(tokenizer: Any) -> int:
    """Token that stands in for an empty context: BOS, or EOS for tokenizers without BOS."""
    if tokenizer.bos_token_id is not None:
        return int(tokenizer.bos_token_id)
    if tokenizer.eos_token_id is None:
        raise ValueError("the tokenizer has neither a BOS nor an EOS token to condition an empty context on")
    return int(tokenizer.eos_token_id)


def encode_choice(
    tokenizer: Any, context: str, continuations: tuple[str, ...], add_bos_token: bool | None = None
) -> EncodedChoice:
    """Encode one choice request the way lm-eval's ``loglikelihood`` does."""
    kwargs = special_tokens_kwargs(add_bos_token)
    if context == "":
        prefix = prefix_token_id(tokenizer)
        encoded = [tuple(tokenizer.encode(text, add_special_tokens=False)) for text in continuations]
        # lm-eval: when a continuation already starts with the prefix token, that token becomes the context.
        starts = {tokens[:1] for tokens in encoded}
        if starts == {(prefix,)}:
            return EncodedChoice(context=(prefix,), continuations=tuple(tokens[1:] for tokens in encoded))
        if (prefix,) in starts:
            raise ValueError("continuations disagree on starting with the prefix token; cannot share a context")
        return EncodedChoice(context=(prefix,), continuations=tuple(encoded))

    spaces = len(context) - len(context.rstrip())
    moved = context[len(context) - spaces :] if spaces else ""
    stem = context[: len(context) - spaces] if spaces else context
    context_tokens = tuple(tokenizer.encode(stem, **kwargs))
    continuation_tokens = []
    for text in continuations:
        whole = tokenizer.encode(stem + moved + text, **kwargs)
        continuation_tokens.append(tuple(whole[len(context_tokens) :]))
    return EncodedChoice(context=context_tokens, continuations=tuple(continuation_tokens))
