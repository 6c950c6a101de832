"""Where a generation ends, the same in every backend: the earliest stop sequence, the end-of-sequence ids a
generation config names, and the finish reason ("stop", "eos" or "length") results record."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any


def finish_reason(text: str, stop: Sequence[str], token_ids: Sequence[int], eos_ids: Collection[int]) -> str:
    """Why a generation ended, from its decoded ``text`` (stop sequences not yet cut) and its token ids.

    "stop" when a stop sequence occurs in the text (decoding halts as soon as one appears, so nothing,
    EOS included, can follow it), else "eos" when an end-of-sequence token was generated, else "length".
    The rule vLLM applies (``vllm_finish_reason``): the backends agree on the same generations.
    """
    if any(sequence and sequence in text for sequence in stop):
        return "stop"
    if any(token in eos_ids for token in token_ids):
        return "eos"
    return "length"


def eos_ids(generation_config: Any) -> frozenset[int]:
    """The token ids ``model.generate`` stops at (the generation config's ``eos_token_id``: one or a list)."""
    value = getattr(generation_config, "eos_token_id", None)
    if value is None:
        return frozenset()
    return frozenset([int(value)] if isinstance(value, int) else (int(v) for v in value))


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """The text before the earliest occurrence of any stop sequence."""
    cut = len(text)
    for sequence in stop:
        if sequence:
            found = text.find(sequence)
            if found != -1:
                cut = min(cut, found)
    return text[:cut]
