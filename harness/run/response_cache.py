"""The response store: every answer a backend gives is kept, keyed by everything that determines it, so a
run never pays twice for the same answer and a killed run resumes where it stopped.

- Storage: one SQLite file in WAL mode (``~/.cache/xlh/responses.sqlite`` by default), shared by all
  backends, models and concurrent runs (WAL + a busy timeout let two runs write at once).
- Key: SHA-256 over everything that can change an answer (``CacheIdentity``): the request-format version
  and the version of xlh's request-encoding code (``harness.backends.ENCODING_VERSION``), the model
  fingerprint (config, tokenizer and weights: a base and its merge never share entries) and the LoRA
  adapter's fingerprint, the backend kind, device, *resolved* dtype and engine versions (torch,
  transformers, vLLM, the server's), every backend option except those that cannot change an answer
  (``ANSWER_NEUTRAL_OPTIONS``: progress bars, concurrency, timeouts, memory sizes), the request itself
  (prompt, stop sequences and max tokens; or context and continuations) and the sampling parameters with
  the seed. A larger LIMIT reuses a smaller run's answers (the same requests).
- Batch composition: an answer is computed in a batch with other requests, and batched float arithmetic
  moves log-likelihoods in their last digits (~1e-5 in float32; more in bfloat16, where a greedy token can
  flip). Chunks are formed the same way whether a store is used or not, so a run, its resumption after a
  kill, and its repetition are byte-identical; an answer stored by a *different* selection (a smaller
  LIMIT, another task) was computed beside other requests and may differ from a cold run in those digits.
- Answers are committed as they arrive, one chunk of requests at a time, so SIGKILL loses at most the chunk
  being computed.
- A corrupt or unreadable store gives one warning and the run continues uncached; it never fails a run.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from harness.api.requests import ChoiceRequest, ChoiceScores, Embedding, EmbedRequest, Generation, GenerationRequest
from harness.backends import ENCODING_VERSION
from harness.backends.base import Backend, BackendInfo, GenerationParams, answer_chunks, embedder
from harness.run.chunks import DEFAULT_CHUNK, MAX_CHUNK_COST, choice_cost, choice_size, generation_cost, prompt_size
from harness.run.chunks import chunks as cut_chunks

REQUEST_FORMAT_VERSION = 2  # bump when a request's meaning or a response's encoding changes
# Backend options that cannot change an answer (they change speed, memory or how failures are retried): left
# out of the key. Every other option is in it; ``lora_path`` is replaced by the adapter's fingerprint.
ANSWER_NEUTRAL_OPTIONS = frozenset(
    {
        "progress",
        "concurrency",
        "timeout_s",
        "max_retries",
        "retry_backoff_s",
        "gpu_memory_utilization",
        "kv_cache_memory_bytes",
        "kv_cache_gib",
        "generates",
        "environment",
        "lora_path",
    }
)
# Library versions a backend records that cannot change an answer (the openai backend's HTTP client).
ANSWER_NEUTRAL_VERSIONS = frozenset({"aiohttp"})
BUSY_TIMEOUT_S = 60.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model_fingerprint TEXT NOT NULL,
    model TEXT NOT NULL,
    kind TEXT NOT NULL,
    response TEXT NOT NULL,
    created_at REAL NOT NULL
)
"""
_INDEX = "CREATE INDEX IF NOT EXISTS responses_by_model ON responses (model_fingerprint)"

R = TypeVar("R")
Q = TypeVar("Q")


