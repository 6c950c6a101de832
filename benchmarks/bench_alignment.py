"""Alignment on a real model: how long MEXA takes for many languages, and how far it predicts task scores.

    python benchmarks/bench_alignment.py [--model gemma-3-270m] [--langs L1,L2,...] [--limit 100]
                                         [--task-limit 50] [--tasks sib200] [--out DIR] [--data-dir ../shared/data]

Runs, as a user would (each a fresh ``xlh eval`` process, response store off): the ``alignment`` task on the
languages (default: 44 FLORES languages across resource levels and scripts) with ``--limit`` sentence pairs, then
each of ``--tasks`` on the same languages at ``--task-limit``, then ``xlh correlate`` over the runs. Prints, for the
alignment run, wall time, model load, embedding time, texts and tokens embedded (from the samples' ``responses``:
each text's token count), texts/s and tokens/s, and the peak RSS of the process; then the correlation table.
Numbers in BENCHMARKS.md ("Cross-lingual alignment") come from this script.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LANGUAGES = (
    "deu_Latn,fra_Latn,spa_Latn,ita_Latn,por_Latn,nld_Latn,rus_Cyrl,pol_Latn,ukr_Cyrl,ces_Latn,tur_Latn,arb_Arab,"
    "pes_Arab,heb_Hebr,hin_Deva,ben_Beng,urd_Arab,tam_Taml,tel_Telu,mar_Deva,zho_Hans,jpn_Jpan,kor_Hang,vie_Latn,"
    "tha_Thai,ind_Latn,zsm_Latn,tgl_Latn,swh_Latn,yor_Latn,hau_Latn,ibo_Latn,amh_Ethi,zul_Latn,som_Latn,khm_Khmr,"
    "mya_Mymr,npi_Deva,kat_Geor,ell_Grek,quy_Latn,sna_Latn,lao_Laoo,tir_Ethi"
)


def xlh(*argv: str) -> tuple[float, Path]:
    """Run ``xlh eval`` and return its wall time and the run folder it printed."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "harness.cli", "eval", *argv, "--cache", "off", "--no-progress"],
                          cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"xlh eval {' '.join(argv)} failed:\n{done.stderr[-3000:]}")
    folder = next(line.split(": ", 1)[1] for line in done.stdout.splitlines() if line.startswith("results: "))
    return seconds, Path(folder)


def embedded(folder: Path) -> tuple[int, int]:
    """Texts and tokens embedded: every distinct text of the run's samples (English once) and its tokens."""
    tokens: dict[str, int] = {}
    with (folder / "samples.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            sample = json.loads(line)
            for request, response in zip(sample["requests"], sample["responses"], strict=True):
                tokens[request["text"]] = response["tokens"]
    return len(tokens), sum(tokens.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="gemma-3-270m")
    parser.add_argument("--langs", default=LANGUAGES)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--tasks", default="sib200", help="comma-separated tasks to correlate with ('' for none)")
    parser.add_argument("--task-limit", type=int, default=50)
    parser.add_argument("--out", default="/tmp/xlh-bench-alignment")
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    args = parser.parse_args()
    common = ["--model", args.model, "--langs", args.langs, "--out", args.out, "--data-dir", args.data_dir]
    wall, folder = xlh("--tasks", "alignment", "--limit", str(args.limit), "--backend", "hf", *common)
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    result = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    timings, (texts, tokens) = result["timings"], embedded(folder)
    languages = len(result["tasks"][0]["languages"])
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    print(f"alignment run: {folder}")
    print("| languages | pairs | texts | tokens | wall (s) | model load (s) | embedding (s) | texts/s | tokens/s | "
          "peak RSS |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    embed = timings["embed_s"]
    print(f"| {languages} | {args.limit} | {texts} | {tokens} | {wall:.1f} | {timings['load_model_s']:.1f} | "
          f"{embed:.1f} | {texts / embed:.2f} | {tokens / embed:.0f} | {peak_mib / 1024:.2f} GiB |")  # fmt: skip
    folders = [str(folder)]
    for task in filter(None, args.tasks.split(",")):
        seconds, task_folder = xlh("--tasks", task, "--limit", str(args.task_limit), *common)
        print(f"{task} run ({seconds:.0f} s): {task_folder}")
        folders.append(str(task_folder))
    if len(folders) > 1:
        metrics = ["--alignment-metric", "mexa_mean,mexa_max,cosine_mean,mexa_mean_last,mexa_max_last"]
        correlate = [sys.executable, "-m", "harness.cli", "correlate", *folders, *metrics, "--format", "markdown"]
        subprocess.run(correlate, cwd=ROOT, check=True)


if __name__ == "__main__":
    main()
