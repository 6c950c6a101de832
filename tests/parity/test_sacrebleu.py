"""Parity with sacrebleu's command line: xlh's corpus chrF++ and BLEU of a direction, their signatures and
their bootstrap equal what ``sacrebleu REF -i HYP -m bleu chrf --chrf-word-order 2 --confidence`` prints
for the same hypotheses and references (written one sentence a line)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.api.registry import get_task
from harness.backends import GenerationParams
from harness.metrics.translation import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    Bleu,
    ChrF,
    bootstrap_scores,
    segment_statistics,
)
from harness.run.runner import RunConfig, run

pytestmark = pytest.mark.slow

SACREBLEU_CLI = Path(sys.executable).parent / "sacrebleu"
WIDTH = 4  # decimals sacrebleu prints (-w)
DIRECTIONS = ("eng_Latn-deu_Latn", "zho_Hans-eng_Latn")
LIMIT = 4
OURS_TO_SACREBLEU = {"chrf++": "chrF2++", "bleu": "BLEU"}
METRICS = {"chrf++": ChrF(), "bleu": Bleu()}


def sacrebleu_cli(hypotheses: list[str], references: list[str], folder: Path) -> dict[str, dict[str, Any]]:
    """sacrebleu's JSON report for one corpus, by score name (chrF2++, BLEU)."""
    for text in (*hypotheses, *references):
        assert "\n" not in text and "\r" not in text, f"cannot write {text!r} as one line"
    folder.mkdir(parents=True, exist_ok=True)
    hyp, ref = folder / "hyp.txt", folder / "ref.txt"
    hyp.write_text("".join(h + "\n" for h in hypotheses), encoding="utf-8")
    ref.write_text("".join(r + "\n" for r in references), encoding="utf-8")
    command = [str(SACREBLEU_CLI), str(ref), "-i", str(hyp), "-m", "bleu", "chrf", "--chrf-word-order", "2"]
    command += ["-w", str(WIDTH), "--confidence", "-f", "json"]
    env = {k: v for k, v in os.environ.items() if k != "SACREBLEU_SEED"}  # sacrebleu's default seed, 12345
    completed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr
    return {report["name"]: report for report in json.loads(completed.stdout)}


def assert_same_as_cli(metrics: dict[str, dict[str, Any]], hypotheses: list[str], references: list[str], folder):
    reports = sacrebleu_cli(hypotheses, references, folder)
    for ours, theirs in OURS_TO_SACREBLEU.items():
        value, report = metrics[ours], reports[theirs]
        assert round(value["value"], WIDTH) == report["score"], (ours, value["value"], report["score"])
        expected = f"{theirs}|{report['signature']}|stderr:sd_of_bootstrap_scores|n:{len(hypotheses)}"
        assert value["signature"] == expected
        # The same resamples: sacrebleu's mean and 95% interval of them, to its printed precision (it sums
        # statistics in float32, xlh in integers).
        scorer = METRICS[ours].scorer()
        stats = segment_statistics(scorer, hypotheses, references)
        scores = np.sort(bootstrap_scores(scorer, stats, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED))
        cut = BOOTSTRAP_RESAMPLES // 40
        assert scores.mean() == pytest.approx(report["confidence_mean"], abs=2 * 10**-WIDTH)
        assert (scores[-cut - 1] - scores[cut]) / 2 == pytest.approx(report["confidence_var"], abs=2 * 10**-WIDTH)
        assert value["stderr"] == pytest.approx(float(np.std(scores, ddof=1)))


def test_tiny_model_translations_score_as_sacrebleu_cli(tiny_model, data_dir, tmp_path) -> None:
    folder = run(
        RunConfig(
            model=str(tiny_model),
            tasks=("flores200",),
            languages=DIRECTIONS,
            limit=LIMIT,
            limit_mode="first",  # lm-eval takes the first N documents
            data_dir=data_dir,
            out_dir=tmp_path / "out",
            generation=GenerationParams(),
            backend_options={"batch_size": 8, "progress": False},
        )
    ).folder
    (task,) = json.loads((folder / "results.json").read_text(encoding="utf-8"))["tasks"]
    samples = [json.loads(line) for line in (folder / "samples.jsonl").read_text(encoding="utf-8").splitlines()]
    assert list(task["languages"]) == list(DIRECTIONS)
    for code in DIRECTIONS:
        mine = [sample for sample in samples if sample["language"] == code]
        assert len(mine) == LIMIT
        hypotheses, references = [s["extracted"] for s in mine], [s["gold"] for s in mine]
        assert_same_as_cli(task["languages"][code]["metrics"], hypotheses, references, tmp_path / code)


def test_non_trivial_scores_through_the_task_match_sacrebleu_cli(data_dir, tmp_path) -> None:
    # Hypotheses = FLORES references with some words dropped: BLEU and chrF++ far from 0 and 100.
    task = get_task("flores200")
    for code in ("eng_Latn-deu_Latn", "eng_Latn-fra_Latn"):
        direction = task.language(code)
        examples = task.load_local(data_dir, direction, "devtest")[:60]
        hypotheses = [
            " ".join(w for i, w in enumerate(e.target.split()) if i % (3 + n % 5)) for n, e in enumerate(examples)
        ]
        scored = [
            task.score(e, direction, "default", [" " + h + " "]) for e, h in zip(examples, hypotheses, strict=True)
        ]
        metrics = {m.name: vars(m.aggregate(scored)) for m in task.metrics("default")}
        assert 15 < metrics["bleu"]["value"] < 85 and 40 < metrics["chrf++"]["value"] < 95
        references = [e.target for e in examples]
        assert_same_as_cli(metrics, hypotheses, references, tmp_path / code)
