"""The harness alone: the whole local suite (every task in ``tasks/`` with its default variant and split, every
language with local data, all items or a share of each file) prepared, scored, aggregated and written, with an
instrument backend that answers instantly, so the numbers measure xlh and not a model.

    python benchmarks/bench_harness.py --data-dir ../shared/data [--fraction 0.1 0.5 1.0] [--profile]

Each fraction runs in a fresh Python process (peak RSS is a per-process high-water mark) and prints one
Markdown row: fraction, samples written, wall and CPU seconds of ``runner.run`` (CPU time moves less than wall
time on a shared machine), peak RSS of the process. ``--profile`` runs the
first fraction under cProfile in this process and prints the top entries by cumulative and by own time.

A share of each file: ``LIMIT`` is one number for every task, and the files differ in size (MGSM 250 items,
XNLI 5,010), so the benchmark wraps the runner's ``limit_examples`` to take ``ceil(fraction * len(file))`` of
each file with the runner's own seeded sampler; ``--fraction 1.0`` runs with no LIMIT at all.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import math
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.api.registry import all_tasks  # noqa: E402
from harness.api.requests import ChoiceRequest, ChoiceScores, Generation, GenerationRequest  # noqa: E402
from harness.backends.base import BackendInfo  # noqa: E402
from harness.run import runner  # noqa: E402
from harness.run.config import RunConfig  # noqa: E402
from harness.run.sampling import limit_examples  # noqa: E402

HEADER = "| fraction | samples | wall s | CPU s | peak RSS MiB |\n|---|---|---|---|---|"


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


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(model: Path, data_dir: Path, fraction: float, out: Path) -> tuple[int, float, float]:
    """(samples written, wall seconds, CPU seconds) of one whole-suite run."""
    if fraction < 1.0:
        share_of_each_file(fraction)
    config = RunConfig(model=str(model), tasks=tuple(sorted(all_tasks())), data_dir=data_dir, out_dir=out, cache=None)
    started, cpu = time.perf_counter(), cpu_seconds()
    stored = runner.run(config, backend=InstrumentBackend())  # type: ignore[arg-type]
    wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    with (stored.folder / "samples.jsonl").open("rb") as samples:
        count = sum(1 for _ in samples)
    return count, wall, cpu


def one(args: argparse.Namespace, model: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="xlh-bench-out-") as out:
        count, wall, cpu = measure(model, args.data_dir, args.fraction[0], Path(out))
    print(f"| {args.fraction[0]:g} | {count:,} | {wall:.1f} | {cpu:.1f} | {peak_rss_mib():,.0f} |", flush=True)


def profile(args: argparse.Namespace, model: Path) -> None:
    profiler = cProfile.Profile()
    with tempfile.TemporaryDirectory(prefix="xlh-bench-out-") as out:
        profiler.enable()
        count, wall, _ = measure(model, args.data_dir, args.fraction[0], Path(out))
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
            subprocess.run(command, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
