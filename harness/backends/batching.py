"""How the transformers backend cuts its work into batches: choice items by their rows, generation requests by
their token budget."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from harness.backends.scoring import SharedPlan, shared_plan
from harness.backends.tokenization import EncodedChoice


@dataclass(frozen=True)
class ChoiceItem:
    index: int  # position in the caller's request list
    encoded: EncodedChoice

    @property
    def rows(self) -> int:
        return len(self.encoded.continuations)

    @cached_property
    def plan(self) -> SharedPlan:
        """The context extended by the continuations' common tokens, and what is left of each continuation."""
        return shared_plan(self.encoded)

    @property
    def longer_rows(self) -> int:
        """Continuations with more than one token after the common ones: the rows of a shared-context
        continuation pass."""
        return sum(1 for rest in self.plan.rests if len(rest) > 1)

    @property
    def length(self) -> int:
        return len(self.encoded.context) + max(len(c) for c in self.encoded.continuations)


def batches_by_rows(
    items: list[ChoiceItem],
    rows: int,
    max_items: int | None = None,
    rows_of: Callable[[ChoiceItem], int] = lambda item: item.rows,
    max_tokens: int | None = None,
) -> Iterator[list[ChoiceItem]]:
    """Consecutive items whose rows (``rows_of``: by default every continuation) add up to at most ``rows``, at
    most ``max_items`` items, and at most ``max_tokens`` padded tokens (items x the longest item's ``length``).
    An item is never split: one that exceeds a limit alone is a batch of its own."""
    batch: list[ChoiceItem] = []
    count = width = 0
    for item in items:
        size = rows_of(item)
        wider = max(width, item.length)
        full = (
            count + size > rows
            or (max_items is not None and len(batch) >= max_items)
            or (max_tokens is not None and wider * (len(batch) + 1) > max_tokens)
        )
        if batch and full:
            yield batch
            batch, count, wider = [], 0, item.length
        batch.append(item)
        count += size
        width = wider
    if batch:
        yield batch


def chunks_by(order: list[int], size: int, key: Any) -> Iterator[list[int]]:
    """Consecutive chunks of at most ``size`` indices sharing the same ``key``."""
    chunk: list[int] = []
    for index in order:
        if chunk and (len(chunk) == size or key(chunk[0]) != key(index)):
            yield chunk
            chunk = []
        chunk.append(index)
    if chunk:
        yield chunk
