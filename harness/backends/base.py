"""The backend protocol: two batched methods, answers in request order, and a description of itself."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from harness.api.requests import ChoiceRequest, ChoiceScores, Generation, GenerationRequest
from harness.seeds import DEFAULT_SEED


@dataclass(frozen=True)
class GenerationParams:
    """Run-wide sampling parameters. Greedy (temperature 0) unless asked otherwise; the seed is always set."""

    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = DEFAULT_SEED

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0


@dataclass(frozen=True)
class BackendInfo:
    """What a results file records about the engine that produced the answers."""

    name: str
    versions: dict[str, str]
    device: str
    dtype: str
    options: dict[str, object] = field(default_factory=dict)


class Backend(Protocol):
    """A model behind a small batched interface. Implementations must return answers in request order."""

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Greedy (or run-parameter) continuations, cut at the first stop sequence (which is removed), each
        with its finish reason and the number of prompt tokens truncated."""
        ...

    def score_choices(self, requests: Sequence[ChoiceRequest]) -> list[ChoiceScores]:
        """Log-likelihood of every continuation of every request, given the request's context."""
        ...

    def info(self) -> BackendInfo: ...

    def close(self) -> None: ...
