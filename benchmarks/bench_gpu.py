"""The transformers backend on a GPU: wall time, throughput, peak GPU memory, and bfloat16 vs float32 agreement.

    python benchmarks/bench_gpu.py [--model models/gemma-3-270m] [--data-dir ../shared/data]
        [--dtypes bfloat16,float32] [--runs choice50,choice_full,mgsm50] [--reference SAMPLES.jsonl]
        [--json FILE] [--samples-archive FILE.tar.xz]

Each run is a user's ``xlh eval --backend hf --device cuda --dtype D --cache off``, started cold in its own
process and timed from start to exit (start-up, model load, data, inference, writing). The process is this
script again (``--child``): it runs the CLI in-process and then reads torch's peak allocated and reserved GPU
memory, which no outside observer can see. The runs:

- ``choice50``: the lm-eval rows' slice (Belebele eng/deu + SIB-200 prompt 1 in eng/deu/swh/yor/zho_Hans,
  LIMIT 50 first-N, 350 requests), batch 16 as there;
- ``choice_full``: the same languages' whole test sets (1,800 Belebele + 1,020 SIB-200 items), batch 64;
- ``mgsm50``: MGSM direct (greedy generation, up to 256 new tokens) in en/de/sw/zh, LIMIT 50 first-N, batch 64.

Agreement, per run, between the dtypes: identical predictions (the extracted choice; for MGSM the generated
text and the extracted number) and the largest |log-likelihood difference| of any choice. ``--reference``
(samples.jsonl of a CPU float32 run of ``choice50``) adds GPU float32 vs CPU float32 agreement.

Prints the Markdown table of BENCHMARKS.md with the command, machine, versions and date above it. Nothing here
is product code: the product's GPU path is the same ``hf`` backend with ``--device cuda``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIB_LANGS = "eng_Latn,deu_Latn,swh_Latn,yor_Latn,zho_Hans"
DEFAULT_ATTENTION = "default"  # no --attn-implementation: transformers' choice (recorded by the backend)


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One measured command: tasks, languages, LIMIT (None: every item) and batch size."""

    name: str
    tasks: str
    langs: str
    limit: int | None
    batch_size: int
    description: str


RUNS: dict[str, RunSpec] = {
    spec.name: spec
    for spec in (
        RunSpec("choice50", "belebele,sib200:prompt_1", SIB_LANGS, 50, 16, "Belebele eng/deu + SIB-200 x5, LIMIT 50"),
        RunSpec("choice_full", "belebele,sib200:prompt_1", SIB_LANGS, None, 64, "the same languages, all items"),
        RunSpec("mgsm50", "mgsm:direct", "en,de,sw,zh", 50, 64, "MGSM direct en/de/sw/zh, LIMIT 50 (generation)"),
    )
}

Key = tuple[str, str, str]  # (task, language, item id)


@dataclasses.dataclass
class Measured:
    run: str
    dtype: str
    attention: str
    wall_s: float
    timings: dict[str, Any]
    gpu: dict[str, Any]
    samples: Path


# -- one run, in its own process ------------------------------------------------------------------------------
def eval_argv(spec: RunSpec, args: argparse.Namespace, dtype: str, attention: str, out: Path) -> list[str]:
    argv = ["eval", "--model", str(args.model), "--tasks", spec.tasks, "--langs", spec.langs,
            "--data-dir", str(args.data_dir), "--out", str(out), "--backend", "hf", "--device", args.device,
            "--dtype", dtype, "--batch-size", str(spec.batch_size), "--cache", "off", "--no-progress"]  # fmt: skip
    if spec.limit is not None:
        argv += ["--limit", str(spec.limit), "--limit-mode", "first"]
    if attention != DEFAULT_ATTENTION:
        argv += ["--attn-implementation", attention]
    return argv


def child(argv: list[str], report: Path) -> None:
    """Run ``xlh eval`` in this process, then write torch's peak GPU memory to ``report``."""
    import torch

    from harness.cli.main import main

    code = main(argv)
    if code != 0:
        raise SystemExit(code)
    gpu = torch.cuda.is_available()
    report.write_text(
        json.dumps(
            {
                "device": torch.cuda.get_device_properties(0).name if gpu else platform.processor() or "cpu",
                "peak_allocated_mib": torch.cuda.max_memory_allocated() / 2**20 if gpu else 0.0,
                "peak_reserved_mib": torch.cuda.max_memory_reserved() / 2**20 if gpu else 0.0,
                "float32_matmul_precision": torch.get_float32_matmul_precision(),
            }
        ),
        encoding="utf-8",
    )


