"""A pool of long-lived worker actors shared by the runs of one ``xlh eval``, and the dispatch of each run's
chunks over it.

- A run's requests arrive as chunks (the response store's chunks, longest requests first: the same chunks a
  run without workers computes, so answers are the same). Idle workers pull the next chunk, longest first, so
  workers finish together whatever each chunk costs; each chunk's answers stream back to the run, which
  commits them to the response store at once.
- A worker lost mid-run (its process killed, its node gone) costs its in-flight chunk, which goes back to the
  front of the queue for the remaining workers; the run reports what was retried. A worker whose node cannot
  be reached is left alone for ``QUARANTINE_S`` and tried again (Ray declares the node dead 10-13 s after it
  went away, and the next call then fails for good). Chunks are idempotent, so a retry changes no answer.
- Runs of a study share the pool: a worker serves one run at a time, keeps the model it loaded for the next
  chunk, and is released when its run ends. While models of the study wait for a worker, a run uses only
  the workers it already has (a worker loads one model, evaluates it, then the next); once none wait, idle
  workers join the runs still going (a model's chunks are spread over them).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from harness.backends.base import BackendInfo
from harness.distributed.progress import PoolProgress
from harness.distributed.ray_cluster import RayConnection, ray_session, require_ray
from harness.distributed.worker import ChunkAnswer, EngineSpec, EngineWorker
from harness.errors import ConfigError, XlhError

log = logging.getLogger("xlh")

QUARANTINE_S = 30.0
POLL_S = 0.5


class WorkersLost(XlhError):
    """Every worker of the pool is gone; the answers committed so far stay in the response store."""


@dataclass
class WorkerTimes:
    """One worker's share of one run, as results.json ``timings.workers`` records it."""

    where: str
    requests: int = 0
    chunks: int = 0
    load_s: float = 0.0
    compute_s: float = 0.0


@dataclass(frozen=True)
class Retry:
    """A chunk computed again because the worker holding it was lost."""

    worker: str
    requests: int
    reason: str


@dataclass
class Slot:
    """A worker actor as the pool sees it."""

    name: str
    handle: Any
    where: str = "?"
    busy: bool = False
    alive: bool = True
    run: int | None = None  # the run it serves
    spec: EngineSpec | None = None  # the engine it holds (or is loading)
    quarantined_until: float = 0.0

    def usable(self, now: float) -> bool:
        return self.alive and not self.busy and self.quarantined_until <= now


