"""The harness alone: the whole local suite (every task in ``tasks/`` with its default variant and split, every
language with local data, all items or a share of each file) prepared, scored, aggregated and written, with an
instrument backend that answers instantly, so the numbers measure xlh and not a model.

    python benchmarks/bench_harness.py --data-dir ../shared/data [--fraction 0.1 0.5 1.0] [--profile]
        [--tasks flores200 xnli] [--workers N]

Each fraction runs in a fresh Python process (peak RSS is a per-process high-water mark) and prints one
Markdown row: fraction, samples written, wall seconds of ``runner.run``, CPU seconds of the process and its
scoring workers (CPU time moves less than wall time on a shared machine), peak RSS of the process and the
peak of all its processes together, sampled (the runner scores large runs in worker processes,
``harness.run.scoring``; psutil, installed with accelerate). ``--profile`` runs the first fraction under
cProfile in this process, scoring here (one worker), and prints the top entries by cumulative and own time.

A share of each file: ``LIMIT`` is one number for every task, and the files differ in size (MGSM 250 items,
XNLI 5,010), so the benchmark wraps the runner's ``limit_examples`` to take ``ceil(fraction * len(file))`` of
each file with the runner's own seeded sampler; ``--fraction 1.0`` runs with no LIMIT at all.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import math
import pstats
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.api.registry import all_tasks  # noqa: E402
from harness.api.requests import ChoiceRequest, ChoiceScores, Generation, GenerationRequest  # noqa: E402
from harness.backends.base import BackendInfo  # noqa: E402
from harness.run import runner  # noqa: E402
from harness.run.config import RunConfig  # noqa: E402
from harness.run.sampling import limit_examples  # noqa: E402

HEADER = (
    "| fraction | samples | wall s | of which preparing / answering / scoring and writing s | CPU s (all processes) "
    "| peak RSS MiB (main process / all processes) |\n|---|---|---|---|---|---|"
)


class InstrumentBackend:
    """Answers without a model: one fixed short generation per request, and choice scores that depend only on
    the continuations (deterministic, of the right shape, with a clear argmax)."""

    TEXT = "The answer is 42."

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        return [Generation(self.TEXT, "stop") for _ in requests]

    def score_choices(self, requests: Sequence[ChoiceRequest]) -> list[ChoiceScores]:
        return [
            ChoiceScores(
                loglikelihoods=tuple(-1.0 - (len(c) % 7) for c in request.continuations),
                token_counts=tuple(max(1, len(c) // 4) for c in request.continuations),
                is_greedy=tuple(False for _ in request.continuations),
            )
            for request in requests
        ]

    def info(self) -> BackendInfo:
        return BackendInfo(name="instrument", versions={}, device="none", dtype="none")

    def close(self) -> None:
        pass


def share_of_each_file(fraction: float) -> None:
    """Make the runner take ``ceil(fraction * len(file))`` items of every file (see the module docstring)."""

    def limited(examples, limit, mode, seed, task, stratum=lambda _: None):  # type: ignore[no-untyped-def]
        share = max(1, math.ceil(fraction * len(examples)))
        return limit_examples(examples, share, mode, seed, task, stratum)

    runner.limit_examples = limited  # type: ignore[assignment]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class TreeRss:
    """The peak of the summed RSS of this process and its descendants (the scoring workers), sampled every
    ``interval`` seconds. getrusage cannot tell it: a spawned worker's high-water mark starts at its parent's
    (Linux keeps the RSS of the forked copy across exec), and it never sums processes."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval, self.peak, self._stop = interval, 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> TreeRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(self.interval):
            total = 0
            for process in [me, *me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += process.memory_info().rss
            self.peak = max(self.peak, total)

    @property
    def peak_mib(self) -> float:
        return self.peak / 2**20


def cpu_seconds() -> float:
    """CPU time of this process and of its ended children (the scoring workers)."""
    usages = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(usage.ru_utime + usage.ru_stime for usage in usages)


def measure(
    model: Path, data_dir: Path, fraction: float, out: Path, tasks: Sequence[str] = (), workers: int | None = None
) -> tuple[int, float, float, str]:
    """(samples written, wall seconds, CPU seconds of this process and its scoring workers, the run's own phase
    timings) of one run of ``tasks`` (default: every task) in every local language."""
    if fraction < 1.0:
        share_of_each_file(fraction)
    config = RunConfig(model=str(model), tasks=tuple(tasks or sorted(all_tasks())), data_dir=data_dir, out_dir=out,
                       cache=None, score_workers=workers)  # fmt: skip
    started, cpu = time.perf_counter(), cpu_seconds()
    stored = runner.run(config, backend=InstrumentBackend())  # type: ignore[arg-type]
    wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    with (stored.folder / "samples.jsonl").open("rb") as samples:
        count = sum(1 for _ in samples)
    timings = stored.result.timings
    scoring = timings["total_s"] - timings["load_data_s"] - timings["load_model_s"] - timings["inference_s"]
    phases = f"{timings['load_data_s']:.1f} / {timings['inference_s']:.1f} / {scoring:.1f}"
    return count, wall, cpu, phases


def one(args: argparse.Namespace, model: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="xlh-bench-out-") as out, TreeRss() as tree:
        count, wall, cpu, phases = measure(model, args.data_dir, args.fraction[0], Path(out), args.tasks, args.workers)
    rss = f"{peak_rss_mib():,.0f} / {tree.peak_mib:,.0f}"
    print(f"| {args.fraction[0]:g} | {count:,} | {wall:.1f} | {phases} | {cpu:.1f} | {rss} |", flush=True)


def profile(args: argparse.Namespace, model: Path) -> None:
    profiler = cProfile.Profile()
    with tempfile.TemporaryDirectory(prefix="xlh-bench-out-") as out:
        profiler.enable()
        count, wall, _, _ = measure(model, args.data_dir, args.fraction[0], Path(out), args.tasks, workers=1)
        profiler.disable()
    print(f"profiled fraction {args.fraction[0]:g}: {count:,} samples, {wall:.1f} s (under cProfile)")
    for order in ("cumulative", "tottime"):
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats(order).print_stats(args.top)
        print(text.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--fraction", type=float, nargs="+", default=[0.1, 0.5, 1.0])
    parser.add_argument("--model", type=Path, help="a model folder for run()'s checks (default: a tiny one, built)")
    parser.add_argument("--profile", action="store_true", help="cProfile the first fraction, in this process")
    parser.add_argument("--tasks", nargs="+", default=[], help="only these tasks (default: every task)")
    parser.add_argument("--workers", type=int, default=None, help="scoring processes (default: the runner's)")
    parser.add_argument("--top", type=int, default=25, help="profile entries shown per ordering")
    parser.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="xlh-bench-model-") as scratch:
        model = args.model
        if model is None:
            from harness.run.tiny_model import build_tiny_model

            model = build_tiny_model(Path(scratch) / "tiny", args.data_dir, seed=0)
        if args.profile:
            profile(args, model)
            return 0
        if args.in_process:
            one(args, model)
            return 0
        print(HEADER, flush=True)
        for fraction in args.fraction:
            command = [sys.executable, __file__, "--in-process", "--data-dir", str(args.data_dir),
                       "--model", str(model), "--fraction", str(fraction)]  # fmt: skip
            command += (["--tasks", *args.tasks] if args.tasks else []) + (
                ["--workers", str(args.workers)] if args.workers else []
            )
            subprocess.run(command, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
