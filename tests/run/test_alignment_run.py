"""An alignment run end to end on a real (tiny) model: hidden states answered language by language, English once,
MEXA's 100 pairs without a LIMIT, results and samples in the ordinary format; bad input stops before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.records import io
from harness.run.runner import RunConfig, run


def _config(tiny_model: Path, data_dir: Path, out: Path, **changes) -> RunConfig:
    fields = dict(model=str(tiny_model), tasks=("alignment",), languages=("deu_Latn", "swh_Latn"), backend="hf",
                  data_dir=data_dir, out_dir=out, backend_options={"progress": False}, cache=None)  # fmt: skip
    return RunConfig(**{**fields, **changes})


def test_an_alignment_run_writes_curves_and_scores(tiny_model: Path, data_dir: Path, tmp_path: Path) -> None:
    stored = run(_config(tiny_model, data_dir, tmp_path, limit=6))
    (task,) = stored.result.tasks
    assert task.name == "alignment" and task.limit == 6 and task.metrics[0] == "mexa_mean"
    assert set(task.languages) == {"deu_Latn", "swh_Latn"}
    assert stored.result.timings["requests_computed"] == 18  # 6 English sentences once, 6 in each language
    assert stored.result.timings["embed_s"] > 0
    samples = [line for line in (stored.folder / io.SAMPLES_FILE).read_text().splitlines()]
    assert len(samples) == 12
    records = io.read_sample_scores(stored.folder / io.SAMPLES_FILE)
    german = records[("alignment", "default", "devtest", "deu_Latn")]
    assert set(german) == set(task.languages["deu_Latn"].data.sample_ids or [])
    layers = 3  # the tiny model's 2 layers and its embedding output
    for score in german.values():
        assert len(score.details["aligned_weighted"]) == len(score.details["cosine_last_token"]) == layers
    metrics = task.languages["deu_Latn"].metrics
    assert 0 <= metrics["mexa_mean"].value <= metrics["mexa_max"].value <= 1
    assert '"responses": [{"layers": 3' in samples[0]  # the vectors' shape, never the vectors


def test_without_a_limit_a_language_gets_mexas_100_pairs(tiny_model: Path, data_dir: Path, tmp_path: Path) -> None:
    stored = run(_config(tiny_model, data_dir, tmp_path, languages=("yor_Latn",)))
    (task,) = stored.result.tasks
    assert task.limit == 100 and task.limit_mode == "sample" and task.languages["yor_Latn"].n == 100


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"backend": "vllm"}, "reads every layer's hidden states, which backend 'vllm' cannot return.*--backend hf"),
        ({"backend": "openai"}, "backend 'openai' cannot return"),
        ({"limit": 2000}, "LIMIT 2000 parallel sentences, but deu_Latn has 1012 in 'devtest'"),
        ({"languages": ("xx_Yyyy",)}, "no selected task has language 'xx_Yyyy'"),
    ],
)
def test_bad_input_stops_before_any_result(tiny_model, data_dir, tmp_path, changes, message) -> None:
    with pytest.raises(ConfigError, match=message):
        run(_config(tiny_model, data_dir, tmp_path, **changes))
    assert not any(tmp_path.rglob("results.json"))


def test_workers_are_refused(tiny_model: Path, data_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="hidden states are read in this process; run without workers"):
        run(_config(tiny_model, data_dir, tmp_path, limit=2), pool=object())  # type: ignore[arg-type]
    assert not any(tmp_path.rglob("results.json"))


def test_a_language_without_flores_data_is_skipped_and_named(tiny_model: Path, data_dir: Path, tmp_path: Path) -> None:
    partial = tmp_path / "data"
    (partial / "flores200/flores200_dataset/devtest").mkdir(parents=True)
    for code in ("eng_Latn", "deu_Latn"):
        name = f"flores200/flores200_dataset/devtest/{code}.devtest"
        (partial / name).write_bytes((data_dir / name).read_bytes())
    stored = run(_config(tiny_model, partial, tmp_path / "out", limit=3))
    (task,) = stored.result.tasks
    assert set(task.languages) == {"deu_Latn"} and "swh_Latn.devtest" in task.skipped["swh_Latn"]


def test_the_regression_gate_compares_two_models_alignment(tiny_model, data_dir, tmp_path, tmp_path_factory) -> None:
    from harness.analysis.regress import compare
    from harness.run.tiny_model import build_tiny_model

    other = build_tiny_model(tmp_path_factory.mktemp("tiny-other"), data_dir, seed=1)
    base = run(_config(tiny_model, data_dir, tmp_path / "a", limit=8))
    candidate = run(_config(other, data_dir, tmp_path / "b", limit=8))
    report = compare(base.folder, candidate.folder)
    assert report.exit_code in (0, 1)  # compared, not refused: the same experiment on two models
    cells = {(cell.language, cell.metric): cell for cell in report.cells}
    assert set(cells) == {("deu_Latn", "mexa_mean"), ("swh_Latn", "mexa_mean")}
    german = cells[("deu_Latn", "mexa_mean")]
    expected = base.result.tasks[0].languages["deu_Latn"].metrics["mexa_mean"].value * 100
    assert german.n == 8 and german.baseline == pytest.approx(expected)


@pytest.mark.slow
def test_gemma_aligns_german_with_english_better_than_yoruba(gemma: Path, data_dir: Path, tmp_path: Path) -> None:
    """A real multilingual model: German, which Gemma learned, is aligned with English at its best layer; Yoruba
    (a low-resource language) much less (measured at 100 pairs: MEXA max 0.99 vs 0.04)."""
    stored = run(_config(gemma, data_dir, tmp_path, languages=("deu_Latn", "yor_Latn"), limit=30))
    (task,) = stored.result.tasks
    german, yoruba = (task.languages[code].metrics for code in ("deu_Latn", "yor_Latn"))
    assert german["mexa_max"].value >= 0.8 > 0.4 >= yoruba["mexa_max"].value
    assert german["mexa_mean"].value > yoruba["mexa_mean"].value
    assert task.languages["deu_Latn"].n == 30
