"""The multiple-choice base: a toy benchmark declared in a few lines gets requests, demonstrations, scores,
metrics and strata; variants are declared values, checked when the class is created and on every call."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.api.languages import Language, from_code
from harness.api.requests import ChoiceRequest, ChoiceScores
from harness.api.task import HubSource, Shot
from harness.errors import ConfigError
from harness.kit.hub import OneHubConfig
from harness.kit.multiple_choice import ACCURACY_METRICS, MultipleChoiceTask
from tasks.belebele import Belebele
from tasks.sib200 import Sib200
from tasks.xnli import Xnli


# -- a toy benchmark: the whole plugin ----------------------------------------------------------------------
@dataclass(frozen=True)
class Fact:
    id: str
    claim: str
    true: bool


QUESTION = {"en": "True?", "de": "Wahr?"}  # per-language prompt table
TEMPLATES = {"plain": "{claim}\n{question}", "quoted": '"{claim}"\n{question}'}  # per-variant table


class TrueFalse(OneHubConfig[Fact], MultipleChoiceTask[Fact]):
    name = "true_false"
    version = 1
    languages = (from_code("en"), from_code("de"))
    splits = ("test",)
    default_split = "test"
    variants = ("plain", "quoted")
    default_variant = "plain"
    variant_tables = {"TEMPLATES": TEMPLATES}
    labels = ("yes", "no")
    data_folder = "true_false"

    def gold(self, example: Fact) -> int:
        return 0 if example.true else 1

    def prompt(self, example: Fact, language: Language, variant: str) -> str:
        return TEMPLATES[variant].format(claim=example.claim, question=QUESTION[language.code])

    def local_files(self, data_dir: Path, language: Language, split: str) -> tuple[Path, ...]:
        return (data_dir / self.data_folder / f"{language.code}.jsonl",)

    def load_local(self, data_dir: Path, language: Language, split: str) -> list[Fact]:
        return []

    def hub_source(self, language: Language, split: str) -> HubSource:
        return HubSource(path="toy/true_false", name=language.code, split=split)

    def from_hub_record(self, record: dict[str, Any], index: int, language: Language) -> Fact:
        return Fact(id=str(index), claim=record["claim"], true=record["true"])


TASK = TrueFalse()
EN, DE = TASK.language("en"), TASK.language("de")
SKY = Fact(id="1", claim="The sky is green", true=False)
WATER = Fact(id="2", claim="Water is wet", true=True)
ICE = Fact(id="3", claim="Ice is hot", true=False)


def _scores(*loglikelihoods: float) -> ChoiceScores:
    n = len(loglikelihoods)
    return ChoiceScores(loglikelihoods=loglikelihoods, token_counts=(1,) * n, is_greedy=(False,) * n)


# -- what the base builds ---------------------------------------------------------------------------------
def test_request_is_the_prompt_with_each_label_after_a_space() -> None:
    assert TASK.requests(SKY, DE, "quoted") == [
        ChoiceRequest(context='"The sky is green"\nWahr?', continuations=(" yes", " no"))
    ]


def test_demonstrations_come_before_the_prompt_each_with_its_gold_choice() -> None:
    (request,) = TASK.requests(SKY, EN, "plain", [Shot(WATER, EN), Shot(ICE, DE)])
    assert isinstance(request, ChoiceRequest)
    assert request.context == "Water is wet\nTrue? yes\n\nIce is hot\nWahr? no\n\nThe sky is green\nTrue?"
    assert request.continuations == (" yes", " no")


def test_score_is_acc_and_acc_norm_named_by_the_labels() -> None:
    # Raw: "no" (-2.0) beats "yes" (-2.4); per character of the label: "yes" (-0.8) beats "no" (-1.0).
    result = TASK.score(WATER, EN, "plain", [_scores(-2.4, -2.0)])
    assert result.scores == {"acc": 0.0, "acc_norm": 1.0}
    assert (result.extracted, result.gold, result.details["prediction_norm"]) == ("no", "yes", "yes")
    assert TASK.score(SKY, EN, "plain", [_scores(-5.0, -1.0)]).scores == {"acc": 1.0, "acc_norm": 1.0}


def test_choice_texts_other_than_the_labels_normalise_acc_norm() -> None:
    class Spelled(TrueFalse):
        def choices(self, example: Fact, language: Language, variant: str) -> tuple[str, ...]:
            return ("certainly", "no")  # per character: -4.5 / 9 = -0.5 beats -1.2 / 2 = -0.6

    (request,) = Spelled().requests(WATER, EN, "plain")
    assert isinstance(request, ChoiceRequest) and request.continuations == (" certainly", " no")
    result = Spelled().score(WATER, EN, "plain", [_scores(-4.5, -1.2)])
    assert result.scores == {"acc": 0.0, "acc_norm": 1.0} and result.extracted == "no"


def test_default_metrics_and_stratum_by_gold() -> None:
    assert TASK.metrics("quoted") == ACCURACY_METRICS
    assert [metric.name for metric in ACCURACY_METRICS] == ["acc", "acc_norm"]
    assert (TASK.stratum(SKY), TASK.stratum(WATER)) == (1, 0)


def test_choices_must_match_the_labels() -> None:
    class ThreeChoices(TrueFalse):
        def choices(self, example: Fact, language: Language, variant: str) -> tuple[str, ...]:
            return ("yes", "no", "maybe")

    with pytest.raises(ValueError, match="example 1 has 3 choices for 2 labels"):
        ThreeChoices().requests(SKY, EN, "plain")


# -- variants are declared values ---------------------------------------------------------------------------
@pytest.mark.parametrize("call", ["requests", "score", "metrics", "demonstration"])
def test_an_undeclared_variant_is_refused_naming_the_valid_ones(call: str) -> None:
    calls = {
        "requests": lambda: TASK.requests(SKY, EN, "qouted"),
        "score": lambda: TASK.score(SKY, EN, "qouted", [_scores(-1.0, -2.0)]),
        "metrics": lambda: TASK.metrics("qouted"),
        "demonstration": lambda: TASK.demonstration(Shot(SKY, EN), "qouted"),
    }
    with pytest.raises(ConfigError, match=r"task 'true_false' has no prompt variant 'qouted'; valid: plain, quoted"):
        calls[call]()


def test_a_variant_table_with_an_undeclared_variant_fails_at_class_creation() -> None:
    with pytest.raises(TypeError, match=r"variant table TEMPLATES .*missing: quoted, undeclared: qouted"):

        class Misspelt(TrueFalse):
            variant_tables = {"TEMPLATES": {"plain": "{claim}", "qouted": '"{claim}"'}}


def test_an_undeclared_default_variant_fails_at_class_creation() -> None:
    with pytest.raises(TypeError, match=r"default variant 'plane' is not declared; variants: plain, quoted"):

        class BadDefault(TrueFalse):
            default_variant = "plane"


@pytest.mark.parametrize("variants", [(), ("plain", "plain"), ("plain", "a:b"), ("plain", "a@b")])
def test_variant_names_must_be_distinct_and_usable_on_the_command_line(variants: tuple[str, ...]) -> None:
    with pytest.raises(TypeError, match=r"true_false: variants? .*(distinct|must be a non-empty name)"):
        type("BadVariants", (TrueFalse,), {"variants": variants})


def test_a_misspelt_variant_in_a_plugin_module_fails_at_import(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "xlh_misspelt_plugin.py").write_text(
        "from tasks.sib200 import PROMPTS, Sib200\n\n"
        "class Sib(Sib200):\n"
        "    variant_tables = {'PROMPTS': {**PROMPTS, 'promt_6': PROMPTS['prompt_1']}}\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(TypeError, match="sib200: variant table PROMPTS .*undeclared: promt_6"):
        __import__("xlh_misspelt_plugin")


def test_the_multiple_choice_tasks_declare_their_variant_tables() -> None:
    assert all(isinstance(task, MultipleChoiceTask) for task in (Xnli(), Belebele(), Sib200()))
    assert set(Xnli.variant_tables["FORMATS"]) == set(Xnli.variants) == {"sentence", "label"}
    assert set(Sib200.variant_tables["PROMPTS"]) == set(Sib200.variants)
    assert Belebele.variants == (Belebele.default_variant,) == ("default",)
