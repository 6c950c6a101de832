import json
import shutil
from pathlib import Path

import pytest
from sacrebleu.metrics import CHRF

from harness.api.languages import FLORES200_CODES, language_name
from harness.api.metric import SampleScore
from harness.api.requests import GenerationRequest
from harness.api.task import FEWSHOT_DELIMITER, Shot
from harness.backends import GenerationParams
from harness.data import read_tsv
from harness.errors import ConfigError, DataError
from harness.metrics.translation import CorpusTranslationMetric, spbleu_unavailable
from harness.run.runner import RunConfig, run, validate
from tasks.flores200 import (
    BUDGET_FLOOR,
    BUDGET_MARGIN,
    BUDGET_SLACK,
    BUDGET_STEP,
    DEFAULT_DIRECTIONS,
    EXPECTED_SENTENCES,
    Flores200,
    FloresExample,
    TranslationDirection,
    expansion,
    read_sentences,
    read_sib_dev,
    translation_budget,
)

TASK = Flores200()
EN_DE = TASK.language("eng_Latn-deu_Latn")
DE_EN = TASK.language("deu_Latn-eng_Latn")


def _prompt(example: FloresExample, direction: str) -> str:
    (request,) = TASK.requests(example, TASK.language(direction), "default")
    assert isinstance(request, GenerationRequest) and request.stop == ("\n",)
    return request.prompt


def _codes(selectors: list[str]) -> list[str]:
    return [language.code for language in TASK.select_languages(selectors)]


# -- data ---------------------------------------------------------------------------------------------------
def test_every_language_has_1012_devtest_and_510_dev_sentences(data_dir: Path) -> None:
    dev_ids = None
    for code in FLORES200_CODES:
        devtest = read_sentences(data_dir / "flores200" / "flores200_dataset" / "devtest" / f"{code}.devtest")
        assert len(devtest) == EXPECTED_SENTENCES["devtest"] == 1012
        folder = data_dir / "sib200" / "annotated" / code
        dev = read_sib_dev([folder / name for name in ("train.tsv", "dev.tsv", "test.tsv")])
        assert len(dev) == EXPECTED_SENTENCES["dev"] == 510
        dev_ids = dev_ids or sorted(dev)
        assert sorted(dev) == dev_ids  # the same dev sentences in every language
        assert max(dev) < 997


def test_directions_are_parallel_line_by_line(data_dir: Path) -> None:
    en_de = TASK.load_local(data_dir, EN_DE, "devtest")
    en_fr = TASK.load_local(data_dir, TASK.language("eng_Latn-fra_Latn"), "devtest")
    de_en = TASK.load_local(data_dir, DE_EN, "devtest")
    assert (
        [e.id for e in en_de] == [e.id for e in en_fr] == [e.id for e in de_en] == [f"devtest:{i}" for i in range(1012)]
    )
    assert [e.source for e in en_de] == [e.source for e in en_fr]  # the same English sentences
    assert [(e.source, e.target) for e in en_de] == [(e.target, e.source) for e in de_en]
    first = (data_dir / "flores200" / "flores200_dataset" / "devtest" / "deu_Latn.devtest").open(encoding="utf-8")
    assert en_de[0].target == first.readline().strip()


def test_dev_sentences_come_from_sib200_with_their_index_ids(data_dir: Path) -> None:
    dev = TASK.load_local(data_dir, EN_DE, "dev")
    assert len(dev) == 510
    assert [e.id for e in dev] == sorted((e.id for e in dev), key=lambda i: int(i.split(":")[1]))
    assert all(e.id.startswith("dev:") for e in dev)
    # SIB-200 deu_Latn/dev.tsv row 2 is index_id 548
    by_id = {e.id: e for e in dev}
    assert by_id["dev:548"].target.startswith("Durch den Wechsel vom Viertelmeilen- zum Halbmeilen-Rennen")


def test_sib200_quoting_is_read_as_flores_wrote_the_text(data_dir: Path) -> None:
    # SIB-200 rows from index_id 997 on are devtest sentences: read with CSV quoting they equal the FLORES
    # lines, including the doubled quotes FLORES itself has in some languages (24 German devtest lines).
    devtest = read_sentences(data_dir / "flores200" / "flores200_dataset" / "devtest" / "deu_Latn.devtest")
    rows = read_tsv(data_dir / "sib200" / "annotated" / "deu_Latn" / "dev.tsv", columns=3, quoted=True, header=True)
    later = {int(index_id): text for _, (index_id, _, text) in rows if int(index_id) >= 997}
    assert len(later) > 40 and any('""' in text for text in later.values())
    assert all(text.strip() == devtest[index_id - 997] for index_id, text in later.items())


