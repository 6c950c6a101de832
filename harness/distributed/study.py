"""The runs of a study over one pool of workers, several at a time.

At most one run per live worker goes at once: with more models than workers each worker loads one model,
evaluates it, then takes the next model waiting; once no model waits, the runs still going spread their
chunks over the workers that came free (``WorkerPool.claim``). Each run writes its own run folder, exactly as
it would alone; the results come back in the study's order.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from harness.distributed.pool import WorkerPool

C = TypeVar("C")  # a run's configuration
T = TypeVar("T")
POLL_S = 0.2


def run_concurrently(
    configs: Sequence[C],
    pool: WorkerPool,
    run_one: Callable[[C], T],
    report: Callable[[T], None] = lambda result: None,
) -> list[T]:
    """``run_one`` of every config (in threads sharing ``pool``), each reported as it finishes. The first
    error stops new runs from starting and is raised once the runs going have ended."""
    # Ray must start in this thread: the processes it starts die with the thread that started them (Linux's
    # parent-death signal follows the thread), and a run's thread ends with its run. Seen: the GCS killed when the
    # first of a study's runs finished, the other runs failing 60 s later.
    pool.start()
    queue = collections.deque(enumerate(configs))
    active: dict[int, threading.Thread] = {}
    results: dict[int, T] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()

    def waiting() -> int:  # models without a worker yet: queued, or started and not served so far
        started = [thread for thread in list(active.values()) if thread.ident not in pool.served_threads]
        return len(queue) + len(started)

    def one(index: int, config: C) -> None:
        try:
            result = run_one(config)
        except BaseException as error:  # noqa: BLE001 - re-raised by the driver below
            with lock:
                errors.append(error)
            return
        with lock:
            results[index] = result
            report(result)

    pool.models_waiting = waiting
    try:
        while queue or active:
            capacity = pool.alive_workers() if pool.started else (pool.settings.workers or 1)
            while queue and not errors and len(active) < max(1, capacity):
                index, config = queue.popleft()
                thread = threading.Thread(target=one, args=(index, config), name=f"xlh-run-{index}", daemon=True)
                active[index] = thread
                thread.start()
            if errors:
                queue.clear()
            for index, thread in list(active.items()):
                thread.join(POLL_S / max(1, len(active)))
                if not thread.is_alive():
                    del active[index]
    finally:
        pool.models_waiting = lambda: 0
    if errors:
        raise errors[0]
    return [results[index] for index in range(len(configs))]