def measure(spec: RunSpec, dtype: str, attention: str, args: argparse.Namespace, work: Path) -> Measured:
    label = f"{spec.name}-{dtype}-{attention}"
    out, report, log = work / label, work / f"{label}.gpu.json", work / f"{label}.log"
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(report), "--",
               *eval_argv(spec, args, dtype, attention, out)]  # fmt: skip
    started = time.perf_counter()
    with log.open("w", encoding="utf-8") as handle:
        finished = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, check=False)
    wall = time.perf_counter() - started
    if finished.returncode != 0 or not report.is_file():
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RuntimeError(f"{label} failed (exit {finished.returncode}); log {log}:\n{tail}")
    (results,) = out.glob("*/*/results.json")
    recorded = json.loads(results.read_text(encoding="utf-8"))
    ran = recorded["backend"]["options"].get("attn_implementation") or attention
    gpu = json.loads(report.read_text())
    return Measured(spec.name, dtype, ran, wall, recorded["timings"], gpu, results.parent / "samples.jsonl")


# -- agreement ------------------------------------------------------------------------------------------------
def read_samples(path: Path) -> dict[Key, dict[str, Any]]:
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        sample = json.loads(line)
        found[(sample["task"], sample["language"], str(sample["id"]))] = sample
    return found


def agreement(first: Path, second: Path) -> dict[str, Any]:
    """Identical predictions (and generations) and the largest log-likelihood difference between two runs."""
    a, b = read_samples(first), read_samples(second)
    shared = sorted(set(a) & set(b))
    same_prediction = sum(a[key]["extracted"] == b[key]["extracted"] for key in shared)
    same_text = sum(a[key]["responses"] == b[key]["responses"] for key in shared if "prompt" in a[key]["requests"][0])
    generated = sum("prompt" in a[key]["requests"][0] for key in shared)
    largest = 0.0
    for key in shared:
        for ra, rb in zip(a[key]["responses"], b[key]["responses"], strict=True):
            if isinstance(ra, dict) and "loglikelihoods" in ra:
                diffs = [abs(x - y) for x, y in zip(ra["loglikelihoods"], rb["loglikelihoods"], strict=True)]
                largest = max(largest, *diffs)
    return {"items": len(shared), "only_one": len(set(a) ^ set(b)), "same_prediction": same_prediction,
            "generated": generated, "same_text": same_text, "max_abs_loglik_diff": largest}  # fmt: skip


def generated_tokens(samples: Path, model: Path) -> int:
    """Tokens of every generated answer, by the model's own tokenizer (no special tokens)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model / "tokenizer.json"))
    texts = [text for sample in read_samples(samples).values() for text in sample["responses"] if isinstance(text, str)]
    return sum(len(encoding.ids) for encoding in tokenizer.encode_batch(texts, add_special_tokens=False))


def comparisons(name: str, by_variant: dict[tuple[str, str], Path], args: argparse.Namespace) -> dict[str, Any]:
    """Each attention's first dtype against its second; with ``--reference``, every ``choice50`` run against the
    CPU's float32 run; and every other attention against the first, per dtype."""
    found: dict[str, Any] = {}
    first_attention = args.attention[0]
    for attention in args.attention:
        if len(args.dtypes) == 2:
            a, b = (by_variant[(dtype, attention)] for dtype in args.dtypes)
            found[f"{name}: {args.dtypes[0]} vs {args.dtypes[1]} ({attention})"] = agreement(a, b)
        for dtype in args.dtypes:
            if name == "choice50" and args.reference:
                found[f"{name}: GPU {dtype} ({attention}) vs CPU float32"] = agreement(
                    by_variant[(dtype, attention)], args.reference
                )
            if attention != first_attention:
                found[f"{name}: {attention} vs {first_attention} ({dtype})"] = agreement(
                    by_variant[(dtype, attention)], by_variant[(dtype, first_attention)]
                )
    return found


# -- report ---------------------------------------------------------------------------------------------------
def versions() -> dict[str, str]:
    import torch
    import transformers

    return {"python": platform.python_version(), "torch": torch.__version__, "cuda": str(torch.version.cuda),
            "transformers": transformers.__version__}  # fmt: skip