def default_path() -> Path:
    """``$XLH_RESPONSE_CACHE``, else ``$XLH_CACHE_DIR/responses.sqlite``, else ``~/.cache/xlh/responses.sqlite``."""
    if os.environ.get("XLH_RESPONSE_CACHE"):
        return Path(os.environ["XLH_RESPONSE_CACHE"])
    root = os.environ.get("XLH_CACHE_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "xlh") / "responses.sqlite"


def _open(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at checkpoints, never corrupt
        connection.execute(_SCHEMA)
        connection.execute(_INDEX)
    except BaseException:
        connection.close()
        raise
    return connection


def _warn(message: str) -> None:
    print(f"xlh: warning: {message}", file=sys.stderr)


class ResponseStore:
    """The SQLite file. Every failure disables the store with one warning instead of raising."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.connection: sqlite3.Connection | None = None
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                self.connection = _open(path)
                return
            except sqlite3.OperationalError as error:
                # Two runs creating the store at once: switching to WAL takes an exclusive lock that SQLite's
                # busy handler does not wait for, so wait here (anything else disables the store).
                if "locked" in str(error) and time.monotonic() < deadline:
                    time.sleep(0.2)
                    continue
                self._disable(error)
                return
            except (sqlite3.Error, OSError) as error:
                self._disable(error)
                return

    @property
    def enabled(self) -> bool:
        return self.connection is not None

    def _disable(self, error: Exception) -> None:
        _warn(f"response cache {self.path} is unusable ({error}); continuing without it")
        if self.connection is not None:
            try:
                self.connection.close()
            except sqlite3.Error:
                pass
        self.connection = None

    def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        if self.connection is None or not keys:
            return {}
        found: dict[str, str] = {}
        try:
            for start in range(0, len(keys), 500):  # SQLite's bound-parameter limit
                part = keys[start : start + 500]
                marks = ",".join("?" * len(part))
                rows = self.connection.execute(f"SELECT key, response FROM responses WHERE key IN ({marks})", part)
                found.update(rows.fetchall())
        except sqlite3.Error as error:
            self._disable(error)
            return {}
        return found

    def put_many(self, rows: Sequence[tuple[str, str, str, str, str]]) -> None:
        """Commit ``(key, model_fingerprint, model, kind, response)`` rows in one transaction."""
        if self.connection is None or not rows:
            return
        now = time.time()
        try:
            with self.connection:
                self.connection.execute("BEGIN IMMEDIATE")
                self.connection.executemany(
                    "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?)", [(*row, now) for row in rows]
                )
        except sqlite3.Error as error:
            self._disable(error)

    def stats(self) -> list[tuple[str, str, str, int]]:
        """``(model, model_fingerprint, kind, count)`` per model and request kind."""
        if self.connection is None:
            return []
        query = "SELECT model, model_fingerprint, kind, COUNT(*) FROM responses GROUP BY 1, 2, 3 ORDER BY 1, 3"
        return list(self.connection.execute(query).fetchall())

    def prune(self, model_fingerprint: str | None = None, model: str | None = None) -> int:
        if self.connection is None:
            return 0
        with self.connection:
            cursor = self.connection.execute(
                "DELETE FROM responses WHERE model_fingerprint = ? OR model = ?", (model_fingerprint, model)
            )
        return cursor.rowcount

    def clear(self) -> int:
        if self.connection is None:
            return 0
        with self.connection:
            cursor = self.connection.execute("DELETE FROM responses")
        self.connection.execute("VACUUM")
        return cursor.rowcount

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


@dataclass(frozen=True)
class CacheIdentity:
    """Everything outside a request that determines its answer (see the module docstring)."""

    model: str  # as given (shown by ``xlh cache stats``; not part of the key: the fingerprint is)
    model_fingerprint: str
    adapter_fingerprint: str | None
    backend: str
    device: str
    dtype: str  # resolved by the backend ("bfloat16", never "auto")
    versions: tuple[tuple[str, str], ...]
    options: str  # the answer-changing backend options, as canonical JSON
    generation: GenerationParams

    @classmethod
    def of(
        cls,
        model: str,
        fingerprint: str,
        info: BackendInfo,
        generation: GenerationParams,
        adapter_fingerprint: str | None = None,
    ) -> CacheIdentity:
        # The same engine family answers the same: "hf" and "transformers" are one backend.
        kind = "hf" if info.name in ("hf", "transformers") else info.name
        options = {key: value for key, value in info.options.items() if key not in ANSWER_NEUTRAL_OPTIONS}
        return cls(
            model=model,
            model_fingerprint=fingerprint,
            adapter_fingerprint=adapter_fingerprint,
            backend=kind,
            device=info.device,
            dtype=info.dtype,
            versions=tuple(
                sorted((str(k), str(v)) for k, v in info.versions.items() if k not in ANSWER_NEUTRAL_VERSIONS)
            ),
            options=json.dumps(options, sort_keys=True, default=str),
            generation=generation,
        )

    def key(self, request: GenerationRequest | ChoiceRequest) -> str:
        payload = {
            "format": REQUEST_FORMAT_VERSION,
            "encoding": ENCODING_VERSION,
            "model": self.model_fingerprint,
            "adapter": self.adapter_fingerprint,
            "backend": self.backend,
            "device": self.device,
            "dtype": self.dtype,
            "versions": self.versions,
            "options": self.options,
            "sampling": [self.generation.temperature, self.generation.top_p, self.generation.seed],
            "request": _request_fields(request),
        }
        return hashlib.sha256(json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def _request_fields(request: GenerationRequest | ChoiceRequest) -> dict[str, Any]:
    if isinstance(request, GenerationRequest):
        return {
            "kind": "generate",
            "prompt": request.prompt,
            "stop": list(request.stop),
            "max_new_tokens": request.max_new_tokens,
        }
    return {"kind": "choice", "context": request.context, "continuations": list(request.continuations)}


def _encode_choice(scores: ChoiceScores) -> str:
    return json.dumps(
        {
            "loglikelihoods": list(scores.loglikelihoods),
            "token_counts": list(scores.token_counts),
            "is_greedy": list(scores.is_greedy),
            "truncated_tokens": scores.truncated_tokens,
        }
    )


def _decode_choice(text: str) -> ChoiceScores:
    data = json.loads(text)
    return ChoiceScores(
        loglikelihoods=tuple(data["loglikelihoods"]),
        token_counts=tuple(data["token_counts"]),
        is_greedy=tuple(data["is_greedy"]),
        truncated_tokens=int(data["truncated_tokens"]),
    )


def _encode_generation(generation: Generation) -> str:
    return json.dumps(
        {"text": generation.text, "finish_reason": generation.finish_reason, "truncated": generation.truncated_tokens},
        ensure_ascii=False,
    )


def _decode_generation(text: str) -> Generation:
    data = json.loads(text)
    return Generation(text=data["text"], finish_reason=data["finish_reason"], truncated_tokens=int(data["truncated"]))


class CachingBackend:
    """A backend wrapped by the store: answers found are returned as stored, the rest are computed in
    chunks and committed after every chunk. Counts hits and computed requests for the run summary.
    Without a store (``CACHE=off``) it only chunks, so results are the same either way."""

    def __init__(
        self,
        inner: Backend,
        store: ResponseStore | None,
        identity: CacheIdentity | None,
        chunk: int = DEFAULT_CHUNK,
        max_chunk_cost: int = MAX_CHUNK_COST,
    ) -> None:
        self.inner = inner
        self.store = store
        self.identity = identity
        self.chunk = chunk
        self.max_chunk_cost = max_chunk_cost
        self.hits = 0
        self.computed = 0

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        return self._answer(
            requests, "generate", _encode_generation, _decode_generation, size=prompt_size, cost=generation_cost
        )

    def score_choices(self, requests: Sequence[ChoiceRequest]) -> list[ChoiceScores]:
        return self._answer(requests, "choice", _encode_choice, _decode_choice, size=choice_size, cost=choice_cost)

    def embed(self, requests: Sequence[EmbedRequest]) -> list[Embedding]:
        """Computed every time, never stored: a 7B model's vectors of one sentence take a megabyte (every layer,
        two poolings), FLORES in 204 languages would fill 40 GB, and one forward pass recomputes them."""
        self.computed += len(requests)
        return embedder(self.inner, self.inner.info().name)(requests)

    def info(self) -> BackendInfo:
        return self.inner.info()

    def close(self) -> None:
        self.inner.close()

    def _answer(
        self,
        requests: Sequence[Q],
        kind: str,
        encode: Callable[[R], str],
        decode: Callable[[str], R],
        size: Callable[[Q], int],
        cost: Callable[[Q], int],
    ) -> list[R]:
        if self.identity is None:  # no store: equal requests (equal frozen records) are still computed once
            keys: list[Any] = list(requests)
        else:
            keys = [self.identity.key(request) for request in requests]  # type: ignore[arg-type]
        stored = self.store.get_many(list(dict.fromkeys(keys))) if self.store else {}
        answers: list[R | None] = [None] * len(requests)
        missing: dict[str, list[int]] = {}
        for index, key in enumerate(keys):
            if key in stored:
                answers[index] = decode(stored[key])
                self.hits += 1
            else:
                missing.setdefault(key, []).append(index)
        # Longest first, as the backends order their batches; each chunk is committed when answered (a pool of
        # workers answers several at once, in the order they complete).
        order = sorted(missing, key=lambda key: -size(requests[missing[key][0]]))
        costs = [cost(requests[missing[key][0]]) for key in order]
        chunks = cut_chunks(order, costs, self.chunk, self.max_chunk_cost)
        batches = [[requests[missing[key][0]] for key in chunk] for chunk in chunks]
        try:
            for position, computed in answer_chunks(self.inner, kind, batches):
                chunk = chunks[position]
                for key, answer in zip(chunk, computed, strict=True):
                    for index in missing[key]:
                        answers[index] = answer
                self._store(kind, list(zip(chunk, computed, strict=True)), encode)
                self.computed += len(chunk)
        except Exception as error:
            # A backend that fails part-way (a server that went away) says which answers of the failing chunk did
            # arrive (``received``: position in the chunk -> answer): keep them, so a rerun asks only for the rest.
            received = getattr(error, "received", None) or {}
            failed: int | None = getattr(error, "chunk_position", None)
            if received and failed is not None:
                self._store(kind, [(chunks[failed][p], answer) for p, answer in received.items()], encode)
            raise
        return answers  # type: ignore[return-value]

    def _store(self, kind: str, answered: list[tuple[str, R]], encode: Callable[[R], str]) -> None:
        if self.store is None or self.identity is None:
            return
        identity = self.identity
        self.store.put_many(
            [(key, identity.model_fingerprint, identity.model, kind, encode(answer)) for key, answer in answered]
        )
