"""FLORES-200 from the Hub (tasks/_flores_hub.py): which dataset and configs a direction reads, and that a folder
laid out as FLORES+ (benchmarks/make_hub_flores.py) gives, through ``datasets.load_dataset``, the examples of the
local files: same ids, sentences and token budgets."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harness.api.languages import FLORES200_CODES
from harness.api.task import HubSource
from harness.errors import DataError
from harness.run.examples import load_examples
from tasks._flores_hub import FLORES_PLUS_CONFIGS, HUB_ENV, REVISIONS, hub_config
from tasks.flores200 import Flores200, pair_from_hub_rows, pair_hub_sources

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "make_hub_flores.py"
LANGUAGES = ("eng_Latn", "deu_Latn", "zho_Hans")  # zho_Hans: a code FLORES+ renamed (cmn_Hans)
TASK = Flores200()


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_hub_flores", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def hub_folder(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _script().write_hub_folder(data_dir, tmp_path_factory.mktemp("flores-hub"), LANGUAGES)


@pytest.fixture
def use_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Point FLORES at a folder, with the datasets cache in tmp_path (nothing written under ~/.cache)."""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "datasets-cache"))

    def use(folder: Path) -> None:
        monkeypatch.setenv(HUB_ENV, str(folder))

    return use


# -- which dataset, which configs ------------------------------------------------------------------------------
def test_flores_plus_is_the_default_pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(HUB_ENV, raising=False)
    source, target = TASK.hub_sources(TASK.language("zho_Hans-eng_Latn"), "devtest")
    revision = REVISIONS["openlanguagedata/flores_plus"]
    assert source == HubSource("openlanguagedata/flores_plus", "cmn_Hans", "devtest", revision)
    assert target == HubSource("openlanguagedata/flores_plus", "eng_Latn", "devtest", revision)
    assert len(revision) == 40


def test_facebook_flores_and_folders_are_chosen_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HUB_ENV, "facebook/flores")
    assert pair_hub_sources("ajp_Arab", "eng_Latn", "dev") == (
        HubSource("facebook/flores", "ajp_Arab", "dev", REVISIONS["facebook/flores"]),
        HubSource("facebook/flores", "eng_Latn", "dev", REVISIONS["facebook/flores"]),
    )
    monkeypatch.setenv(HUB_ENV, "/data/my-flores")
    assert pair_hub_sources("ajp_Arab", "eng_Latn", "dev")[0] == HubSource(
        "/data/my-flores", "apc_Arab_sout3123", "dev"
    )


def test_every_flores200_code_has_a_flores_plus_config() -> None:
    renamed = set(FLORES_PLUS_CONFIGS)
    assert renamed <= set(FLORES200_CODES) and len(renamed) == 11
    configs = [hub_config("openlanguagedata/flores_plus", code) for code in FLORES200_CODES]
    assert len(set(configs)) == 204  # no two languages share a config
    assert not set(FLORES_PLUS_CONFIGS.values()) & set(FLORES200_CODES)


# -- rows -> items -----------------------------------------------------------------------------------------------
def test_a_pair_of_rows_is_one_item_named_by_split_and_row() -> None:
    rows = ({"id": 7, "text": " Hello. ", "split": "dev"}, {"id": 7, "text": "Hallo.", "split": "dev"})
    assert pair_from_hub_rows(rows, 7, "dev") == ("dev:7", "Hello.", "Hallo.")
    assert pair_from_hub_rows(({"sentence": "a"}, {"sentence": "b"}), 0, "devtest") == ("devtest:0", "a", "b")


