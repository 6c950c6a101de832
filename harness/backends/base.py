"""The backend protocol: two batched methods, answers in request order, and a description of itself; a third,
``embed``, where the engine can return every layer's hidden states (``HiddenStatesBackend``)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from harness.api.requests import ChoiceRequest, ChoiceScores, Embedding, EmbedRequest, Generation, GenerationRequest
from harness.errors import ConfigError
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


class HiddenStatesBackend(Backend, Protocol):
    """A backend that can also read texts and return every layer's pooled hidden states (alignment tasks)."""

    def embed(self, requests: Sequence[EmbedRequest]) -> list[Embedding]:
        """Every layer's position-weighted mean and last-token vectors of each request's text."""
        ...


def embedder(engine: Backend, backend_name: str) -> Callable[[Sequence[EmbedRequest]], list[Embedding]]:
    """The engine's ``embed``, or a ConfigError naming the backend that lacks it and the one to use."""
    method = getattr(engine, "embed", None)
    if method is None:
        raise ConfigError(
            f"backend {backend_name!r} cannot return every layer's hidden states, which alignment tasks read; "
            "run them with --backend hf (BACKEND=hf), in one process (without --workers)"
        )
    return method  # type: ignore[no-any-return]


# The kinds of request a backend answers, by the name the response store and the workers use for them.
REQUEST_KINDS = ("generate", "choice")


def input_characters(request: GenerationRequest | ChoiceRequest) -> int:
    """The text a request makes the model read (a prompt; a context and every continuation): what chunking and
    the progress display estimate a request's cost from."""
    if isinstance(request, GenerationRequest):
        return len(request.prompt)
    return len(request.context) + sum(len(c) for c in request.continuations)


def answer_method(engine: Backend, kind: str) -> Callable[[Sequence[Any]], Sequence[Any]]:
    """The engine's method for ``kind``: ``generate`` or ``score_choices`` (``choice``)."""
    if kind not in REQUEST_KINDS:
        raise ValueError(f"unknown request kind {kind!r}; valid: {', '.join(REQUEST_KINDS)}")
    return engine.generate if kind == "generate" else engine.score_choices  # type: ignore[return-value]


def answer_chunks(engine: Backend, kind: str, batches: Sequence[Sequence[Any]]) -> Iterator[tuple[int, list[Any]]]:
    """(position, answers) of every batch: ``kind`` is ``generate`` or ``choice``. An engine that answers many
    batches at once (a pool of workers: ``compute_chunks``) yields them as they complete; any other answers
    them one after another, in order. An error while answering one says which (``chunk_position``)."""
    chunked = getattr(engine, "compute_chunks", None)
    if chunked is not None:
        yield from chunked(kind, batches)
        return
    method = answer_method(engine, kind)
    for position, batch in enumerate(batches):
        try:
            answers = method(batch)
        except Exception as error:
            with contextlib.suppress(AttributeError):
                error.chunk_position = position  # type: ignore[attr-defined]
            raise
        yield position, list(answers)
