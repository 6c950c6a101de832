"""The pure helpers of benchmarks/bench_lmeval.py (no model, no subprocess)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_lmeval.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_lmeval", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_lmeval"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    yield module
    del sys.modules["bench_lmeval"]


def test_runs_alternate_lmeval_first(bench) -> None:
    assert bench.schedule(3) == ["lm-eval", "xlh", "lm-eval", "xlh", "lm-eval", "xlh"]
    assert bench.schedule(0) == []


def test_argmax_takes_the_first_of_equal_values(bench) -> None:
    assert bench.argmax([-3.0, -1.0, -1.0, -2.0]) == 1


def test_lmeval_prediction_from_a_logged_sample(bench) -> None:
    """lm-eval writes every response value as a string (lm_eval.utils.sanitize_list)."""
    choice = {"doc_id": 0, "filtered_resps": [["-9.5", "False"], ["-2.25", "True"], ["-7.0", "False"]]}
    assert bench.lmeval_prediction(choice, ("travel", "sports", "health")) == "sports"
    generated = {"doc_id": 0, "filter": "flexible-extract", "resps": [[" 42\n"]], "filtered_resps": ["42"]}
    assert bench.lmeval_prediction(generated, None) == " 42\n"


def test_agreement_counts_items_only_one_side_has_as_different(bench) -> None:
    ours = {("sib200", "eng_Latn", "1"): "travel", ("sib200", "eng_Latn", "2"): "sports"}
    theirs = {("sib200", "eng_Latn", "1"): "travel", ("sib200", "eng_Latn", "3"): "sports"}
    assert bench.agreement(ours, theirs) == (1, 3)
    assert bench.agreement(ours, dict(ours)) == (2, 2)


def test_markdown_row_shows_medians_ratio_and_rss(bench) -> None:
    row = bench.Row("sib200", "hf", [30.0, 10.0, 20.0], [4.0, 6.0, 5.0], 3072.0, 1536.0, 10, 10, xlh_overhead=0.0412)
    assert bench.markdown_row(row) == "| sib200 | hf | 20.0 | 5.0 | 4.00x | 3.00 / 1.50 GiB | yes (10/10) | 4.1% |"
    assert bench.markdown_row(bench.Row("m", "vllm", [1.0], [2.0], 1024.0, 1024.0, 3, 4, note="(x)")) == (
        "| m | vllm (x) | 1.0 | 2.0 | 0.50x | 1.00 / 1.00 GiB | **no** (3/4) | - |"
    )
    assert bench.TABLE_HEAD.splitlines()[0].count("|") == bench.markdown_row(row).count("|")


def test_overhead_is_the_wall_time_outside_model_loading_and_inference(bench, tmp_path: Path) -> None:
    run = tmp_path / "model" / "run"
    run.mkdir(parents=True)
    (run / "results.json").write_text(json.dumps({"timings": {"load_model_s": 6.0, "inference_s": 12.0}}))
    assert bench.overhead(tmp_path, 20.0) == pytest.approx(0.1)
