"""A run's ``EmbedRequest``s, answered one language at a time just before that language is scored.

Every other request kind is answered for the whole run first (one backend call per kind, so vLLM sees all of
them at once). Hidden-state vectors are too large for that: every layer's vectors of a sentence take 100 kB for
a 270M model and a megabyte for a 7B one, so a 204-language alignment run would hold gigabytes. Here only one
language's vectors (and those of texts every language shares, English's, computed once) exist at a time; once
scored, they go with the language's units. They never enter the response store (``CachingBackend.embed``).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from tqdm.auto import tqdm

from harness.api.requests import Embedding, EmbedRequest
from harness.run.scoring import LanguageWork, Unit


class EmbeddingStream:
    """Passes a run's language works through, first answering their ``EmbedRequest``s with ``engine.embed``."""

    def __init__(self, engine: Any, units: Iterable[Unit], progress: bool = True) -> None:
        self.engine = engine
        texts = Counter(
            request.text for unit in units for request in unit.requests if isinstance(request, EmbedRequest)
        )
        self.shared = {text for text, count in texts.items() if count > 1}  # English, paired with every language
        self.total = len(texts)
        self.progress = progress
        self.seconds = 0.0

    def __call__(self, works: Iterable[LanguageWork]) -> Iterator[LanguageWork]:
        kept: dict[str, Embedding] = {}
        bar = tqdm(total=self.total, desc="embedding", unit="text", disable=not (self.progress and self.total))
        for work in works:
            wanted = [(unit, slot, request) for unit in work.units for slot, request in enumerate(unit.requests)
                      if isinstance(request, EmbedRequest)]  # fmt: skip
            if wanted:
                started = time.perf_counter()
                new = list(dict.fromkeys(request.text for _, _, request in wanted if request.text not in kept))
                answers = dict(zip(new, self.engine.embed([EmbedRequest(text) for text in new]), strict=True))
                self.seconds += time.perf_counter() - started
                bar.update(len(new))
                kept.update((text, answer) for text, answer in answers.items() if text in self.shared)
                for unit, slot, request in wanted:
                    unit.answers[slot] = kept.get(request.text) or answers[request.text]
            yield work
        bar.close()


__all__ = ["EmbeddingStream"]