@dataclass
class PoolSettings:
    """How many workers and what each holds; ``address``: an existing cluster (else a private instance)."""

    workers: int | None  # None: one per engine's worth of the cluster's GPUs, at least one
    address: str | None = None
    cpus_per_worker: float | None = None  # None: the machine's CPUs shared out (private instance), else 1
    gpus_per_worker: float | None = None  # None: an engine's GPUs when the cluster has GPUs, else none
    gpus_per_engine: int = 1  # vLLM's tensor_parallel_size
    progress: bool = True

    def sized(self, cluster_cpus: float, cluster_gpus: float, private: bool) -> tuple[int, float, float]:
        """(workers, CPUs and GPUs per worker) on a cluster with these resources."""
        gpus = self.gpus_per_worker
        if gpus is None:
            gpus = float(self.gpus_per_engine) if cluster_gpus else 0.0
        workers = self.workers or (max(1, int(cluster_gpus // gpus)) if gpus else 1)
        cpus = self.cpus_per_worker
        if cpus is None:
            cpus = max(1.0, float(int(cluster_cpus) // workers)) if private else 1.0
        return workers, cpus, gpus


def actor_environment(base: dict[str, str], threads: int) -> dict[str, str]:
    """A worker's environment: ``base`` and the most OpenMP threads it may use (its CPUs, or the machine's when
    it may borrow idle workers' cores). Ray starts actors with OMP_NUM_THREADS=1, and ``torch.set_num_threads``
    alone does not undo it: one two-CPU worker computed the SIB-200 + Belebele LIMIT 128 slice in 122.1 s against
    113.4 s without workers, and in 112.4 s with this."""
    return {**base, "OMP_NUM_THREADS": str(threads)}


class WorkerPool:
    """``settings.workers`` actors, started by ``start`` (``xlh eval`` starts them with the command) or else when a
    run first needs an engine, and stopped by ``shutdown``."""

    def __init__(self, settings: PoolSettings) -> None:
        if settings.workers is not None and settings.workers < 1:
            raise ConfigError(f"--workers must be 1 or more, got {settings.workers}")
        require_ray()
        self.ray: Any = None  # the ray module, once started
        self.settings = settings
        self.cluster = settings.address  # part of the engine signature: the engine loads on the cluster's nodes
        self.slots: list[Slot] = []
        # Models of a study waiting for a worker (the study's driver sets it): while any wait, a run that has a
        # worker takes no other.
        self.models_waiting: Callable[[], int] = lambda: 0
        self.on_chunk: Callable[[Slot, int], None] | None = None  # called after each answered chunk (tests)
        self.progress = PoolProgress(settings.progress)
        self.served_threads: set[int] = set()  # threads whose run has had a worker
        self._lock = threading.Condition()
        self._runs = 0
        self._open: set[int] = set()  # runs not released yet
        self._session: contextlib.ExitStack | None = None
        self._located = False
        self.threads = 1  # CPU threads per worker
        # The private instance's CPU workers share one machine: a chunk computed while other workers idle (a
        # run's last chunks, a run of one chunk) may use their cores too. None: never (GPUs, a joined cluster).
        self.machine_threads: int | None = None

    @property
    def started(self) -> bool:
        return self._session is not None

    def start(self) -> None:
        """Join or start Ray and start the workers (once). The workers' processes start in the background:
        a command that will compute calls this first, so they boot while the run loads its data. Call it from
        the thread that outlives the runs (the main one): a private instance's processes die with the thread
        that started them (``run_concurrently`` starts the pool before its threads for this reason)."""
        with self._lock:
            if self._session is not None:
                return
            session = contextlib.ExitStack()
            connection = session.enter_context(ray_session(self.settings.address))
            import ray

            self.ray = ray
            try:
                self.slots = self._start_workers(connection)
            except BaseException:
                session.close()
                raise
            self._session = session

    def _start_workers(self, connection: RayConnection) -> list[Slot]:
        resources = self.ray.cluster_resources()
        workers, cpus, gpus = self.settings.sized(resources.get("CPU", 1), resources.get("GPU", 0), connection.owned)
        self.threads = max(1, int(cpus))
        if connection.owned and not gpus and workers > 1:
            self.machine_threads = max(self.threads, int(resources.get("CPU", 1)))
        remote = self.ray.remote(EngineWorker).options(
            num_cpus=cpus,
            num_gpus=gpus,
            max_restarts=0,  # a lost worker's chunk is requeued on the others; a restart would reload the model
            runtime_env={
                "env_vars": actor_environment(connection.worker_environment(), self.machine_threads or self.threads)
            },
        )
        return [Slot(f"w{i}", remote.remote(threads=self.threads)) for i in range(workers)]

    def chunk_threads(self) -> int | None:
        """CPU threads for the chunks just claimed: the machine's cores shared among the busy workers (never
        fewer than a worker's own); None where workers do not share a machine's cores."""
        if self.machine_threads is None:
            return None
        with self._lock:
            busy = sum(1 for slot in self.slots if slot.busy and slot.alive)
        return max(self.threads, self.machine_threads // max(1, busy))

    def _locate(self) -> None:
        """Wait for the workers to be up and learn where each runs (once)."""
        if self._located:
            return
        for slot in self.slots:
            try:
                slot.where = self.ray.get(slot.handle.where.remote())
            except self.ray.exceptions.RayActorError as error:
                slot.alive, slot.where = False, f"lost at start ({type(error).__name__})"
        self._located = True
        if not any(slot.alive for slot in self.slots):
            raise WorkersLost("no worker could be started; see the Ray logs")

    def open_run(self, spec: EngineSpec) -> RunDispatch:
        self.start()
        with self._lock:
            self._locate()
            self._runs += 1
            self._open.add(self._runs)
            return RunDispatch(self, self._runs, spec)

    def alive_workers(self) -> int:
        with self._lock:
            return sum(1 for slot in self.slots if slot.alive)

    def release(self, run: int) -> None:
        """The run ended: its workers serve no run now (they keep their engines for a run of the same model).
        The progress display ends with the last run going."""
        with self._lock:
            for slot in self.slots:
                if slot.run == run:
                    slot.run = None
            self._open.discard(run)
            if not self._open:
                self.progress.close()
            self._lock.notify_all()

    def claim(self, run: int, spec: EngineSpec) -> Slot | None:
        """An idle worker for ``run``: its own first, else a free one (preferring one holding ``spec``) if the
        run has none yet or no model of the study is waiting for a worker. Marked busy."""
        now = time.monotonic()
        with self._lock:
            usable = [slot for slot in self.slots if slot.usable(now)]
            own = [slot for slot in usable if slot.run == run]
            chosen = own[0] if own else None
            if chosen is None:
                has_workers = any(slot.run == run and slot.alive for slot in self.slots)
                free = [slot for slot in usable if slot.run is None]
                if free and (not has_workers or self.models_waiting() == 0):
                    chosen = min(free, key=lambda slot: slot.spec != spec)
            if chosen is not None:
                chosen.busy, chosen.run = True, run
                self.served_threads.add(threading.get_ident())
            return chosen

    def give_back(self, slot: Slot) -> None:
        with self._lock:
            slot.busy = False
            self._lock.notify_all()

    def lose(self, slot: Slot, error: BaseException) -> str:
        """Take ``slot`` out of service after ``error``: for good, or for ``QUARANTINE_S`` if its node could
        not be reached. Returns the reason."""
        unavailable = isinstance(error, self.ray.exceptions.ActorUnavailableError)
        with self._lock:
            slot.busy = False
            if unavailable:
                slot.quarantined_until = time.monotonic() + QUARANTINE_S
            else:
                slot.alive = False
                slot.run = None
            self._lock.notify_all()
        reason = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}".rstrip(": ")
        state = f"unreachable, retried in {QUARANTINE_S:.0f} s" if unavailable else "lost"
        log.warning("xlh: worker %s (%s) %s: %s", slot.name, slot.where, state, reason)
        return reason

    def wait_for_change(self, timeout: float) -> None:
        with self._lock:
            self._lock.wait(timeout)

    def shutdown(self) -> None:
        """Stop the workers and leave Ray (a private instance stops; a joined cluster keeps running)."""
        self.progress.close()
        for slot in self.slots:
            try:
                self.ray.kill(slot.handle)
            except Exception:  # noqa: BLE001 - an actor already gone
                pass
        if self._session is not None:
            self._session.close()
            self._session = None


class RunDispatch:
    """One run's use of the pool: the engine info its workers resolved, its chunks, and what it cost."""

    def __init__(self, pool: WorkerPool, run: int, spec: EngineSpec) -> None:
        self.pool, self.run, self.spec = pool, run, spec
        self.times: dict[str, WorkerTimes] = {}
        self.retries: list[Retry] = []
        self._info: BackendInfo | None = None

    def info(self) -> BackendInfo:
        """The engine's info, loading it on the workers this run can have now (at least one, waiting for
        one if need be). Every worker of a run must resolve the same engine."""
        if self._info is None:
            self._info = self._load()
        return self._info

    def _load(self) -> BackendInfo:
        ray = self.pool.ray
        loading: dict[Any, Slot] = {}
        while not loading:
            while (slot := self.pool.claim(self.run, self.spec)) is not None:
                slot.spec = self.spec
                loading[slot.handle.load.remote(self.spec)] = slot
            if not loading:
                self._require_workers()
                self.pool.wait_for_change(POLL_S)
        info: BackendInfo | None = None
        for ref, slot in loading.items():
            try:
                loaded, load_s = ray.get(ref)
            except ray.exceptions.RayActorError as error:
                self.pool.lose(slot, error)
                continue
            self._times(slot).load_s += load_s
            self.pool.give_back(slot)
            info = self._check(info or loaded, loaded, slot)
        if info is None:
            self._require_workers()
            return self._load()
        return info

    def compute_chunks(self, kind: str, batches: Sequence[Sequence[Any]]) -> Iterator[tuple[int, list[Any]]]:
        """(position, answers) of every batch, as they complete, each computed whole by one worker."""
        ray = self.pool.ray
        info = self.info()
        pending = collections.deque(range(len(batches)))
        inflight: dict[Any, tuple[Slot, int]] = {}
        self.pool.progress.add(sum(len(batch) for batch in batches))
        try:
            while pending or inflight:
                claimed = []
                while pending and (slot := self.pool.claim(self.run, self.spec)) is not None:
                    claimed.append((slot, pending.popleft()))
                threads = self.pool.chunk_threads() if claimed else None  # once all of this round are busy
                for slot, position in claimed:
                    slot.spec = self.spec
                    handle = slot.handle.answer.remote(self.spec, kind, list(batches[position]), threads)
                    inflight[handle] = (slot, position)
                if not inflight:
                    self._require_workers()
                    self.pool.wait_for_change(POLL_S)
                    continue
                done, _ = ray.wait(list(inflight), num_returns=1, timeout=POLL_S)
                for ref in done:
                    slot, position = inflight.pop(ref)
                    try:
                        answer: ChunkAnswer = ray.get(ref)
                    except ray.exceptions.RayActorError as error:
                        reason = self.pool.lose(slot, error)
                        self.retries.append(Retry(slot.name, len(batches[position]), reason))
                        pending.appendleft(position)  # longest first still: it was taken before the rest
                        continue
                    except BaseException:
                        self.pool.give_back(slot)  # the engine failed on this chunk (a bad request): no retry
                        raise
                    self.pool.give_back(slot)
                    self._check(info, answer.info, slot)
                    self._account(slot, answer, batches[position])
                    yield position, answer.answers
                    if self.pool.on_chunk is not None:
                        self.pool.on_chunk(slot, position)
        finally:
            for slot, _ in inflight.values():  # the run stopped early: its workers serve the pool again
                self.pool.give_back(slot)

    def _account(self, slot: Slot, answer: ChunkAnswer, batch: Sequence[Any]) -> None:
        times = self._times(slot)
        times.requests += len(batch)
        times.chunks += 1
        times.load_s += answer.load_s
        times.compute_s += answer.compute_s
        self.pool.progress.done(slot.name, batch)

    def _times(self, slot: Slot) -> WorkerTimes:
        return self.times.setdefault(slot.name, WorkerTimes(slot.where))

    def _check(self, expected: BackendInfo, got: BackendInfo, slot: Slot) -> BackendInfo:
        if got != expected:
            raise ConfigError(
                f"worker {slot.name} ({slot.where}) resolved a different engine than the run's other workers "
                f"({got} vs {expected}): the workers of a run must have the same libraries and accelerators"
            )
        return expected

    def _require_workers(self) -> None:
        if self.pool.alive_workers() == 0:
            raise WorkersLost(
                "every worker was lost; the answers computed so far are in the response store: rerun to resume"
            )

    def close(self) -> None:
        self.pool.release(self.run)

    def timings(self) -> dict[str, Any]:
        """What results.json ``timings`` records of the workers: each one's share, and the retried chunks."""
        return {
            "workers": {name: _rounded(asdict(times)) for name, times in sorted(self.times.items())},
            "retried_chunks": len(self.retries),
            "retried_requests": sum(retry.requests for retry in self.retries),
            "retries": [asdict(retry) for retry in self.retries],
        }


def _rounded(times: dict[str, Any]) -> dict[str, Any]:
    return {key: round(value, 3) if isinstance(value, float) else value for key, value in times.items()}
