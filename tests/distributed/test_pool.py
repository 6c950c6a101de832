"""Which worker a run gets (no Ray processes: the pool's bookkeeping on its own), and what a run records."""

from __future__ import annotations

import pytest

from harness.backends import GenerationParams
from harness.distributed.pool import PoolSettings, Retry, RunDispatch, Slot, WorkerPool, WorkerTimes
from harness.distributed.worker import EngineSpec
from harness.errors import ConfigError

A = EngineSpec.of("hf", "/models/a", GenerationParams(), {})
B = EngineSpec.of("hf", "/models/b", GenerationParams(), {})


def _pool(workers: int) -> WorkerPool:
    pool = WorkerPool(PoolSettings(workers=workers, progress=False))
    pool.slots = [Slot(f"w{i}", handle=None) for i in range(workers)]
    return pool


def test_a_lone_run_takes_every_free_worker() -> None:
    pool = _pool(2)
    assert [pool.claim(1, A).name, pool.claim(1, A).name] == ["w0", "w1"]  # type: ignore[union-attr]
    assert pool.claim(1, A) is None  # both busy


def test_a_run_gets_its_own_worker_back_before_a_free_one() -> None:
    pool = _pool(2)
    first = pool.claim(1, A)
    assert first is not None
    pool.give_back(first)
    assert pool.claim(1, A) is first


def test_while_models_wait_a_run_with_a_worker_takes_no_other() -> None:
    pool = _pool(3)
    pool.models_waiting = lambda: 1
    assert pool.claim(1, A) is not None
    assert pool.claim(1, A) is None  # the free workers are kept for the models waiting
    assert pool.claim(2, B) is not None  # a run without a worker gets one
    pool.models_waiting = lambda: 0
    assert pool.claim(1, A) is not None  # nothing waits: the last free worker joins a run going


def test_a_free_worker_already_holding_the_model_is_preferred() -> None:
    pool = _pool(2)
    pool.slots[1].spec = B
    assert pool.claim(7, B) is pool.slots[1]


def test_released_workers_serve_the_next_run() -> None:
    pool = _pool(1)
    pool.models_waiting = lambda: 1
    assert pool.claim(1, A) is not None
    pool.give_back(pool.slots[0])
    assert pool.claim(2, B) is None  # still run 1's
    pool.release(1)
    assert pool.claim(2, B) is pool.slots[0]


def test_lost_and_unreachable_workers() -> None:
    class Unavailable(Exception):
        pass

    pool = _pool(2)
    pool.ray = type("ray", (), {"exceptions": type("exceptions", (), {"ActorUnavailableError": Unavailable})})
    lost, unreachable = pool.slots
    pool.lose(lost, RuntimeError("actor died"))
    pool.lose(unreachable, Unavailable("node gone"))
    assert not lost.alive and unreachable.alive and pool.alive_workers() == 1
    assert pool.claim(1, A) is None  # the unreachable one rests for QUARANTINE_S
    unreachable.quarantined_until = 0.0
    assert pool.claim(1, A) is unreachable


def test_a_run_records_each_workers_share_and_its_retries() -> None:
    dispatch = RunDispatch(_pool(2), 1, A)
    dispatch.times["w1"] = WorkerTimes("host:2", requests=128, chunks=1, load_s=1.23456, compute_s=2.5)
    dispatch.retries.append(Retry("w0", 128, "ActorDiedError: killed"))
    assert dispatch.timings() == {
        "workers": {"w1": {"where": "host:2", "requests": 128, "chunks": 1, "load_s": 1.235, "compute_s": 2.5}},
        "retried_chunks": 1,
        "retried_requests": 128,
        "retries": [{"worker": "w0", "requests": 128, "reason": "ActorDiedError: killed"}],
    }


def test_sizing_and_bad_settings() -> None:
    assert PoolSettings(workers=None, gpus_per_engine=2).sized(16, 8, private=False) == (4, 1.0, 2.0)
    assert PoolSettings(workers=2).sized(2, 0, private=True) == (2, 1.0, 0.0)
    assert PoolSettings(workers=None).sized(2, 0, private=True) == (1, 2.0, 0.0)
    with pytest.raises(ConfigError, match="--workers must be 1 or more"):
        WorkerPool(PoolSettings(workers=0))


def test_a_worker_gets_as_many_openmp_threads_as_cpus() -> None:
    from harness.distributed.pool import actor_environment

    assert actor_environment({"HOME": "/home/u"}, 2) == {"HOME": "/home/u", "OMP_NUM_THREADS": "2"}


def test_a_chunk_takes_the_cores_of_idle_workers_on_a_shared_machine() -> None:
    pool = _pool(2)
    assert pool.chunk_threads() is None  # workers that do not share one machine's cores (the default)
    pool.threads, pool.machine_threads = 1, 2
    first = pool.claim(1, A)
    assert pool.chunk_threads() == 2  # a lone chunk: both cores
    assert pool.claim(1, A) is not None
    assert pool.chunk_threads() == 1  # two chunks at once: one core each
    assert first is not None
    pool.give_back(first)
    assert pool.chunk_threads() == 2