@pytest.mark.parametrize("split", ["devtest", "dev"])
def test_local_files_are_exactly_the_files_read(data_dir: Path, tmp_path: Path, split: str) -> None:
    files = TASK.local_files(data_dir, EN_DE, split)
    assert len(files) == (2 if split == "devtest" else 6)
    for path in files:  # a DATA_DIR holding only the declared files is enough
        copy = tmp_path / path.relative_to(data_dir)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copy)
    assert TASK.load_local(tmp_path, EN_DE, split) == TASK.load_local(data_dir, EN_DE, split)
    for path in TASK.local_files(tmp_path, EN_DE, split):  # and every one of them is needed
        path.rename(path.with_suffix(".gone"))
        with pytest.raises(DataError, match="data file not found"):
            TASK.load_local(tmp_path, EN_DE, split)
        path.with_suffix(".gone").rename(path)


def test_short_devtest_file_names_the_file(tmp_path: Path, data_dir: Path) -> None:
    lines = (data_dir / "flores200" / "flores200_dataset" / "devtest" / "deu_Latn.devtest").read_text().split("\n")
    path = tmp_path / "deu_Latn.devtest"
    path.write_text("\n".join(lines[:1011]) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"deu_Latn\.devtest: expected 1012 sentences, found 1011"):
        read_sentences(path)
    path.write_text("\n".join(lines[:5] + ["  "] + lines[6:]), encoding="utf-8")
    with pytest.raises(DataError, match=r"deu_Latn\.devtest:6: empty sentence"):
        read_sentences(path)


