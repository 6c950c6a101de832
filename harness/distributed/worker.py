"""One worker of a run with workers: a long-lived process (a Ray actor) holding one backend engine.

A worker keeps its engine between calls and across the runs of a study: it loads a model when first asked for
it and again only when asked for another model. It answers a chunk of requests exactly as the engine would in
the driver's own process (the same ``Backend`` call on the same chunk), so its answers equal a run without
workers up to the engine's own batch arithmetic.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.api.requests import ChoiceRequest, GenerationRequest
from harness.backends import create_backend
from harness.backends.base import Backend, BackendInfo, GenerationParams, answer_method


@dataclass(frozen=True)
class EngineSpec:
    """What a worker loads: everything ``create_backend`` is given. Equal specs load equal engines."""

    backend: str
    model: str
    generation: GenerationParams
    options: tuple[tuple[str, Any], ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, backend: str, model: str, generation: GenerationParams, options: dict[str, Any]) -> EngineSpec:
        # Workers draw no progress bars of their own: the driver shows one for the whole run.
        return cls(backend, model, generation, tuple(sorted({**options, "progress": False}.items())))

    def create(self) -> Backend:
        return create_backend(self.backend, self.model, self.generation, **dict(self.options))

    @property
    def threads_adjustable(self) -> bool:
        """Whether the engine computes on torch's CPU threads, so that a worker can take idle workers' cores
        for a chunk (transformers; vLLM binds its own threads)."""
        return self.backend in ("hf", "transformers")


@dataclass(frozen=True)
class ChunkAnswer:
    """A chunk's answers in request order, the info of the engine that computed them, and its times."""

    answers: list[Any]
    info: BackendInfo
    load_s: float  # 0 unless this call loaded the engine
    compute_s: float


class EngineWorker:
    """The body of a worker actor (``ray.remote(EngineWorker)``); plain Python, testable without Ray."""

    def __init__(self, threads: int | None = None) -> None:
        self.threads: int | None = None
        if threads:
            self.use_threads(threads)  # as the pool sized it, whatever Ray set
        self.spec: EngineSpec | None = None
        self.engine: Backend | None = None

    def use_threads(self, threads: int) -> None:
        """Compute on ``threads`` CPU threads from now on (at most the process's OMP_NUM_THREADS)."""
        if threads != self.threads:
            import torch

            torch.set_num_threads(threads)
            self.threads = threads

    def where(self) -> str:
        """Host, process and (in Ray) node of this worker, for reports."""
        place = f"{socket.gethostname()}:{os.getpid()}"
        try:
            import ray

            return f"{place} node {ray.get_runtime_context().get_node_id()[:8]}"
        except (ImportError, RuntimeError, AttributeError):
            return place

    def load(self, spec: EngineSpec) -> tuple[BackendInfo, float]:
        """Hold the engine of ``spec`` (loading it unless already held); its info and the seconds spent loading."""
        if self.spec == spec and self.engine is not None:
            return self.engine.info(), 0.0
        if self.engine is not None:
            self.engine.close()
            self.engine, self.spec = None, None
        started = time.perf_counter()
        self.engine = spec.create()
        self.spec = spec
        return self.engine.info(), time.perf_counter() - started

    def answer(
        self,
        spec: EngineSpec,
        kind: str,
        requests: Sequence[GenerationRequest | ChoiceRequest],
        threads: int | None = None,
    ) -> ChunkAnswer:
        """Answer one chunk with the engine of ``spec``: ``generate`` or ``choice`` (``score_choices``), on
        ``threads`` CPU threads when given (the pool lends a lone chunk the cores of idle workers)."""
        if threads and spec.threads_adjustable:
            self.use_threads(threads)
        info, load_s = self.load(spec)
        assert self.engine is not None
        method = answer_method(self.engine, kind)
        started = time.perf_counter()
        answers = list(method(requests))
        return ChunkAnswer(answers, info, load_s, time.perf_counter() - started)
