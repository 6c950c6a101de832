"""Turning choice requests into tokens exactly as lm-eval 0.4.13 does, for every backend that tokenises
locally (transformers now, vLLM later), so log-likelihoods are comparable across engines and harnesses.

- Trailing whitespace of the context moves to the continuation (``"Answer: " + "B"`` is scored as
  ``"Answer:" + " B"``), so word-initial tokens look as they do in running text.
- The continuation's tokens are those of ``encode(context + continuation)`` after the first
  ``len(encode(context))`` tokens; the model sees ``encode(context)`` followed by them.
- An empty context conditions on the prefix token (BOS, or EOS when the model has none).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EncodedChoice:
    """The shared context tokens and one token list per continuation (each non-empty)."""

    context: tuple[int, ...]
    continuations: tuple[tuple[int, ...], ...]


def special_tokens_kwargs(add_bos_token: bool | None) -> dict[str, bool]:
    """Keyword arguments for ``tokenizer.encode``: the tokenizer's own default unless told otherwise."""
    return {} if add_bos_token is None else {"add_special_tokens": add_bos_token}


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
