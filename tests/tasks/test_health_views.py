"""``Task.health_view`` of the generative tasks: what output health (``xlh health``) reads of a generation, on real
items from the data folder; tasks that generate nothing keep the default (None)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.api.registry import all_tasks, get_task
from harness.api.task import HealthView, Task
from tasks.mgsm import final_sentence

FLORES, MGSM, XQUAD = get_task("flores200"), get_task("mgsm"), get_task("xquad")


def _view(task: Task, code: str, variant: str, generation: str, example: object) -> HealthView | None:
    language = task.language(code)
    scored = task.score(example, language, variant, [generation])
    return task.health_view(language, variant, generation, scored.extracted, scored.details)


def test_flores_checks_the_hypothesis_as_scored_against_the_target_and_the_source(data_dir: Path) -> None:
    for code, target in (("eng_Latn-swh_Latn", "swh_Latn"), ("swh_Latn-eng_Latn", "eng_Latn")):
        example = FLORES.load_local(data_dir, FLORES.language(code), "devtest")[3]
        view = _view(FLORES, code, "default", f"  {example.target} \n", example)
        assert view == HealthView(example.target, (target,), "hypothesis", example.source, None)


@pytest.mark.parametrize("variant", ["direct", "native_cot"])
def test_mgsm_checks_the_whole_generation_in_the_item_language(data_dir: Path, variant: str) -> None:
    example = MGSM.load_local(data_dir, MGSM.language("sw"), "test")[0]
    reasoning = MGSM.load_local(data_dir, MGSM.language("sw"), "exemplars")[0].reasoning or ""
    view = _view(MGSM, "sw", variant, f" {reasoning}\n", example)
    assert view == HealthView(reasoning, ("swh_Latn",), "generation", None, True)
    assert _view(MGSM, "sw", variant, "Sijui jibu.", example) == HealthView(
        "Sijui jibu.", ("swh_Latn",), "generation", None, False
    )


def test_mgsm_en_cot_checks_the_final_sentence_in_the_item_language_or_english(data_dir: Path) -> None:
    example = MGSM.load_local(data_dir, MGSM.language("te"), "test")[0]
    reasoning = MGSM.load_local(data_dir, MGSM.language("te"), "exemplars")[0].reasoning_en or ""
    assert reasoning.endswith("The answer is 11.")
    view = _view(MGSM, "te", "en_cot", reasoning, example)
    assert view == HealthView("The answer is 11.", ("tel_Telu", "eng_Latn"), "final sentence", None, True)
    english = _view(MGSM, "en", "en_cot", reasoning, MGSM.load_local(data_dir, MGSM.language("en"), "test")[0])
    assert english is not None and english.expected == ("eng_Latn",)


@pytest.mark.parametrize(
    ("text", "final"),
    [
        ("So 5 + 6 = 11. The answer is 11.", "The answer is 11."),
        ("It costs $19.50 in all! The answer is 19.50.\n\n", "The answer is 19.50."),
        ("他有 5 个。答案是 11。", "答案是 11。"),
        ("সে ৫টি পেল। উত্তর হল 11।", "উত্তর হল 11।"),
        ("First line\nThe answer is", "The answer is"),
        ("  \n ", ""),
    ],
)
def test_final_sentence(text: str, final: str) -> None:
    assert final_sentence(text) == final


def test_xquad_checks_the_answer_parsed_after_normalisation_and_not_its_language(data_dir: Path) -> None:
    example = XQUAD.load_local(data_dir, XQUAD.language("de"), "validation")[0]
    view = _view(XQUAD, "de", "default", f" {example.answers[0]}\n", example)
    assert view == HealthView(example.answers[0], (), "answer", None, True)
    for nothing in ("...", " die ", ""):  # punctuation or an article only: nothing left to compare
        unparsed = _view(XQUAD, "de", "default", nothing, example)
        assert unparsed is not None and unparsed.parsed is False


def test_only_generative_tasks_have_a_health_view() -> None:
    with_view = {name for name, task in all_tasks().items() if type(task).health_view is not Task.health_view}
    assert with_view == {"flores200", "mgsm", "xquad"}
    xnli = get_task("xnli")
    assert xnli.health_view(xnli.languages[0], xnli.default_variant, "yes", None, {}) is None
