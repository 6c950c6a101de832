"""Belebele: a parallel reading-comprehension benchmark in 122 language variants (Bandarkar et al. 2024,
ACL, arXiv:2308.16884, "The Belebele Benchmark: a Parallel Reading Comprehension Dataset in 122 Language
Variants").

- Data: 900 four-way multiple-choice questions about 488 FLORES-200 passages (one or two questions per
  passage), human-translated into every variant, so question ``i`` is the same item in every language.
  Hub: ``facebook/belebele`` (config = the FLORES-style code, split ``test``; fields ``link``,
  ``question_number``, ``flores_passage``, ``question``, ``mc_answer1..4``, ``correct_answer_num``).
  Licence CC BY-SA 4.0.
- Local: ``DATA_DIR/belebele/saeub_item-evaluation/<code>.jsonl`` (see its SOURCE.md), only ``eng_Latn``
  and ``deu_Latn``, converted by saeub/item-evaluation to one passage per line with its 1-2 items; mapped
  back to the official fields here (``text`` = passage, ``metadata.extra.url`` = link, item order =
  question number, answer order = ``mc_answer1..4``, the answer marked correct = ``correct_answer_num``).
  The other 120 variants have no local file and are skipped by the runner (or read from the Hub).
- Languages: all 122 variants, named as lm-eval 0.4.13 names its ``lm_eval/tasks/belebele/belebele_<code>.yaml``
  files (the Hub configs), including romanised ones (``hin_Latn``, ``urd_Latn``...).
- Item id: ``<link>#<question_number>`` from both sources, the same for the same question in every language.
  The converted files do not keep ``question_number``; the position of an item within its passage stands
  in for it (SOURCE.md), which matches the Hub for passages with two questions. For the 76 passages with
  a single question this could not be checked offline: were one of them numbered 2 on the Hub, its local
  and Hub ids would differ (ids still agree across languages within either source).
- Prompt: lm-eval's ``belebele`` template, English scaffolding in every language:
  ``P: {passage}\\nQ: {question}\\nA: ...\\nD: {answer 4}\\nAnswer:`` and the continuations `` A``..`` D``.
- Metrics: ``acc`` and ``acc_norm`` (equal here: every choice is one letter long).
- Few-shot: a demonstration is the prompt followed by `` <gold letter>``, drawn from the test split (the
  only split). lm-eval uses ``fewshot_split: test`` with its ``first_n`` sampler (the first k questions of
  the split for every item, skipping the item itself); xlh draws a seeded random sample per item that
  never contains the item itself nor the other question on its passage (the passage is in the prompt, and
  a solved question about it can give the answer away; XQuAD excludes the same paragraph likewise).
  Identical at 0 shots, the default.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.api.languages import Language, flores_language
from harness.api.task import HubSource
from harness.data import read_jsonl
from harness.errors import DataError
from harness.kit.hub import OneHubConfig
from harness.kit.multiple_choice import MultipleChoiceTask

VERSION = 2  # 2: few-shot demonstrations never come from the item's passage
SPLITS = ("test",)
EXPECTED_PASSAGES = 488
EXPECTED_QUESTIONS = 900
HUB_PATH = "facebook/belebele"

# Source: the file names of lm-eval 0.4.13 lm_eval/tasks/belebele/belebele_<code>.yaml (= the Hub configs).
CODES: tuple[str, ...] = (
    "acm_Arab", "afr_Latn", "als_Latn", "amh_Ethi", "apc_Arab", "arb_Arab", "arb_Latn", "ars_Arab", "ary_Arab",
    "arz_Arab", "asm_Beng", "azj_Latn", "bam_Latn", "ben_Beng", "ben_Latn", "bod_Tibt", "bul_Cyrl", "cat_Latn",
    "ceb_Latn", "ces_Latn", "ckb_Arab", "dan_Latn", "deu_Latn", "ell_Grek", "eng_Latn", "est_Latn", "eus_Latn",
    "fin_Latn", "fra_Latn", "fuv_Latn", "gaz_Latn", "grn_Latn", "guj_Gujr", "hat_Latn", "hau_Latn", "heb_Hebr",
    "hin_Deva", "hin_Latn", "hrv_Latn", "hun_Latn", "hye_Armn", "ibo_Latn", "ilo_Latn", "ind_Latn", "isl_Latn",
    "ita_Latn", "jav_Latn", "jpn_Jpan", "kac_Latn", "kan_Knda", "kat_Geor", "kaz_Cyrl", "kea_Latn", "khk_Cyrl",
    "khm_Khmr", "kin_Latn", "kir_Cyrl", "kor_Hang", "lao_Laoo", "lin_Latn", "lit_Latn", "lug_Latn", "luo_Latn",
    "lvs_Latn", "mal_Mlym", "mar_Deva", "mkd_Cyrl", "mlt_Latn", "mri_Latn", "mya_Mymr", "nld_Latn", "nob_Latn",
    "npi_Deva", "npi_Latn", "nso_Latn", "nya_Latn", "ory_Orya", "pan_Guru", "pbt_Arab", "pes_Arab", "plt_Latn",
    "pol_Latn", "por_Latn", "ron_Latn", "rus_Cyrl", "shn_Mymr", "sin_Latn", "sin_Sinh", "slk_Latn", "slv_Latn",
    "sna_Latn", "snd_Arab", "som_Latn", "sot_Latn", "spa_Latn", "srp_Cyrl", "ssw_Latn", "sun_Latn", "swe_Latn",
    "swh_Latn", "tam_Taml", "tel_Telu", "tgk_Cyrl", "tgl_Latn", "tha_Thai", "tir_Ethi", "tsn_Latn", "tso_Latn",
    "tur_Latn", "ukr_Cyrl", "urd_Arab", "urd_Latn", "uzn_Latn", "vie_Latn", "war_Latn", "wol_Latn", "xho_Latn",
    "yor_Latn", "zho_Hans", "zho_Hant", "zsm_Latn", "zul_Latn",
)  # fmt: skip
LANGUAGES: tuple[Language, ...] = tuple(flores_language(code) for code in CODES)
if len(set(CODES)) != 122:
    raise RuntimeError(f"belebele: expected 122 distinct language variants, found {len(set(CODES))}")

LETTERS = ("A", "B", "C", "D")  # the choices, in mc_answer1..4 order


@dataclass(frozen=True)
class BelebeleExample:
    id: str  # "<link>#<question_number>"
    link: str
    question_number: int
    passage: str
    question: str
    answers: tuple[str, str, str, str]
    correct: int  # 0-based index into answers (correct_answer_num - 1)


def example_id(link: str, question_number: int) -> str:
    return f"{link}#{question_number}"


# -- adapters: official (Hub) row and the converted local format -> typed example ------------------------
def from_official(record: dict[str, Any]) -> BelebeleExample:
    """An example from the official fields (``correct_answer_num`` is the string "1".."4" on the Hub)."""
    correct = int(record["correct_answer_num"])
    if correct not in (1, 2, 3, 4):
        raise ValueError(f"correct_answer_num must be 1..4, found {record['correct_answer_num']!r}")
    number = int(record["question_number"])
    return BelebeleExample(
        id=example_id(record["link"], number),
        link=record["link"],
        question_number=number,
        passage=record["flores_passage"],
        question=record["question"],
        answers=(record["mc_answer1"], record["mc_answer2"], record["mc_answer3"], record["mc_answer4"]),
        correct=correct - 1,
    )


def official_records(passage: dict[str, Any], language: Language, path: Path, line: int) -> list[dict[str, Any]]:
    """The official rows of one converted passage (see SOURCE.md for the mapping); errors name the line."""

    def fail(message: str) -> DataError:
        return DataError(message, path, line)

    text, items, metadata = passage.get("text"), passage.get("items"), passage.get("metadata")
    extra = metadata.get("extra") if isinstance(metadata, dict) else None
    if not isinstance(text, str) or not isinstance(items, list) or not isinstance(extra, dict):
        raise fail("expected a passage with 'text', 'items' and 'metadata.extra'")
    link, dialect = extra.get("url"), extra.get("language")
    if not isinstance(link, str) or not link:
        raise fail("passage has no link (metadata.extra.url)")
    if dialect != language.code:
        raise fail(f"passage is in {dialect!r}, expected {language.code!r}")
    if len(items) not in (1, 2):
        raise fail(f"expected 1 or 2 questions per passage, found {len(items)}")
    records = []
    for number, item in enumerate(items, start=1):
        answers = item.get("answers") if isinstance(item, dict) else None
        if not isinstance(answers, list) or len(answers) != 4 or not isinstance(item.get("question"), str):
            raise fail(f"question {number}: expected a question with 4 answers")
        if item.get("multiple") is not False or any(
            not isinstance(answer, dict) or not isinstance(answer.get("text"), str) for answer in answers
        ):
            raise fail(f"question {number}: expected single-answer items with answer texts")
        correct = [index for index, answer in enumerate(answers, start=1) if answer.get("correct") is True]
        if len(correct) != 1:
            raise fail(f"question {number}: expected exactly one correct answer, found {len(correct)}")
        records.append(
            {
                "link": link,
                "question_number": number,
                "flores_passage": text,
                "question": item["question"],
                **{f"mc_answer{index}": answer["text"] for index, answer in enumerate(answers, start=1)},
                "correct_answer_num": str(correct[0]),
            }
        )
    return records


# -- spec: prompt and gold (the base renders requests, demonstrations and scores) ------------------------
class Belebele(OneHubConfig[BelebeleExample], MultipleChoiceTask[BelebeleExample]):
    name = "belebele"
    version = VERSION
    description = "reading comprehension, 4-way multiple choice over a FLORES passage"
    languages = LANGUAGES
    splits = SPLITS
    default_split = "test"
    labels = LETTERS  # the continuations are the letters themselves, so acc_norm equals acc
    data_folder = "belebele"

    def gold(self, example: BelebeleExample) -> int:
        return example.correct  # as a stratum: a LIMIT sample keeps the position of the right answer balanced

    def prompt(self, example: BelebeleExample, language: Language, variant: str) -> str:
        """lm-eval 0.4.13 ``belebele/_default_template_yaml`` doc_to_text (the question is stripped, as there)."""
        a, b, c, d = example.answers
        return f"P: {example.passage}\nQ: {example.question.strip()}\nA: {a}\nB: {b}\nC: {c}\nD: {d}\nAnswer:"

    def local_files(self, data_dir: Path, language: Language, split: str) -> tuple[Path, ...]:
        return (data_dir / self.data_folder / "saeub_item-evaluation" / f"{language.code}.jsonl",)

    def load_local(self, data_dir: Path, language: Language, split: str) -> list[BelebeleExample]:
        (path,) = self.local_files(data_dir, language, split)
        examples: list[BelebeleExample] = []
        passages = 0
        seen: dict[str, int] = {}
        for line, passage in read_jsonl(path):
            passages += 1
            for record in official_records(passage, language, path, line):
                example = from_official(record)
                if example.id in seen:
                    raise DataError(f"question {example.id} already appeared on line {seen[example.id]}", path, line)
                seen[example.id] = line
                examples.append(example)
        if (passages, len(examples)) != (EXPECTED_PASSAGES, EXPECTED_QUESTIONS):
            raise DataError(
                f"expected {EXPECTED_PASSAGES} passages with {EXPECTED_QUESTIONS} questions, "
                f"found {passages} with {len(examples)}",
                path,
            )
        return examples

    def expected_examples(self, split: str) -> int:
        return EXPECTED_QUESTIONS

    def hub_source(self, language: Language, split: str) -> HubSource:
        return HubSource(path=HUB_PATH, name=language.code, split=split)

    def from_hub_record(self, record: dict[str, Any], index: int, language: Language) -> BelebeleExample:
        try:
            return from_official(record)
        except (KeyError, ValueError) as error:
            raise DataError(f"row {index}: {error}", f"{HUB_PATH} ({language.code})") from error

    def leaks(self, shot: BelebeleExample, example: BelebeleExample) -> bool:
        """The item itself, or any question on the same passage (the same link, which names one passage in
        every language: 488 links for 488 passages, or the same passage text)."""
        return shot.id == example.id or shot.link == example.link or shot.passage == example.passage


TASKS = (Belebele(),)
