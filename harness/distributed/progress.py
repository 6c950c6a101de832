"""One progress display for a run with workers: requests answered, estimated tokens per second, and each
worker's count. The workers draw nothing themselves."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from tqdm import tqdm

from harness.api.requests import ChoiceRequest, GenerationRequest
from harness.backends.base import input_characters

# Characters per token for the display's estimate (English-like text; the display only, never a result).
CHARS_PER_TOKEN = 4


def estimated_tokens(request: Any) -> int:
    """Prompt tokens of a request, estimated from the characters the model reads."""
    characters = input_characters(request) if isinstance(request, GenerationRequest | ChoiceRequest) else 0
    return max(1, characters // CHARS_PER_TOKEN)


class PoolProgress:
    """A tqdm bar over every request sent to the pool, with per-worker counts and ~tokens/s."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: tqdm | None = None
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._tokens = 0
        self._per_worker: dict[str, int] = {}

    def add(self, requests: int) -> None:
        with self._lock:
            if self._bar is None:
                self._bar = tqdm(total=0, desc="workers", unit="req", disable=not self.enabled)
                self._started = time.monotonic()
            self._bar.total += requests
            self._bar.refresh()

    def done(self, worker: str, batch: Sequence[Any]) -> None:
        with self._lock:
            self._per_worker[worker] = self._per_worker.get(worker, 0) + len(batch)
            self._tokens += sum(estimated_tokens(request) for request in batch)
            if self._bar is not None:
                rate = self._tokens / max(time.monotonic() - self._started, 1e-9)
                counts = " ".join(f"{name}:{count}" for name, count in sorted(self._per_worker.items()))
                self._bar.set_postfix_str(f"~{rate:,.0f} tok/s {counts}", refresh=False)
                self._bar.update(len(batch))

    def close(self) -> None:
        """End the display; the next request starts a new one (the next run's)."""
        with self._lock:
            if self._bar is not None:
                self._bar.close()
            self._bar, self._tokens, self._per_worker = None, 0, {}
