"""Runs with workers on this machine: the same slices without workers, with ``--workers 1`` and ``--workers 2``.

    python benchmarks/bench_workers.py [--data-dir ../shared/data] [--model gemma-3-270m] [--repeats 1]

Each command is a fresh ``xlh eval`` process (response store off), timed from start to exit; the runs go
none, 1, 2, none, 1, 2, ... and each variant's median is shown. Peak RSS is sampled over the process and all
its descendants (Ray's processes and the worker actors are children of the driver here). "Ray overhead" is
the wall time a variant takes beyond the run without workers, as a share of it. Predictions: every sample's
extracted answer against the run without workers.

Two slices, because one LIMIT serves every task of a command and generation is slow here: a choice slice
(SIB-200 and Belebele, English and German, LIMIT 128: 512 requests in several chunks of the response store,
which bounds a chunk's requests and estimated cost) and a generation slice (MGSM direct, English and German, LIMIT
16: 32 requests, one chunk, so the second worker has nothing to do). On two cores two workers cannot be faster
than one engine using both cores: what this measures is what the Ray path costs (starting Ray, a worker process
per engine, dispatch), not a speed-up.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
VARIANTS: tuple[int | None, ...] = (None, 1, 2)
SLICES = {
    "choice": ["--tasks", "sib200,belebele", "--langs", "eng_Latn,deu_Latn", "--limit", "128"],
    "generation": ["--tasks", "mgsm:direct", "--langs", "en,de", "--limit", "16"],
}


@dataclass
class Measured:
    seconds: list[float] = field(default_factory=list)
    peak_mib: float = 0.0
    predictions: dict[tuple[str, str, str], str] = field(default_factory=dict)
    workers: dict[str, dict] = field(default_factory=dict)


class TreePeak(threading.Thread):
    """The largest summed RSS of a process and its descendants, sampled every 0.2 s."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                root = psutil.Process(self.pid)
                total = sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
                self.peak = max(self.peak, total)
            except psutil.Error:
                pass
            time.sleep(0.2)


def run_once(command: list[str], out: Path, log: Path) -> tuple[float, float, Path]:
    with log.open("w", encoding="utf-8") as handle:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT)
        sampler = TreePeak(process.pid)
        sampler.start()
        code = process.wait()
        seconds = time.perf_counter() - started
        sampler.stop.set()
    if code != 0:
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-30:])
        raise SystemExit(f"failed ({code}): {' '.join(command)}\n{tail}")
    folders = sorted(out.glob("*/*/results.json"))
    return seconds, sampler.peak / 2**20, folders[-1].parent


def predictions(folder: Path) -> dict[tuple[str, str, str], str]:
    rows = (json.loads(line) for line in (folder / "samples.jsonl").read_text(encoding="utf-8").splitlines())
    return {(row["task"], row["language"], row["id"]): str(row["extracted"]) for row in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--model", default="gemma-3-270m")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    base = [sys.executable, "-m", "harness.cli", "eval", "--model", args.model, "--data-dir", args.data_dir,
            "--dtype", "float32", "--batch-size", "16", "--cache", "off", "--no-progress"]  # fmt: skip
    results: dict[tuple[str, int | None], Measured] = {}
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as scratch:
        for slice_name, selection in SLICES.items():
            for repeat in range(args.repeats):
                for workers in VARIANTS:
                    out = Path(scratch) / f"{slice_name}-{workers}-{repeat}"
                    extra = ["--workers", str(workers)] if workers else []
                    command = [*base, *selection, "--out", str(out), *extra]
                    seconds, peak, folder = run_once(command, out, Path(scratch) / f"{out.name}.log")
                    measured = results.setdefault((slice_name, workers), Measured())
                    measured.seconds.append(seconds)
                    measured.peak_mib = max(measured.peak_mib, peak)
                    measured.predictions = predictions(folder)
                    timings = json.loads((folder / "results.json").read_text())["timings"]
                    measured.workers = timings.get("workers", {})
                    computing = sum(share["compute_s"] for share in measured.workers.values())
                    print(f"{slice_name} workers={workers or '-'}: {seconds:.1f} s, {peak:.0f} MiB, inference "
                          f"{timings['inference_s']:.1f} s, workers computing {computing:.1f} s",
                          file=sys.stderr)  # fmt: skip
    print(report(results, args))


def report(results: dict[tuple[str, int | None], Measured], args: argparse.Namespace) -> str:
    import ray
    import torch
    import transformers

    import harness

    lines = [
        f"**Command**: `python benchmarks/bench_workers.py --model {args.model} --repeats {args.repeats}`",
        f"**Date**: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"**Machine**: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}",
        f"**Versions**: python {platform.python_version()}, xlh {harness.__version__}, ray {ray.__version__}, "
        f"torch {torch.__version__}, transformers {transformers.__version__}",
        f"**Setting**: model {args.model}, transformers backend, float32, batch 16, response store off; "
        f"slices: " + "; ".join(f"{name}: `{' '.join(selection)}`" for name, selection in SLICES.items()),
        "",
        "| slice | workers | wall s | Ray overhead | peak RSS, all processes | requests per worker | predictions |",
        "|---|---|---|---|---|---|---|",
    ]
    for slice_name in SLICES:
        reference = results[(slice_name, None)]
        plain = statistics.median(reference.seconds)
        for workers in VARIANTS:
            measured = results[(slice_name, workers)]
            seconds = statistics.median(measured.seconds)
            overhead = "-" if workers is None else f"{(seconds - plain) / plain:+.1%}"
            shares = ", ".join(f"{name} {share['requests']}" for name, share in measured.workers.items()) or "-"
            same = sum(measured.predictions[key] == value for key, value in reference.predictions.items())
            lines.append(
                f"| {slice_name} | {workers or 'none'} | {seconds:.1f} | {overhead} | "
                f"{measured.peak_mib / 1024:.2f} GiB | {shares} | {same}/{len(reference.predictions)} identical |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
