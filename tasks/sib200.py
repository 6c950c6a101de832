"""SIB-200: topic classification in 205 languages and dialects (Adelani et al. 2024, EACL,
arXiv:2309.07445, "SIB-200: A Simple, Inclusive, and Big Evaluation Dataset for Topic Classification in
200+ Languages and Dialects").

- Data: 1,004 FLORES-200 sentences labelled with one of 7 topics, parallel across languages (``index_id``
  is the FLORES sentence index, the same item in every language). Local: ``DATA_DIR/sib200/annotated/
  <code>/{train,dev,test}.tsv`` and ``labels.txt`` (see its SOURCE.md; ``dadelani/sib-200``). The TSVs are
  pandas-written: a text containing ``"`` is quoted with doubled inner quotes, so they are read with CSV
  quoting (some FLORES sentences carry doubled quotes themselves, e.g. German devtest line 72; they stay as
  in FLORES). Hub: ``Davlan/sib200`` (config = code; splits ``train``, ``validation``, ``test``).
  Licence CC BY-SA 4.0 (FLORES-200 text).
- Languages: the 204 FLORES-200 variants plus ``nqo_Nkoo`` (N'Ko).
- Splits: ``test`` (204, default), ``validation`` (99, the ``dev.tsv`` file), ``train`` (701).
- Variants: ``prompt_1`` (default) .. ``prompt_5``: lm-eval 0.4.13's AfroBench SIB prompts
  (``lm_eval/tasks/afrobench/sib/utils.py`` ``prompt_func``, rendered into ``prompt_N/sib_*.yaml``), scored as
  lm-eval does: the prompt is the context and each label, after a space, a continuation.
- Language names: prompts 2, 3 and 5 name the text's language. xlh takes the English name from CLDR
  (``harness.api.languages.language_name``) for all 205 languages; lm-eval hand-types names for its 56 AfroBench
  languages, and 8 of them differ (Kabiye, Kikongo, Luba-Kasai, Luganda, Luo, Nyanga, Swazi, Tamazight
  where CLDR says Kabiyè, Kongo, Luba-Lulua, Ganda, Luo (Kenya and Tanzania), Nyanja, Swati, Central
  Atlas Tamazight (Tifinagh)). Prompts 1 and 4 are identical to lm-eval's in every language.
- Metrics: ``acc`` (headline); ``macro_f1`` (every topic counts the same); ``f1_weighted`` (lm-eval's SIB
  metric, ``lm_eval.utils.weighted_f1_score``: scikit-learn's weighted F1, for comparison); ``acc_norm``
  (log-likelihood per character of the label). F1 is over the 7 topics (see harness/metrics/classification.py).
- Few-shot: demonstrations (prompt + `` <label>``) come from ``train`` whatever split is evaluated; lm-eval's
  AfroBench YAMLs set ``fewshot_split: validation`` instead, which xlh keeps as an evaluation split.
- Otherwise as lm-eval at 0 shots (tests/parity): the same contexts, continuations, log-likelihoods, acc and
  weighted F1. lm-eval covers 56 languages (xlh all 205), lists f1 first (xlh: acc, with macro F1 and
  acc_norm added), and fetches its f1 through ``evaluate.load`` (``hf_evaluate: true``; the Hub), which
  xlh never does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.api.languages import FLORES200_CODES, Language, flores_language, language_name
from harness.api.task import HubSource
from harness.data import read_tsv, require_file
from harness.errors import DataError
from harness.kit.hub import OneHubConfig
from harness.kit.multiple_choice import MultipleChoiceTask
from harness.metrics.classification import MacroF1, WeightedF1
from harness.metrics.mean import MeanMetric

VERSION = 1
SPLITS = ("test", "validation", "train")
FILE_OF_SPLIT = {"test": "test.tsv", "validation": "dev.tsv", "train": "train.tsv"}
EXPECTED_ROWS = {"test": 204, "validation": 99, "train": 701}
HEADER = ("index_id", "category", "text")
HUB_PATH = "Davlan/sib200"
# The order of labels.txt (checked on every load) and of lm-eval's doc_to_choice.
LABELS = ("science/technology", "travel", "politics", "sports", "health", "entertainment", "geography")
# SOURCE.md: the 204 FLORES-200 variants and N'Ko, whose FLORES text SIB-200 added.
LANGUAGES: tuple[Language, ...] = tuple(flores_language(code) for code in (*FLORES200_CODES, "nqo_Nkoo"))
if len({language.code for language in LANGUAGES}) != 205:
    raise RuntimeError("sib200: expected 205 distinct language variants")
VARIANTS = ("prompt_1", "prompt_2", "prompt_3", "prompt_4", "prompt_5")  # PROMPTS must hold each, checked


@dataclass(frozen=True)
class SibPrompt:
    """One AfroBench prompt: ``{text}`` is the sentence, ``{language}`` (prompts 2, 3, 5) its language name."""

    template: str

    def render(self, text: str, language_name: str) -> str:
        return self.template.format(text=text, language=language_name)


# Source: lm-eval 0.4.13 lm_eval/tasks/afrobench/sib/utils.py prompt_func, character for character (the label
# list written once; its Jinja "{{text}}" is "{text}" here, its f-string "{lang}" is "{language}", and
# "\\category" is a backslash followed by "category" there too). tests/parity checks all 5 x 56 AfroBench YAMLs.
_LABEL_LIST = "science/technology, travel, politics, sports, health, entertainment, or geography"
PROMPTS: dict[str, SibPrompt] = {
    "prompt_1": SibPrompt(
        f"Given the categories {_LABEL_LIST}; what category does the text: '{{text}}' belong to: \n\n"
    ),
    "prompt_2": SibPrompt(
        f"Does this {{language}} topic; '{{text}}' belong to one of the following categories: {_LABEL_LIST}? "
        "category only\n\n"
    ),
    "prompt_3": SibPrompt(
        "You are an assistant able to classify topics in texts. \n\n"
        f"Given the categories {_LABEL_LIST}; what is the topic of the {{language}} statement below? "
        "Return only the category. \n\ntext: {text} \\category:\n\n"
    ),
    "prompt_4": SibPrompt(
        f"Label the following text as {_LABEL_LIST}. Provide only the category as your response. "
        "\n\ntext: {text} \\category: \n\n"
    ),
    "prompt_5": SibPrompt(
        "You are tasked with performing topic classification on the following {language} text. "
        f"For each input, classify the topic as {_LABEL_LIST}. "
        "Use the following guidelines: \n\n "
        "science/technology: The text discusses scientific discoveries, technological advancements, "
        "or related topics. \n"
        "travel: The text describes travel experiences, destinations, or related topics. \n"
        "politics: The text covers political events, policies, or related topics. \n"
        "sports: The text talks about sports events, athletes, or related topics. \n"
        "health: The text addresses health issues, medical advancements, or related topics. \n"
        "entertainment: The text pertains to movies, music, celebrities, or related topics. \n"
        "geography: The text involves geographical information, locations, or related topics. \n\n"
        "If the text contains multiple topics, choose the dominant topic. "
        "For ambiguous or unclear topics, select the category that best reflects the overall content. "
        "Please provide a single classification for each input.\n\ntext: {text} \\category: \n\n"
    ),
}


@dataclass(frozen=True)
class SibExample:
    id: str  # index_id: the FLORES-200 sentence index (dev 0-996, then devtest)
    text: str
    label: int  # index into LABELS


# -- adapter ----------------------------------------------------------------------------------------------
def from_row(index_id: str, category: str, text: str) -> SibExample:
    """An example from the three fields of a TSV row or a Hub record (ValueError when malformed)."""
    if not index_id.isdigit():
        raise ValueError(f"index_id must be a number, found {index_id!r}")
    if category not in LABELS:
        raise ValueError(f"unknown category {category!r} (expected one of {', '.join(LABELS)})")
    if not text.strip():
        raise ValueError("empty text")
    return SibExample(id=str(int(index_id)), text=text, label=LABELS.index(category))


# -- renderer ---------------------------------------------------------------------------------------------
def prompt(example: SibExample, language: Language, variant: str) -> str:
    """The context; the choices are the labels (the base puts a space before each, as lm-eval)."""
    return PROMPTS[variant].render(example.text, language_name(language.code))


# -- spec -------------------------------------------------------------------------------------------------
class Sib200(OneHubConfig[SibExample], MultipleChoiceTask[SibExample]):
    name = "sib200"
    version = VERSION
    description = "topic classification into 7 topics, zero-shot choice over the label names"
    languages = LANGUAGES
    splits = SPLITS
    default_split = "test"
    variants = VARIANTS
    default_variant = "prompt_1"
    variant_tables = {"PROMPTS": PROMPTS}
    labels = LABELS
    # acc first (the headline); lm-eval's SIB metric is the weighted F1, kept for comparison.
    choice_metrics = (
        MeanMetric("acc"),
        MacroF1("macro_f1", labels=LABELS),
        WeightedF1("f1_weighted", labels=LABELS),
        MeanMetric("acc_norm"),
    )
    data_folder = "sib200"

    def gold(self, example: SibExample) -> int:
        return example.label  # as a stratum: the test files are sorted by topic, a LIMIT sample keeps every topic

    def prompt(self, example: SibExample, language: Language, variant: str) -> str:
        return prompt(example, language, variant)

    def local_files(self, data_dir: Path, language: Language, split: str) -> tuple[Path, ...]:
        folder = data_dir / self.data_folder / "annotated" / language.code
        return (folder / FILE_OF_SPLIT[split], folder / "labels.txt")

    def load_local(self, data_dir: Path, language: Language, split: str) -> list[SibExample]:
        path, labels_file = self.local_files(data_dir, language, split)
        _check_labels_file(labels_file)
        examples: list[SibExample] = []
        seen: dict[str, int] = {}
        for line, row in read_tsv(path, columns=3, quoted=True):
            if line == 1:
                if tuple(row) != HEADER:
                    raise DataError(f"expected the header {'/'.join(HEADER)}, found {'/'.join(row)}", path, line)
                continue
            try:
                example = from_row(*row)
            except ValueError as error:
                raise DataError(str(error), path, line) from error
            if example.id in seen:
                raise DataError(f"index_id {example.id} already appeared on line {seen[example.id]}", path, line)
            seen[example.id] = line
            examples.append(example)
        if len(examples) != EXPECTED_ROWS[split]:
            raise DataError(f"expected {EXPECTED_ROWS[split]} rows, found {len(examples)}", path)
        return examples

    def expected_examples(self, split: str) -> int:
        return EXPECTED_ROWS[split]

    def hub_source(self, language: Language, split: str) -> HubSource:
        return HubSource(path=HUB_PATH, name=language.code, split=split)

    def from_hub_record(self, record: dict[str, Any], index: int, language: Language) -> SibExample:
        try:
            return from_row(str(record["index_id"]), record["category"], record["text"])
        except (KeyError, ValueError) as error:
            raise DataError(f"row {index}: {error}", f"{HUB_PATH} ({language.code})") from error

    def shot_split(self, split: str) -> str:
        return "train"  # the labelled split meant for learning; no sentence of it is in dev or test


def _check_labels_file(path: Path) -> None:
    """labels.txt must list the 7 topics in LABELS order (the order of the choices and of lm-eval's)."""
    labels = tuple(line.strip() for line in require_file(path).read_text(encoding="utf-8").splitlines() if line.strip())
    if labels != LABELS:
        raise DataError(f"expected the labels {', '.join(LABELS)}, found {', '.join(labels)}", path)


TASKS = (Sib200(),)
