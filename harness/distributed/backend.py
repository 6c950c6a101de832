"""The backend protocol over a pool of workers: what a run with workers talks to instead of an engine."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from harness.api.requests import ChoiceRequest, ChoiceScores, Generation, GenerationRequest
from harness.backends.base import BackendInfo
from harness.distributed.pool import RunDispatch


class WorkersBackend:
    """One run's engine, held by the pool's workers. ``compute_chunks`` answers many chunks at once (the
    response store sends its chunks that way); ``generate``/``score_choices`` send one chunk."""

    def __init__(self, dispatch: RunDispatch) -> None:
        self.dispatch = dispatch
        self._info = dispatch.info()  # loads the model on the workers the run can have now

    def info(self) -> BackendInfo:
        return self._info

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        return self._one_chunk("generate", requests)

    def score_choices(self, requests: Sequence[ChoiceRequest]) -> list[ChoiceScores]:
        return self._one_chunk("choice", requests)

    def compute_chunks(self, kind: str, batches: Sequence[Sequence[Any]]) -> Iterator[tuple[int, list[Any]]]:
        return self.dispatch.compute_chunks(kind, batches)

    def timings(self) -> dict[str, Any]:
        return self.dispatch.timings()

    def close(self) -> None:
        self.dispatch.close()

    def _one_chunk(self, kind: str, requests: Sequence[Any]) -> list[Any]:
        if not requests:
            return []
        answers = dict(self.compute_chunks(kind, [list(requests)]))
        return answers[0]