def table(measured: list[Measured], agreements: dict[str, dict[str, Any]], model: Path) -> list[str]:
    lines = [
        "| run | dtype | attention | batch | requests | wall s | load model s | inference s | requests/s | "
        "generated tokens/s | peak GPU allocated / reserved MiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in measured:
        spec, t = RUNS[m.run], m.timings
        rate = t["requests_computed"] / t["inference_s"]
        tokens = f"{generated_tokens(m.samples, model) / t['inference_s']:.0f}" if m.run.startswith("mgsm") else "-"
        lines.append(
            f"| {spec.description} | {m.dtype} | {m.attention} | {spec.batch_size} | {t['requests_computed']} | "
            f"{m.wall_s:.1f} | {t['load_model_s']:.1f} | {t['inference_s']:.1f} | {rate:.1f} | {tokens} | "
            f"{m.gpu['peak_allocated_mib']:.0f} / {m.gpu['peak_reserved_mib']:.0f} |"
        )
    lines += ["", "| run | compared | items | predictions identical | generations identical | max abs log-lik diff |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for label, a in agreements.items():
        run, compared = label.split(": ", 1)
        text = f"{a['same_text']}/{a['generated']}" if a["generated"] else "-"
        lines.append(
            f"| {RUNS[run].description} | {compared} | {a['items']} | {a['same_prediction']}/{a['items']} | "
            f"{text} | {a['max_abs_loglik_diff']:.2e} |"
        )
    return lines


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    csv = lambda text: [part for part in text.split(",") if part]  # noqa: E731
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "gemma-3-270m")
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--device", default="cuda", help="cuda (cpu only to try this script out)")
    parser.add_argument("--dtypes", type=csv, default=["bfloat16", "float32"])
    parser.add_argument(
        "--attention",
        type=csv,
        default=[DEFAULT_ATTENTION],
        help="comma-separated attention kernels to compare (default: transformers' choice; e.g. sdpa,eager)",
    )
    parser.add_argument("--runs", type=csv, default=list(RUNS), help=f"comma-separated: {', '.join(RUNS)}")
    parser.add_argument("--reference", type=Path, default=None, help="samples.jsonl of a CPU float32 choice50 run")
    parser.add_argument("--json", type=Path, default=None, help="also write every measurement to this JSON file")
    parser.add_argument("--samples-archive", type=Path, default=None, help="tar.xz of every run's samples.jsonl")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        child(argv[3:], Path(argv[1]))
        return
    args = parse_args(argv)
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("bench_gpu.py needs a CUDA GPU (torch.cuda.is_available() is False)")
    measured: list[Measured] = []
    agreements: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="xlh-bench-gpu-") as folder:
        work = Path(folder)
        for name in args.runs:
            by_variant: dict[tuple[str, str], Path] = {}
            for attention in args.attention:
                for dtype in args.dtypes:
                    m = measure(RUNS[name], dtype, attention, args, work)
                    print(f"  {name} {dtype} {m.attention}: {m.wall_s:.1f} s, {json.dumps(m.timings)}, "
                          f"{json.dumps(m.gpu)}", flush=True)  # fmt: skip
                    measured.append(m)
                    by_variant[(dtype, attention)] = m.samples
            agreements.update(comparisons(name, by_variant, args))
        if args.samples_archive:
            with tarfile.open(args.samples_archive, "w:xz") as archive:
                for m in measured:
                    archive.add(m.samples, arcname=f"{m.run}-{m.dtype}-{m.attention}.samples.jsonl")
        lines = table(measured, agreements, args.model)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    device = measured[0].gpu["device"] if measured else "?"
    precision = measured[0].gpu["float32_matmul_precision"] if measured else "?"
    print(f"\n`python benchmarks/bench_gpu.py` on {device}, {os.cpu_count()} CPU cores, {stamp}; "
          f"{json.dumps(versions())}; float32 matmul precision {precision}\n")  # fmt: skip
    print("\n".join(lines))
    if args.json:
        payload = {"measured": [dataclasses.asdict(m) | {"samples": str(m.samples)} for m in measured],
                   "agreements": agreements, "versions": versions(), "date": stamp}  # fmt: skip
        args.json.write_text(json.dumps(payload, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
