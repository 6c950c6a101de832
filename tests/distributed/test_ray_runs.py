"""Runs with workers on a real Ray instance (tiny models, the transformers backend, this machine's loopback):
results equal a run without workers; a lost worker's or node's chunks are computed again elsewhere and
reported; a study's models share the workers; a killed driver's run resumes from the response store."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.distributed.pool import PoolSettings, Slot, WorkerPool
from harness.distributed.ray_cluster import import_with_settings, loopback_settings
from harness.distributed.study import run_concurrently
from harness.records.io import StoredRun
from harness.run.config import RunConfig
from harness.run.runner import run

pytestmark = pytest.mark.slow
# Three tasks, two languages, 70 items each: 280 choice requests (3 chunks of the store's 128) and 140
# generations (2 chunks), so that both workers get work and a worker can be lost mid-run.
TASKS = ("sib200", "xnli", "mgsm")
OPTIONS = {"batch_size": 8, "device": "cpu", "dtype": "float32", "progress": False}


def _config(model: Path, data_dir: Path, out: Path, **changes: Any) -> RunConfig:
    config = RunConfig(
        model=str(model),
        tasks=TASKS,
        languages=("en", "de"),
        limit=70,
        data_dir=data_dir,
        out_dir=out,
        backend="hf",
        backend_options=dict(OPTIONS),
        score_workers=1,
    )
    return dataclasses.replace(config, **changes)


def _samples(stored: StoredRun) -> list[dict[str, Any]]:
    lines = (stored.folder / "samples.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def assert_same_results(got: StoredRun, expected: StoredRun) -> None:
    """Same samples in the same order with the same predictions and scores; log-likelihoods within 1e-4 (an
    engine's batch arithmetic); the same aggregated metrics."""
    got_samples, expected_samples = _samples(got), _samples(expected)
    assert [(s["task"], s["language"], s["id"]) for s in got_samples] == [
        (s["task"], s["language"], s["id"]) for s in expected_samples
    ]
    for a, b in zip(got_samples, expected_samples, strict=True):
        assert (a["extracted"], a["scores"], a["finish_reasons"]) == (b["extracted"], b["scores"], b["finish_reasons"])
        for response_a, response_b in zip(a["responses"], b["responses"], strict=True):
            if "loglikelihoods" in response_a:
                assert response_a["loglikelihoods"] == pytest.approx(response_b["loglikelihoods"], abs=1e-4)
            else:
                assert response_a == response_b
    for task_a, task_b in zip(got.result.tasks, expected.result.tasks, strict=True):
        for code, language in task_a.languages.items():
            for name, value in language.metrics.items():
                assert value.value == pytest.approx(task_b.languages[code].metrics[name].value, abs=1e-9), (code, name)


@pytest.fixture(scope="module")
def reference(tiny_model: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> StoredRun:
    """The run without workers every run with workers must equal."""
    return run(_config(tiny_model, data_dir, tmp_path_factory.mktemp("reference")))


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    """Two workers on a private loopback-only Ray instance started by the pool itself (the product's path)."""
    workers = WorkerPool(PoolSettings(workers=2, progress=False))
    yield workers
    workers.shutdown()


def test_two_workers_equal_a_run_without_workers(
    pool: WorkerPool, reference: StoredRun, tiny_model: Path, data_dir: Path, tmp_path: Path
) -> None:
    stored = run(_config(tiny_model, data_dir, tmp_path), pool=pool)
    assert_same_results(stored, reference)
    shares = stored.result.timings["workers"]
    assert sorted(shares) == ["w0", "w1"] and all(share["requests"] > 0 for share in shares.values())
    assert sum(share["requests"] for share in shares.values()) == 420
    assert stored.result.timings["retried_chunks"] == 0
    assert stored.result.backend == reference.result.backend  # the same engine, resolved on the workers


def test_a_worker_killed_mid_run_costs_a_retry_not_a_result(
    pool: WorkerPool, reference: StoredRun, tiny_model: Path, data_dir: Path, tmp_path: Path
) -> None:
    killed: list[str] = []

    def kill_the_other(finished: Slot, position: int) -> None:
        if not killed:  # after the first answered chunk: the other worker is busy with the next one
            other = next(slot for slot in pool.slots if slot is not finished)
            pool.ray.kill(other.handle)
            killed.append(other.name)

    pool.on_chunk = kill_the_other
    stored = run(_config(tiny_model, data_dir, tmp_path), pool=pool)
    assert_same_results(stored, reference)
    timings = stored.result.timings
    assert timings["retried_chunks"] >= 1 and [r["worker"] for r in timings["retries"]] == killed * len(
        timings["retries"]
    )
    assert "ActorDiedError" in timings["retries"][0]["reason"]
    assert pool.alive_workers() == 1


def test_a_study_shares_the_workers_and_equals_sequential_runs(
    pool: WorkerPool, tiny_model: Path, data_dir: Path, tmp_path: Path
) -> None:
    from harness.run.tiny_model import build_tiny_model

    models = [tiny_model, *(build_tiny_model(tmp_path / f"m{seed}", data_dir, seed=seed) for seed in (1, 2))]
    small = {"tasks": ("sib200", "mgsm"), "limit": 20}
    sequential = [run(_config(model, data_dir, tmp_path / "sequential", **small)) for model in models]
    configs = [_config(model, data_dir, tmp_path / "workers", **small) for model in models]
    together = run_concurrently(configs, pool, lambda config: run(config, pool=pool))
    assert len({stored.folder for stored in together}) == 3
    for got, expected in zip(together, sequential, strict=True):
        assert got.result.model.fingerprint == expected.result.model.fingerprint
        assert_same_results(got, expected)
    used = {name for stored in together for name in stored.result.timings["workers"]}
    assert used == {"w0", "w1"}  # both workers served the study


@pytest.fixture
def two_node_cluster() -> Iterator[Any]:
    """A head and a second node on loopback (``ray.cluster_utils.Cluster``), one CPU each."""
    private = Path(tempfile.mkdtemp(prefix="xlh-rc-", dir="/tmp"))
    saved = dict(os.environ)
    os.environ.update(loopback_settings(private))
    os.environ["TMPDIR"] = str(private)
    (private / "ray").mkdir()
    ray = import_with_settings()
    from ray.cluster_utils import Cluster

    store = 100 * 1024 * 1024
    cluster = Cluster(
        initialize_head=True,
        connect=True,
        head_node_args={"num_cpus": 1, "include_dashboard": False, "object_store_memory": store},
    )
    cluster.add_node(num_cpus=1, object_store_memory=store)
    cluster.wait_for_nodes()
    try:
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()
        os.environ.clear()
        os.environ.update(saved)


def test_a_node_removed_mid_run_still_completes_the_run(
    two_node_cluster: Any, reference: StoredRun, tiny_model: Path, data_dir: Path, tmp_path: Path
) -> None:
    second = next(node for node in two_node_cluster.list_all_nodes() if not node.head)
    pool = WorkerPool(PoolSettings(workers=2, progress=False))
    removed: list[str] = []

    def remove_second_node(finished: Slot, position: int) -> None:
        if not removed and second.node_id[:8] in finished.where:  # the second node's worker has answered
            two_node_cluster.remove_node(second)
            removed.append(finished.name)

    pool.on_chunk = remove_second_node
    try:
        stored = run(_config(tiny_model, data_dir, tmp_path), pool=pool)
    finally:
        pool.shutdown()
    assert removed, "the worker on the second node answered nothing"
    assert_same_results(stored, reference)
    timings = stored.result.timings
    assert timings["workers"][removed[0]]["requests"] > 0
    assert timings["retried_chunks"] >= 1 and {r["worker"] for r in timings["retries"]} == set(removed)


def test_a_killed_driver_resumes_from_the_store_and_leaves_no_ray_behind(
    reference: StoredRun, tiny_model: Path, data_dir: Path, tmp_path: Path
) -> None:
    store = tmp_path / "responses.sqlite"
    command = [sys.executable, "-m", "harness.cli", "eval", "--model", str(tiny_model), "--tasks", ",".join(TASKS),
               "--langs", "en,de", "--limit", "70", "--data-dir", str(data_dir), "--out", str(tmp_path / "out"),
               "--dtype", "float32", "--batch-size", "8", "--cache", str(store), "--no-progress"]  # fmt: skip
    driver = subprocess.Popen([*command, "--workers", "2"], start_new_session=True, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while _stored_answers(store) == 0:  # wait for the first chunk, then kill the driver's whole group
            assert driver.poll() is None and time.monotonic() < deadline, "the driver ended before answering"
            time.sleep(0.2)
    finally:
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
    assert not list((tmp_path / "out").glob("*/*/results.json"))  # nothing half-written published
    assert _group_processes(driver.pid) == []  # no orphaned Ray processes
    stored_before = _stored_answers(store)
    subprocess.run([*command, "--workers", "2"], check=True, capture_output=True, timeout=600)
    results = list((tmp_path / "out").glob("*/*/results.json"))
    assert len(results) == 1
    from harness.records.io import read_run

    resumed = StoredRun(results[0].parent, read_run(results[0].parent))
    assert resumed.result.timings["requests_from_cache"] == stored_before > 0
    assert_same_results(resumed, reference)


def _stored_answers(store: Path) -> int:
    if not store.exists():
        return 0
    try:
        with sqlite3.connect(store, timeout=1) as connection:
            return int(connection.execute("SELECT COUNT(*) FROM responses").fetchone()[0])
    except sqlite3.Error:
        return 0


def _group_processes(group: int, within_s: float = 15.0) -> list[str]:
    """Live (not zombie) processes of a process group, once they had ``within_s`` to go."""
    deadline = time.monotonic() + within_s
    while True:
        listing = subprocess.run(["ps", "-eo", "pgid=,stat=,pid=,comm="], capture_output=True, text=True).stdout
        alive = [line for line in listing.splitlines() if line.split()[0] == str(group) and "Z" not in line.split()[1]]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.5)
