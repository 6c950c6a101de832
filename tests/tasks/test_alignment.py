"""The alignment task: FLORES pairs with English, per-pair curves equal to a direct computation of MEXA's
definition, its declaration (languages, default LIMIT, not in default runs), and clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.api.languages import FLORES200_CODES
from harness.api.registry import default_task_names, get_task
from harness.api.requests import Embedding, EmbedRequest
from harness.api.task import Shot
from harness.errors import ConfigError
from tests.metrics.test_alignment import _reference_mexa, _reference_similarities


@pytest.fixture(scope="module")
def task():
    return get_task("alignment")


def _embedding(weighted: np.ndarray, last: np.ndarray) -> Embedding:
    return Embedding(weighted.astype(np.float32), last.astype(np.float32), tokens=7)


def test_languages_pairs_and_requests(task, data_dir: Path) -> None:
    assert len(task.languages) == len(FLORES200_CODES) - 1 and "eng_Latn" not in {
        lang.flores for lang in task.languages
    }
    assert task.default_limit == 100 and task.reads_hidden_states
    assert "alignment" not in default_task_names() and "sib200" in default_task_names()
    german = task.language("de")
    examples = task.load_local(data_dir, german, "devtest")
    english = (data_dir / "flores200/flores200_dataset/devtest/eng_Latn.devtest").read_text("utf-8").splitlines()
    german_lines = (data_dir / "flores200/flores200_dataset/devtest/deu_Latn.devtest").read_text("utf-8").splitlines()
    assert len(examples) == 1012 and examples[5].id == "devtest:5"
    assert examples[5].source == english[5].strip() and examples[5].target == german_lines[5].strip()
    assert task.requests(examples[5], german, "default") == [
        EmbedRequest(english[5].strip()),
        EmbedRequest(examples[5].target),
    ]
    assert [path.name for path in task.local_files(data_dir, german, "devtest")] == [
        "eng_Latn.devtest",
        "deu_Latn.devtest",
    ]


def test_scores_follow_the_reference_definition_per_layer_and_pooling(task, data_dir: Path) -> None:
    rng = np.random.default_rng(0)
    layers, pairs, dim = 3, 12, 8
    english = rng.normal(size=(2, layers, pairs, dim))  # [weighted, last token]
    noise = np.array([0.2, 1.0, 3.0])[None, :, None, None]
    other = english + rng.normal(size=english.shape) * noise
    german = task.language("deu_Latn")
    examples = task.load_local(data_dir, german, "devtest")[:pairs]
    answered = [
        (example, [_embedding(english[0, :, i], english[1, :, i]), _embedding(other[0, :, i], other[1, :, i])])
        for i, example in enumerate(examples)
    ]
    scores = task.score_all(answered, german, "default")
    for pooling, index, suffix in (("weighted", 0, ""), ("last_token", 1, "_last")):
        for layer in range(layers):
            expected = _reference_similarities(
                english[index, layer].astype(np.float32), other[index, layer].astype(np.float32)
            )
            flags = [score.details[f"aligned_{pooling}"][layer] for score in scores]
            assert np.mean(flags) == _reference_mexa(expected)
            cosines = [score.details[f"cosine_{pooling}"][layer] for score in scores]
            assert np.allclose(cosines, np.diag(expected), atol=1e-9)
        per_layer = np.array([score.details[f"aligned_{pooling}"] for score in scores]).mean(axis=0)
        values = {metric.name: metric.aggregate(scores).value for metric in task.metrics("default")}
        assert values[f"mexa_mean{suffix}"] == pytest.approx(per_layer.mean())
        assert values[f"mexa_max{suffix}"] == pytest.approx(per_layer.max())
        assert values[f"mexa_max{suffix}"] > values[f"mexa_mean{suffix}"]  # the layers differ: the best one stands out
    assert [m.name for m in task.metrics("default")][0] == "mexa_mean"


def test_ties_are_not_aligned(task, data_dir: Path) -> None:
    german = task.language("deu_Latn")
    examples = task.load_local(data_dir, german, "devtest")[:3]
    same = np.ones((1, 4))  # every sentence the same vector: every pair ties with every other
    answered = [(example, [_embedding(same, same), _embedding(same, same)]) for example in examples]
    scores = task.score_all(answered, german, "default")
    assert all(
        score.scores["mexa_mean"] == 0.0 and score.details["cosine_weighted"] == [pytest.approx(1.0)]
        for score in scores
    )


def test_bad_input_is_named(task, data_dir: Path) -> None:
    german = task.language("deu_Latn")
    with pytest.raises(ConfigError, match="LIMIT 2000 parallel sentences, but deu_Latn has 1012 in 'devtest'"):
        task.check_limit(2000, 1012, german, "devtest")
    example = task.load_local(data_dir, german, "devtest")[0]
    with pytest.raises(ConfigError, match="SHOTS must be 0"):
        task.requests(example, german, "default", [Shot(example, german)])
    with pytest.raises(ConfigError, match="has no language 'eng_Latn'"):
        task.language("eng_Latn")