def test_bad_sib_index_id_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "dev.tsv"
    path.write_text('index_id\tcategory\ttext\n12\ttravel\t"a ""quoted"" text"\nx7\ttravel\tb\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"dev\.tsv:3: index_id 'x7' is not a number"):
        read_sib_dev([path])


# -- directions ---------------------------------------------------------------------------------------------
def test_default_directions_are_english_to_and_from_every_language() -> None:
    assert len(DEFAULT_DIRECTIONS) == len(TASK.languages) == 406
    assert len({d.code for d in DEFAULT_DIRECTIONS}) == 406
    assert all("eng_Latn" in (d.source, d.target) for d in DEFAULT_DIRECTIONS)
    assert _codes([]) == [d.code for d in DEFAULT_DIRECTIONS]


def test_a_direction_is_a_language_named_by_both_sides() -> None:
    assert isinstance(EN_DE, TranslationDirection)
    assert (EN_DE.code, EN_DE.flores, EN_DE.name) == ("eng_Latn-deu_Latn", "deu_Latn", "English → German")
    assert (DE_EN.flores, DE_EN.name) == ("deu_Latn", "German → English")  # the non-English side
    de_fr = TASK.language("deu_Latn-fra_Latn")
    assert (de_fr.flores, de_fr.name, de_fr.iso639_3) == ("fra_Latn", "German → French", "fra")  # the target


@pytest.mark.parametrize("selector", ["de", "deu", "deu_Latn", "de-DE"])
def test_a_language_selects_both_english_directions(selector: str) -> None:
    assert _codes([selector]) == ["eng_Latn-deu_Latn", "deu_Latn-eng_Latn"]


def test_english_selects_every_default_direction_and_zh_both_scripts() -> None:
    assert len(_codes(["eng_Latn"])) == len(_codes(["en"])) == 406
    assert _codes(["zh"]) == ["eng_Latn-zho_Hans", "zho_Hans-eng_Latn", "eng_Latn-zho_Hant", "zho_Hant-eng_Latn"]


def test_english_beside_other_languages_adds_no_directions() -> None:
    """LANGS=en,de means English and German in every task: for FLORES, the two English-German directions."""
    assert _codes(["en", "de"]) == _codes(["de", "eng_Latn"]) == ["eng_Latn-deu_Latn", "deu_Latn-eng_Latn"]
    assert _codes(["en", "deu_Latn-fra_Latn"]) == ["deu_Latn-fra_Latn"]


def test_a_pair_selects_that_direction_even_if_not_a_default() -> None:
    assert _codes(["deu_Latn-fra_Latn"]) == ["deu_Latn-fra_Latn"]
    assert _codes(["eng_Latn-deu_Latn"]) == ["eng_Latn-deu_Latn"]
    assert _codes(["de", "eng_Latn-deu_Latn", "fra_Latn-deu_Latn"]) == [
        "eng_Latn-deu_Latn",
        "deu_Latn-eng_Latn",
        "fra_Latn-deu_Latn",
    ]
    pair = TASK.language("deu_Latn-fra_Latn")
    assert pair.matches("deu_Latn-fra_Latn") and not pair.matches("fra_Latn-deu_Latn")
    assert pair.matches("de") and pair.matches("fr") and not pair.matches("en")


def test_unknown_selectors_are_config_errors_naming_the_task() -> None:
    assert _codes(["xyz"]) == []  # another selected task may have it: the runner reports it
    with pytest.raises(ConfigError, match="task 'flores200' has no language 'xyz'"):
        TASK.language("xyz")
    with pytest.raises(ConfigError, match="'flores200'.*unknown: xxx_Latn"):
        TASK.select_languages(["xxx_Latn-deu_Latn"])
    with pytest.raises(ConfigError, match="'flores200'.*into itself"):
        TASK.language("deu_Latn-deu_Latn")
    with pytest.raises(ConfigError, match="'flores200': 'de' names 2 translation directions"):
        TASK.language("de")  # SHOTS_FROM needs one direction
    with pytest.raises(ConfigError, match="no selected task has language 'xyz_Latn'.*flores200"):
        validate(RunConfig(model="m", tasks=("flores200",), languages=("xyz_Latn",)))


def test_the_runner_accepts_pairs_and_languages() -> None:
    ((_, selected),) = validate(RunConfig(model="m", tasks=("flores200",), languages=("swh", "deu_Latn-fra_Latn")))
    assert [d.code for d in selected] == ["eng_Latn-swh_Latn", "swh_Latn-eng_Latn", "deu_Latn-fra_Latn"]


def test_display_names_are_unique_and_plain() -> None:
    names = [language_name(code) for code in FLORES200_CODES]
    assert len(set(names)) == 204
    assert not any("individual language" in name for name in names)
    assert [language_name(c) for c in ("swh_Latn", "npi_Deva", "ory_Orya")] == ["Swahili", "Nepali", "Odia"]
    assert [language_name(c) for c in ("zho_Hans", "zho_Hant", "ace_Arab")] == [
        "Chinese",
        "Chinese (Traditional)",
        "Acehnese (Arabic)",
    ]


# -- prompts, shots, scores, metrics --------------------------------------------------------------------------
def test_prompts_are_exact(data_dir: Path) -> None:
    example = TASK.load_local(data_dir, EN_DE, "devtest")[0]
    assert TASK.requests(example, EN_DE, "default") == [
        GenerationRequest(
            prompt='English: "We now have 4-month-old mice that are non-diabetic that used to be diabetic," he '
            "added.\nGerman:",
            stop=("\n",),
            max_new_tokens=384,  # 2 x 88 source bytes x 1.17 (the median German/English byte ratio) + 128
        )
    ]
    pair = FloresExample(id="devtest:0", source="Habari ya asubuhi.", target="Good morning.")
    assert _prompt(pair, "swh_Latn-eng_Latn") == "Swahili: Habari ya asubuhi.\nEnglish:"
    assert _prompt(pair, "eng_Latn-zho_Hant") == "English: Habari ya asubuhi.\nChinese (Traditional):"


def _utf8(text: str) -> int:
    return len(text.encode("utf-8"))


@pytest.mark.parametrize("target", ["mya_Mymr", "amh_Ethi", "tha_Thai", "zho_Hans", "shn_Mymr", "dzo_Tibt"])
def test_the_budget_fits_every_reference_written_one_token_per_byte(data_dir: Path, target: str) -> None:
    """Into and out of scripts a byte-fallback tokenizer may spell byte by byte: the reference, with the
    space the model writes after "Language:", fits the budget even at one token per UTF-8 byte (all but at
    most one sentence per direction, measured: one eng->tha sentence of 853 bytes for 768 tokens; 284 Thai
    characters, which no tokenizer that knows Thai spells byte by byte)."""
    for pair in (TASK.language(f"eng_Latn-{target}"), TASK.language(f"{target}-eng_Latn")):
        over = []
        for example in TASK.load_local(data_dir, pair, "devtest"):
            (request,) = TASK.requests(example, pair, "default")
            assert isinstance(request, GenerationRequest)
            if _utf8(" " + example.target) > request.max_new_tokens:
                over.append(_utf8(" " + example.target) / request.max_new_tokens)
        assert len(over) <= 1 and all(ratio < 1.2 for ratio in over), (pair.code, over)


def test_the_budget_fits_nearly_every_devtest_direction(data_dir: Path) -> None:
    """All 41,412 directions, one token per byte: the numbers in the module's comment still hold."""
    import numpy as np

    folder = data_dir / "flores200" / "flores200_dataset" / "devtest"
    lengths = {
        code: np.array([_utf8(s) for s in read_sentences(folder / f"{code}.devtest")]) for code in FLORES200_CODES
    }
    longer, total, worst = 0, 0, 0.0
    for source, source_bytes in lengths.items():
        for target, target_bytes in lengths.items():
            if source == target:
                continue
            factor = float(np.median(target_bytes / source_bytes))
            wanted = BUDGET_MARGIN * factor * source_bytes + BUDGET_SLACK
            budgets = np.maximum(BUDGET_FLOOR, np.ceil(wanted.astype(int) / BUDGET_STEP) * BUDGET_STEP)
            longer += int((target_bytes > budgets).sum())
            total += len(budgets)
            worst = max(worst, float((target_bytes / budgets).max()))
    assert total == 41_412 * 1012
    assert longer < 1e-4 * total and worst < 1.7, (longer, worst)


def test_the_budget_follows_source_length_and_direction() -> None:
    assert translation_budget("Hi.", 1.0) == BUDGET_FLOOR == 256
    assert translation_budget("x" * 100, 1.0) == 384  # 2 x 100 + 128 = 328, rounded up to 128
    assert translation_budget("x" * 100, 3.5) == 896  # into Burmese: 2 x 350 + 128 = 828
    assert all(translation_budget("x" * n, 1.2) % BUDGET_STEP == 0 for n in range(300))
    assert expansion([("ab", "abcd"), ("abc", "abc"), ("a", "aaa")]) == 2.0


def test_shots_are_dev_demonstrations_before_the_prompt(data_dir: Path) -> None:
    assert TASK.shot_split("devtest") == "dev"
    pool = TASK.load_local(data_dir, EN_DE, "dev")
    example = TASK.load_local(data_dir, EN_DE, "devtest")[3]
    shots = TASK.select_shots(pool, example, 2, seed=1234)
    assert all(shot.id.startswith("dev:") for shot in shots)
    (request,) = TASK.requests(example, EN_DE, "default", [Shot(shot, EN_DE) for shot in shots])
    assert isinstance(request, GenerationRequest)
    demonstrations = [f"English: {shot.source}\nGerman: {shot.target}" for shot in shots]
    assert request.prompt == "".join(d + FEWSHOT_DELIMITER for d in demonstrations) + (
        f"English: {example.source}\nGerman:"
    )
    # shots from another direction read as that direction
    fr = FloresExample(id="dev:1", source="Hello.", target="Bonjour.")
    assert (
        TASK.demonstration(Shot(fr, TASK.language("eng_Latn-fra_Latn")), "default")
        == "English: Hello.\nFrench: Bonjour."
    )


def test_score_strips_the_hypothesis_and_keeps_sentence_chrf() -> None:
    example = FloresExample(id="devtest:0", source="Good morning.", target="Guten Morgen.")
    scored = TASK.score(example, EN_DE, "default", ["  Guten Morgen. "])
    assert (scored.extracted, scored.gold) == ("Guten Morgen.", "Guten Morgen.")
    assert scored.scores == {"sentence_chrf++": pytest.approx(100.0)}
    assert scored.details == {"source": "Good morning."}


def test_a_direction_scored_together_equals_each_sentence_scored_alone(data_dir: Path) -> None:
    """``score_all`` extracts a direction's chrF++ n-grams in one batch; every sample's scores are those of
    ``score`` and sacrebleu's ``sentence_chrf``."""
    examples = TASK.load_local(data_dir, DE_EN, "devtest")[:40]
    responses = [[f" {e.target.split('.')[0]}"] if i % 3 else [e.source] for i, e in enumerate(examples)]
    together = TASK.score_all(list(zip(examples, responses, strict=True)), DE_EN, "default")
    alone = [TASK.score(e, DE_EN, "default", r) for e, r in zip(examples, responses, strict=True)]
    assert together == alone
    for scored in together:
        expected = CHRF(word_order=2).sentence_score(scored.extracted, [scored.gold]).score
        assert scored.scores["sentence_chrf++"] == pytest.approx(expected, abs=1e-9)


def test_spbleu_is_left_out_with_a_note_without_the_model_file(tmp_path: Path) -> None:
    task = Flores200(sacrebleu_folder=tmp_path)
    assert [metric.name for metric in task.metrics("default")] == ["chrf++", "bleu"]
    (note,) = task.notes("default")
    assert note.startswith("spbleu left out") and str(tmp_path / "models" / "flores200sacrebleuspm") in note


# -- end to end -----------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_end_to_end_two_directions_one_shot(tiny_model: Path, data_dir: Path, tmp_path: Path) -> None:
    folder = run(
        RunConfig(
            model=str(tiny_model),
            tasks=("flores200",),
            languages=("eng_Latn-deu_Latn", "swh_Latn-eng_Latn"),
            limit=3,
            limit_mode="first",
            shots=1,
            data_dir=data_dir,
            out_dir=tmp_path,
            generation=GenerationParams(),
            backend_options={"batch_size": 8, "progress": False},
        )
    ).folder
    (task,) = json.loads((folder / "results.json").read_text(encoding="utf-8"))["tasks"]
    samples = [json.loads(line) for line in (folder / "samples.jsonl").read_text(encoding="utf-8").splitlines()]
    reason = spbleu_unavailable()
    assert task["metrics"] == (["chrf++", "bleu"] if reason else ["chrf++", "bleu", "spbleu"])
    health = "output health (xlh health): language identification lid:pycld2|v:0.42|map:1|plain-text|best-effort"
    assert task["notes"] == ([reason] if reason else []) + [health]  # the detector xlh health reads it with
    assert list(task["languages"]) == ["eng_Latn-deu_Latn", "swh_Latn-eng_Latn"]
    for code, result in task["languages"].items():
        mine = [s for s in samples if s["language"] == code]
        assert result["n"] == len(mine) == 3
        assert [s["id"] for s in mine] == ["devtest:0", "devtest:1", "devtest:2"]
        assert all(len(s["details"]["shots"]) == 1 and s["details"]["shots"][0].startswith("dev:") for s in mine)
        assert result["data"]["shot_pool"]["split"] == "dev" and len(result["data"]["shot_pool"]["files"]) == 6
        hypotheses, references = [s["extracted"] for s in mine], [s["gold"] for s in mine]
        assert hypotheses == [s["responses"][0].strip() for s in mine]
        chrf = result["metrics"]["chrf++"]
        assert chrf["value"] == CHRF(word_order=2).corpus_score(hypotheses, [references]).score
        assert chrf["signature"].startswith("chrF2++|nrefs:1|bs:1000|seed:12345|case:mixed|eff:yes|nc:6|nw:2|")
        assert chrf["signature"].endswith("|stderr:sd_of_bootstrap_scores|n:3") and chrf["unit"] == "score"
        assert chrf["stderr"] > 0
        assert "|tok:13a|" in result["metrics"]["bleu"]["signature"]
    prompt = next(s for s in samples if s["language"] == "swh_Latn-eng_Latn")["requests"][0]["prompt"]
    assert prompt.startswith("Swahili: ") and prompt.count("\nEnglish:") == 2 and prompt.endswith("\nEnglish:")


@pytest.mark.parametrize("code", ["kac_Latn", "tha_Thai"])
def test_stripping_sentences_changes_no_score(data_dir: Path, code: str) -> None:
    # kac_Latn: 549 lines end in a space; tha_Thai: ideographic and no-break spaces at the ends
    path = data_dir / "flores200" / "flores200_dataset" / "devtest" / f"{code}.devtest"
    raw = path.read_text(encoding="utf-8").split("\n")[:300]
    hypotheses = [line[len(line) // 3 :] + " " for line in raw]
    stripped = [line.strip() for line in raw]
    assert raw != stripped
    for metric in TASK.metrics("default"):
        assert isinstance(metric, CorpusTranslationMetric)
        assert (
            metric.scorer().corpus_score(hypotheses, [raw]).score
            == metric.aggregate(
                [SampleScore(h.strip(), r, {}) for h, r in zip(hypotheses, stripped, strict=True)]
            ).value
        )
