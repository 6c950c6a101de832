"""Running lm-eval 0.4.13 and xlh side by side on the same documents (shared by the parity tests).

lm-eval's built-in tasks load from the Hub; here each parity task is a local YAML that ``include``s
lm-eval's own installed task YAML by absolute path (its prompt template, filters and metrics) and only
redirects the dataset to a local JSON file of the same documents.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.backends import GenerationParams
from harness.run.runner import RunConfig, run


def lmeval_yaml(folder: Path, task: str, include: Path, split: str, data: Path, extra: tuple[str, ...] = ()) -> None:
    lines = [
        f"include: {include}",
        f"task: {task}",
        "dataset_path: json",
        "dataset_name: null",
        "dataset_kwargs:",
        "  data_files:",
        f"    {split}: {data}",
        "training_split: null",
        "validation_split: null",
        "test_split: null",
        f"{split}_split: {split}",
        *extra,
    ]
    (folder / f"{task}.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def run_lmeval(model: Path, folder: Path, tasks: list[str]) -> dict[str, list[dict[str, Any]]]:
    """lm-eval's logged samples per task, in document order."""
    return run_lmeval_output(model, folder, tasks)[0]


def run_lmeval_output(
    model: Path, folder: Path, tasks: list[str]
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, dict[str, Any]]]:
    """lm-eval's logged samples per task (in document order) and its aggregated results per task."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    output = simple_evaluate(
        model="hf",
        model_args={"pretrained": str(model), "dtype": "float32"},
        tasks=tasks,
        task_manager=TaskManager(include_path=str(folder)),
        batch_size=8,
        device="cpu",
        log_samples=True,
        random_seed=1234,
        numpy_random_seed=1234,
        torch_random_seed=1234,
        fewshot_random_seed=1234,
    )
    samples = {task: sorted(found, key=lambda s: s["doc_id"]) for task, found in output["samples"].items()}
    return samples, output["results"]


def xlh_samples(model: Path, data_dir: Path, out: Path, tasks: tuple[str, ...], langs, limit) -> list[dict]:
    folder = run(
        RunConfig(
            model=str(model),
            tasks=tasks,
            languages=langs,
            limit=limit,
            limit_mode="first",  # lm-eval takes the first N documents
            data_dir=data_dir,
            out_dir=out,
            generation=GenerationParams(),
            backend_options={"batch_size": 8, "progress": False},
        )
    ).folder
    return [json.loads(line) for line in (folder / "samples.jsonl").read_text(encoding="utf-8").splitlines()]


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def belebele_record(example: Any) -> dict[str, Any]:
    """A Belebele example in the Hub's row format, as lm-eval's belebele YAMLs read it."""
    return {
        "link": example.link,
        "question_number": example.question_number,
        "flores_passage": example.passage,
        "question": example.question,
        **{f"mc_answer{i + 1}": answer for i, answer in enumerate(example.answers)},
        "correct_answer_num": str(example.correct + 1),
    }


# AfroBench SIB-200 YAMLs pointed at a local file (the parity tests and benchmarks/bench_lmeval.py).
SIB_OVERRIDES = (
    # AfroBench's template loads few-shot documents eagerly from `fewshot_split: validation`, which this
    # one-split local dataset lacks; at 0 shots they are never used.
    "fewshot_split: test",
    # Only metric_list is overridden otherwise: its `hf_evaluate: true` on f1 makes lm-eval call
    # `evaluate.load("f1")`, i.e. the Hub (offline it fails and logs an error), and acc_norm is added for the
    # comparison. f1 keeps lm-eval's own aggregation, utils.weighted_f1_score: the utils.py written beside this
    # YAML re-exports lm_eval.utils.weighted_f1_score, exactly as AfroBench's prompt_N/utils.py does.
    "metric_list:",
    "  - metric: f1",
    "    aggregation: !function utils.weighted_f1_score",
    "    higher_is_better: true",
    "  - metric: acc",
    "  - metric: acc_norm",
)
