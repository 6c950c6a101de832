"""Parity with lm-eval 0.4.13 for Belebele and SIB-200 (AfroBench's ``sib_<lang>_prompt_1``): the same tiny
model, the same documents, lm-eval's own task YAMLs included by absolute path with only the dataset pointed
at local JSON files (and, for SIB, the overrides explained at ``SIB_OVERRIDES``); per-sample comparison of
contexts, log-likelihoods, greedy flags and acc/acc_norm, and per-language comparison of the aggregates.
"""

from __future__ import annotations

import csv
import itertools
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.api.languages import flores_language
from harness.backends import GenerationParams
from harness.run.runner import RunConfig, run
from tasks.belebele import Belebele
from tasks.sib200 import LABELS, PROMPTS, Sib200, SibExample, prompt
from tests.parity.lmeval_helpers import SIB_OVERRIDES, belebele_record, lmeval_yaml, run_lmeval_output, write_jsonl
from tests.tolerances import assert_loglikelihoods_match

pytestmark = pytest.mark.slow

LIMIT = 12
BELEBELE_LANGS = ("eng_Latn", "deu_Latn")
SIB_LANGS = {"eng_Latn": "eng", "fra_Latn": "fra", "hau_Latn": "hau", "swh_Latn": "swa"}  # code -> AfroBench name
# AfroBench languages whose hand-typed English name (lm-eval) differs from CLDR's (xlh), see tasks/sib200.py.
NAMES_DIFFERING_FROM_LMEVAL = {
    "kbp_Latn",
    "kon_Latn",
    "lua_Latn",
    "lug_Latn",
    "luo_Latn",
    "nya_Latn",
    "ssw_Latn",
    "tzm_Tfng",
}


def _interleaved_sib(data_dir: Path, folder: Path) -> Path:
    """A DATA_DIR whose SIB test files list the topics in turn, so that the first LIMIT items cover all 7
    (the original files are sorted by topic: their first 12 items are all science/technology); Belebele is
    the original."""
    root = folder / "data"
    (root / "sib200" / "annotated").mkdir(parents=True)
    (root / "belebele").symlink_to(data_dir / "belebele", target_is_directory=True)
    for code in SIB_LANGS:
        source = data_dir / "sib200" / "annotated" / code
        target = root / "sib200" / "annotated" / code
        target.mkdir()
        shutil.copy(source / "labels.txt", target / "labels.txt")
        with (source / "test.tsv").open(encoding="utf-8", newline="") as handle:
            header, *rows = list(csv.reader(handle, delimiter="\t"))
        by_topic = [[row for row in rows if row[1] == label] for label in LABELS]
        interleaved = [row for group in itertools.zip_longest(*by_topic) for row in group if row is not None]
        with (target / "test.tsv").open("w", encoding="utf-8", newline="") as handle:
            csv.writer(handle, delimiter="\t", lineterminator="\n").writerows([header, *interleaved])  # pandas-style
    return root


def _xlh_run(model: Path, data_dir: Path, out: Path) -> tuple[list[dict], dict[str, dict]]:
    """xlh's samples and per-task results of one run over both tasks (Belebele skips the languages it lacks)."""
    folder = run(
        RunConfig(
            model=str(model),
            tasks=("belebele", "sib200"),
            languages=(*BELEBELE_LANGS, *SIB_LANGS),
            limit=LIMIT,
            limit_mode="first",  # lm-eval takes the first N documents
            data_dir=data_dir,
            out_dir=out,
            generation=GenerationParams(),
            backend_options={"batch_size": 8, "progress": False},
        )
    ).folder
    samples = [json.loads(line) for line in (folder / "samples.jsonl").read_text(encoding="utf-8").splitlines()]
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    return samples, {task["name"]: task for task in results["tasks"]}


@pytest.fixture(scope="module")
def both(tiny_model, data_dir, tmp_path_factory, lmeval_root) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("lmeval-belebele-sib")
    data_dir = _interleaved_sib(data_dir, folder)
    belebele, sib = Belebele(), Sib200()
    names = []
    for code in BELEBELE_LANGS:
        examples = belebele.load_local(data_dir, belebele.language(code), "test")[:LIMIT]
        records = [belebele_record(e) for e in examples]
        data = write_jsonl(folder / f"belebele_{code}.jsonl", records)
        lmeval_yaml(folder, f"parity_belebele_{code}", lmeval_root / "belebele" / f"belebele_{code}.yaml", "test", data)
        names.append(f"parity_belebele_{code}")
    (folder / "utils.py").write_text("from lm_eval.utils import weighted_f1_score  # noqa: F401\n", encoding="utf-8")
    for code, short in SIB_LANGS.items():
        sentences = sib.load_local(data_dir, sib.language(code), "test")[:LIMIT]
        assert {e.label for e in sentences} == set(range(len(LABELS)))
        records = [{"index_id": int(e.id), "category": LABELS[e.label], "text": e.text} for e in sentences]
        data = write_jsonl(folder / f"sib_{code}.jsonl", records)
        include = lmeval_root / "afrobench" / "sib" / "prompt_1" / f"sib_{short}.yaml"
        lmeval_yaml(folder, f"parity_sib_{code}", include, "test", data, SIB_OVERRIDES)
        names.append(f"parity_sib_{code}")
    theirs, their_results = run_lmeval_output(tiny_model, folder, names)
    ours, our_results = _xlh_run(tiny_model, data_dir, folder / "out")
    return {"theirs": theirs, "their_results": their_results, "ours": ours, "our_results": our_results}


