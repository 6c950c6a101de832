"""The response store with the real tiny transformers model: resume after SIGKILL, no answers shared across
different weights, concurrent runs, a garbage store file, reuse across LIMITs, and the cache command."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file, save_file

from harness.cli.main import main
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow

# Enough choice requests for several committed chunks (128 each) before the run could finish.
RESUMABLE = ["--tasks", "xnli", "--langs", "de,fr,es", "--limit", "200"]
SMALL = ["--tasks", "mgsm,xnli", "--langs", "de", "--limit", "4"]


def _args(model: Path, data_dir: Path, out: Path, cache: Path | str, *extra: str) -> list[str]:
    return ["eval", "--model", str(model), "--data-dir", str(data_dir), "--out", str(out), "--cache", str(cache),
            "--no-progress", *extra]  # fmt: skip


def _run_in_process(*args: str) -> Path:
    assert main(list(args)) == 0
    return _newest_run(Path(args[args.index("--out") + 1]))


def _newest_run(out: Path) -> Path:
    return max((p for p in out.glob("*/*") if p.is_dir()), key=lambda p: p.stat().st_mtime)


def _subprocess(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "harness.cli", *args], cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def _samples(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]


def _results(folder: Path) -> dict:
    result = json.loads((folder / "results.json").read_text())
    for varying in ("run_id", "created_at", "timings"):
        result.pop(varying)
    return result


def _stored(cache: Path) -> int:
    try:
        with sqlite3.connect(cache, timeout=30) as connection:
            return connection.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    except sqlite3.OperationalError:
        return 0  # not created yet


def _timings(folder: Path) -> dict:
    return json.loads((folder / "results.json").read_text())["timings"]


def test_a_run_killed_midway_resumes_and_computes_only_what_is_missing(tiny_model, data_dir, tmp_path) -> None:
    cache = tmp_path / "store.sqlite"
    process = _subprocess(*_args(tiny_model, data_dir, tmp_path / "out", cache, *RESUMABLE))
    deadline = time.monotonic() + 300
    while _stored(cache) < 128 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    kept = _stored(cache)
    total = 3 * 200
    assert 0 < kept < total, f"the kill should land midway ({kept} of {total} answers stored)"
    assert not [p for p in (tmp_path / "out").glob("*/*") if not p.name.startswith(".")]  # no run folder

    resumed = _run_in_process(*_args(tiny_model, data_dir, tmp_path / "out", cache, *RESUMABLE))
    timings = _timings(resumed)
    assert (timings["requests_from_cache"], timings["requests_computed"]) == (kept, total - kept)

    fresh = _run_in_process(*_args(tiny_model, data_dir, tmp_path / "fresh", "off", *RESUMABLE))
    assert _samples(resumed) == _samples(fresh)
    assert _results(resumed)["tasks"] == _results(fresh)["tasks"]


def test_a_second_identical_run_computes_nothing_and_writes_the_same_files(tiny_model, data_dir, tmp_path) -> None:
    cache = tmp_path / "store.sqlite"
    first = _run_in_process(*_args(tiny_model, data_dir, tmp_path / "out", cache, *SMALL))
    second = _run_in_process(*_args(tiny_model, data_dir, tmp_path / "out", cache, *SMALL))
    assert _timings(first)["requests_computed"] == 8 and _timings(second)["requests_computed"] == 0
    assert _timings(second)["requests_from_cache"] == 8
    assert (first / "samples.jsonl").read_text() == (second / "samples.jsonl").read_text()
    assert _results(first) == _results(second)

    larger = _run_in_process(*_args(tiny_model, data_dir, tmp_path / "out", cache, *SMALL[:-1], "6"))
    assert (_timings(larger)["requests_from_cache"], _timings(larger)["requests_computed"]) == (8, 4)


def _merged_copy(tiny_model: Path, target: Path) -> Path:
    """Same config and tokenizer, one tensor changed: what a merge looks like to the store."""
    shutil.copytree(tiny_model, target)
    tensors = load_file(target / "model.safetensors")
    name = next(n for n in sorted(tensors) if n.endswith("mlp.down_proj.weight"))
    tensors[name] = tensors[name] * 0.5
    save_file(tensors, target / "model.safetensors", metadata={"format": "pt"})
    return target


def test_different_weights_share_no_answers(tiny_model, data_dir, tmp_path) -> None:
    cache = tmp_path / "store.sqlite"
    merged = _merged_copy(tiny_model, tmp_path / "merged")
    _run_in_process(*_args(tiny_model, data_dir, tmp_path / "out", cache, *SMALL))
    run = _run_in_process(*_args(merged, data_dir, tmp_path / "out", cache, *SMALL))
    assert _timings(run)["requests_from_cache"] == 0 and _timings(run)["requests_computed"] == 8


def test_two_concurrent_runs_on_one_store_both_complete_correctly(tiny_model, data_dir, tmp_path) -> None:
    cache = tmp_path / "store.sqlite"
    merged = _merged_copy(tiny_model, tmp_path / "merged")
    workload = ["--tasks", "xnli", "--langs", "de,fr", "--limit", "100"]
    processes = [
        _subprocess(*_args(model, data_dir, tmp_path / f"out{i}", cache, *workload))
        for i, model in enumerate((tiny_model, merged))
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr
        assert "warning" not in stderr, stderr  # neither run lost its store to the other
    assert _stored(cache) == 2 * 2 * 100
    for i, model in enumerate((tiny_model, merged)):
        concurrent = _newest_run(tmp_path / f"out{i}")
        alone = _run_in_process(*_args(model, data_dir, tmp_path / f"alone{i}", "off", *workload))
        assert _samples(concurrent) == _samples(alone)


def test_a_garbage_store_warns_once_and_the_run_completes(tiny_model, data_dir, tmp_path, capsys) -> None:
    cache = tmp_path / "store.sqlite"
    cache.write_bytes(os.urandom(4096))
    run = _run_in_process(*_args(tiny_model, data_dir, tmp_path / "out", cache, *SMALL))
    err = capsys.readouterr().err
    assert err.count("warning: response cache") == 1 and "continuing without it" in err
    assert _timings(run)["requests_computed"] == 8 and len(_samples(run)) == 8


def test_cache_command_stats_prune_and_clear(tiny_model, data_dir, tmp_path, capsys) -> None:
    cache = tmp_path / "store.sqlite"
    merged = _merged_copy(tiny_model, tmp_path / "merged")
    _run_in_process(*_args(tiny_model, data_dir, tmp_path / "out", cache, *SMALL))
    _run_in_process(*_args(merged, data_dir, tmp_path / "out", cache, *SMALL))
    capsys.readouterr()
    assert main(["cache", "stats", "--cache", str(cache)]) == 0
    assert f"{cache}: 16 answers" in capsys.readouterr().out
    assert main(["cache", "prune", "--model", str(merged), "--cache", str(cache)]) == 0
    assert "removed 8 answers" in capsys.readouterr().out
    assert _stored(cache) == 8
    assert main(["cache", "clear", "--cache", str(cache)]) == 0
    assert _stored(cache) == 0