@pytest.mark.parametrize(
    "rows, message",
    [
        (({"id": 1, "text": "a"}, {"id": 2, "text": "b"}), r"row 4: .* differ in 'id' \(1 vs 2\)"),
        (
            ({"split": "dev", "text": "a"}, {"split": "dev", "text": "b"}),
            r"row 4: a row of split 'dev' in split 'devtest'",
        ),
        (({"text": "a"}, {"text": "  "}), r"row 4: empty sentence"),
        (({"text": "a"}, {"sentences": "b"}), r"row 4: no sentence field \(text or sentence; fields: sentences\)"),
    ],
    ids=["ids differ", "wrong split", "empty", "no text"],
)
def test_rows_that_are_not_one_sentence_are_refused(rows, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pair_from_hub_rows(rows, 4, "devtest")


# -- through datasets.load_dataset ----------------------------------------------------------------------------------
@pytest.mark.parametrize("code", ["eng_Latn-deu_Latn", "zho_Hans-eng_Latn", "deu_Latn-zho_Hans"])
def test_the_hub_layout_gives_the_local_examples(hub_folder: Path, use_hub, data_dir: Path, code: str) -> None:
    use_hub(hub_folder)
    direction = TASK.language(code)
    hub, info = load_examples(TASK, direction, "devtest", None)
    local, _ = load_examples(TASK, direction, "devtest", data_dir)
    assert hub == local  # ids, stripped sentences and token budgets
    assert [e.id for e in hub[:2]] == ["devtest:0", "devtest:1"]
    assert info.source == "hub" and info.total_examples == 1012
    assert [(s["path"], s["name"], s["split"]) for s in info.hub["sources"]] == [
        (str(hub_folder), hub_config("openlanguagedata/flores_plus", side), "devtest") for side in code.split("-")
    ]


def test_a_language_missing_from_the_hub_is_named(hub_folder: Path, use_hub) -> None:
    use_hub(hub_folder)
    with pytest.raises(DataError, match=r"flores200/eng_Latn-fra_Latn: Hub dataset .* \(fra_Latn, split devtest\)"):
        load_examples(TASK, TASK.language("eng_Latn-fra_Latn"), "devtest", None)


def test_a_short_hub_split_is_refused(tmp_path: Path, hub_folder: Path, use_hub) -> None:
    folder = tmp_path / "short"
    (folder / "devtest").mkdir(parents=True)
    (folder / "README.md").write_text((hub_folder / "README.md").read_text())
    for config in ("eng_Latn", "deu_Latn", "cmn_Hans"):
        table = pq.read_table(hub_folder / "devtest" / f"{config}.parquet")
        pq.write_table(table.slice(0, 1000), folder / "devtest" / f"{config}.parquet")
    use_hub(folder)
    with pytest.raises(
        DataError, match=r"flores200/eng_Latn-deu_Latn: expected 1012 Hub rows in 'devtest', found 1000"
    ):
        load_examples(TASK, TASK.language("eng_Latn-deu_Latn"), "devtest", None)


def test_configs_whose_rows_are_not_parallel_are_refused(tmp_path: Path, hub_folder: Path, use_hub) -> None:
    folder = tmp_path / "shifted"
    (folder / "devtest").mkdir(parents=True)
    (folder / "README.md").write_text((hub_folder / "README.md").read_text())
    for config in ("eng_Latn", "deu_Latn", "cmn_Hans"):
        rows = pq.read_table(hub_folder / "devtest" / f"{config}.parquet").to_pylist()
        if config == "deu_Latn":
            rows = rows[1:] + rows[:1]  # the same sentences, one row off
        pq.write_table(pa.Table.from_pylist(rows), folder / "devtest" / f"{config}.parquet")
    use_hub(folder)
    with pytest.raises(DataError, match=r"not a flores200 record \(row 0: .* differ in 'id' \(0 vs 1\)"):
        load_examples(TASK, TASK.language("eng_Latn-deu_Latn"), "devtest", None)


def test_the_script_writes_what_its_docstring_says(hub_folder: Path) -> None:
    assert sorted(p.name for p in (hub_folder / "devtest").iterdir()) == [
        "cmn_Hans.parquet",
        "deu_Latn.parquet",
        "eng_Latn.parquet",
    ]
    (first,) = pq.read_table(hub_folder / "devtest" / "cmn_Hans.parquet").slice(0, 1).to_pylist()
    assert first["id"] == 0 and (first["iso_639_3"], first["iso_15924"], first["split"]) == ("cmn", "Hans", "devtest")
    assert first["url"].startswith("https://en.wiki") and first["domain"] in {"wikinews", "wikivoyage", "wikibooks"}


def test_alignment_reads_the_same_pairs_from_the_hub(data_dir: Path, hub_folder: Path, use_hub) -> None:
    """The alignment task pairs English with a language through FLORES-200's Hub path: the same items."""
    from harness.api.registry import get_task

    use_hub(hub_folder)
    alignment = get_task("alignment")
    chinese = alignment.language("zho_Hans")
    hub, info = load_examples(alignment, chinese, "devtest", None)
    local, _ = load_examples(alignment, chinese, "devtest", data_dir)
    assert [(e.id, e.source, e.target) for e in hub] == [(e.id, e.source, e.target) for e in local]
    assert [source["name"] for source in info.hub["sources"]] == ["eng_Latn", "cmn_Hans"]