def _compare_samples(mine: list[dict], reference: list[dict], where: str) -> None:
    assert len(mine) == len(reference) == LIMIT, where
    for sample, ref in zip(mine, reference, strict=True):
        at = (where, ref["doc_id"], sample["id"])
        request = sample["requests"][0]
        assert [(request["context"], c) for c in request["continuations"]] == [tuple(a) for a in ref["arguments"]], at
        ref_lls = [resp[0][0] for resp in ref["resps"]]
        # lm-eval sums token log-probs in float32, xlh in float64: the tolerance scales with the sum.
        response = sample["responses"][0]
        assert_loglikelihoods_match(response["loglikelihoods"], ref_lls, response["token_counts"], at)
        assert sample["responses"][0]["is_greedy"] == [bool(resp[0][1]) for resp in ref["resps"]], at
        assert sample["scores"]["acc"] == ref["acc"], at
        assert sample["scores"]["acc_norm"] == ref["acc_norm"], at


def test_belebele_matches_lm_eval(both) -> None:
    task = both["our_results"]["belebele"]
    assert set(task["languages"]) == set(BELEBELE_LANGS)
    assert set(task["skipped"]) == set(SIB_LANGS) - set(BELEBELE_LANGS)  # no local file for fra, hau, swh
    for code in BELEBELE_LANGS:
        name = f"parity_belebele_{code}"
        mine = [s for s in both["ours"] if s["task"] == "belebele" and s["language"] == code]
        _compare_samples(mine, both["theirs"][name], name)
        metrics = task["languages"][code]["metrics"]
        assert metrics["acc"]["value"] == both["their_results"][name]["acc,none"]
        assert metrics["acc_norm"]["value"] == both["their_results"][name]["acc_norm,none"]


def test_sib_prompt_1_matches_lm_eval(both) -> None:
    task = both["our_results"]["sib200"]
    assert task["variant"] == "prompt_1"
    for code in SIB_LANGS:
        name = f"parity_sib_{code}"
        mine = [s for s in both["ours"] if s["task"] == "sib200" and s["language"] == code]
        _compare_samples(mine, both["theirs"][name], name)
        for sample, ref in zip(mine, both["theirs"][name], strict=True):
            gold, predicted = ref["f1"]  # lm-eval keeps (gold index, predicted index) for its F1
            assert (LABELS[gold], LABELS[predicted]) == (sample["gold"], sample["extracted"])
        metrics = task["languages"][code]["metrics"]
        assert metrics["acc"]["value"] == both["their_results"][name]["acc,none"]
        assert metrics["acc_norm"]["value"] == both["their_results"][name]["acc_norm,none"]
        assert metrics["f1_weighted"]["value"] == pytest.approx(both["their_results"][name]["f1,none"], abs=1e-12)


def test_all_afrobench_sib_prompts_match(lmeval_root) -> None:
    """Every prompt_N/sib_<lang>.yaml (5 x 56) renders as xlh's prompt, with lm-eval's language name where
    it hand-types a different one than CLDR's."""
    sentence = 'He said: "It\'s {fine}" & left.'
    differing = set()
    compared = 0
    for variant in PROMPTS:
        files = sorted((lmeval_root / "afrobench" / "sib" / variant).glob("sib_*.yaml"))
        assert len(files) == 56
        for path in files:
            config = yaml.safe_load(path.read_text(encoding="utf-8"))
            theirs = _render_lmeval(config["doc_to_text"], sentence)
            language = flores_language(config["dataset_name"])
            ours = prompt(SibExample(id="0", text=sentence, label=0), language, variant)
            if ours != theirs:
                assert variant in ("prompt_2", "prompt_3", "prompt_5"), path
                assert PROMPTS[variant].render(sentence, _lmeval_name(lmeval_root, path.name)) == theirs, path
                differing.add(language.code)
            compared += 1
    assert compared == 5 * 56
    assert differing == NAMES_DIFFERING_FROM_LMEVAL


def test_lm_evals_belebele_shots_are_the_first_test_questions(lmeval_root) -> None:
    """Irrelevant at 0 shots; xlh draws a seeded random sample per item instead (tasks/belebele.py)."""
    template = yaml.safe_load((lmeval_root / "belebele" / "_default_template_yaml").read_text(encoding="utf-8"))
    assert template["fewshot_config"] == {"sampler": "first_n"}
    for code in BELEBELE_LANGS:
        config = yaml.safe_load((lmeval_root / "belebele" / f"belebele_{code}.yaml").read_text(encoding="utf-8"))
        assert config["fewshot_split"] == config["test_split"] == "test"


def _render_lmeval(template: str, text: str) -> str:
    from lm_eval.utils import apply_template

    return apply_template(template, {"text": text})


def _lmeval_name(lmeval_root: Path, file_name: str) -> str:
    config = yaml.safe_load((lmeval_root / "afrobench" / "sib" / "prompt_2" / file_name).read_text(encoding="utf-8"))
    match = re.match(r"Does this (.+) topic; ", config["doc_to_text"])
    assert match, file_name
    return match.group(1)
