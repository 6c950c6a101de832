"""Hub loads that join several sources (harness/run/examples.py): sources of one length, every source recorded
(one source keeps the older record shape), errors that say what to do (gated datasets, loading scripts), and a
run without DATA_DIR that reads FLORES from a folder laid out as the Hub dataset."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from harness.api.registry import get_task
from harness.api.task import HubSource
from harness.errors import ConfigError, DataError
from harness.records.comparability import data_differences, data_key
from harness.records.schema import DataInfo
from harness.run.examples import load_examples
from harness.run.runner import RunConfig, run
from tasks._flores_hub import HUB_ENV

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "make_hub_flores.py"
FLORES = get_task("flores200")
EN_DE = FLORES.language("eng_Latn-deu_Latn")


@pytest.fixture(scope="module")
def hub_folder(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = importlib.util.spec_from_file_location("make_hub_flores", SCRIPT)
    assert spec and spec.loader
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script.write_hub_folder(data_dir, tmp_path_factory.mktemp("flores-hub"), ["eng_Latn", "deu_Latn"])


@pytest.fixture(autouse=True)
def datasets_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "datasets-cache"))


def test_sources_of_one_item_must_have_the_same_length(
    hub_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "uneven"
    (folder / "devtest").mkdir(parents=True)
    (folder / "README.md").write_text((hub_folder / "README.md").read_text())
    for config, rows in (("eng_Latn", 1012), ("deu_Latn", 1011)):
        table = pq.read_table(hub_folder / "devtest" / f"{config}.parquet")
        pq.write_table(table.slice(0, rows), folder / "devtest" / f"{config}.parquet")
    monkeypatch.setenv(HUB_ENV, str(folder))
    with pytest.raises(
        DataError, match=r"eng_Latn, split devtest\): 1012 rows, .*deu_Latn, split devtest\): 1011 rows"
    ):
        load_examples(FLORES, EN_DE, "devtest", None)


def test_every_source_is_recorded_and_keys_the_data(hub_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HUB_ENV, str(hub_folder))
    _, info = load_examples(FLORES, EN_DE, "devtest", None)
    _, back = load_examples(FLORES, FLORES.language("deu_Latn-eng_Latn"), "devtest", None)
    assert info.hub is not None and list(info.hub) == ["sources"]
    english, german = info.hub["sources"]
    assert (english["path"], english["name"], english["split"], english["revision"]) == (
        str(hub_folder), "eng_Latn", "devtest", None
    )  # fmt: skip
    assert german["name"] == "deu_Latn" and english["fingerprint"] and german["fingerprint"]
    assert data_key(info) != data_key(back)  # the same two configs, in the other order
    assert data_differences("deu_Latn", info, back) == ["deu_Latn: Hub dataset differ"]
    assert data_key(info) == data_key(load_examples(FLORES, EN_DE, "devtest", None)[1])


def test_one_source_keeps_the_record_and_key_of_older_results() -> None:
    source = {"path": "Davlan/sib200", "name": "deu_Latn", "split": "test", "revision": None, "fingerprint": "f"}
    info = DataInfo(source="hub", split="test", hub=source, total_examples=204)
    old_parts = {"files": [], "hub": list(source.values()), "split": "test", "total": 204, "shots": None}
    old_key = hashlib.sha256(json.dumps(old_parts, sort_keys=True).encode()).hexdigest()[:16]
    assert data_key(info) == old_key


def test_a_single_source_task_records_one_source(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sib = get_task("sib200")
    german = sib.language("deu_Latn")
    folder = tmp_path / "hub-sib"
    folder.mkdir()
    rows = [{"index_id": int(e.id), "category": _label(e.label), "text": e.text}
            for e in sib.load_local(data_dir, german, "test")]  # fmt: skip
    (folder / "test.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    monkeypatch.setattr(type(sib), "hub_source", lambda self, language, split: HubSource(str(folder), None, split))
    examples, info = load_examples(sib, german, "test", None)
    assert examples == sib.load_local(data_dir, german, "test")
    assert info.hub is not None and set(info.hub) == {"path", "name", "split", "revision", "fingerprint"}


def _label(index: int) -> str:
    from tasks.sib200 import LABELS

    return LABELS[index]


@pytest.mark.parametrize(
    "error, expected, message",
    [
        ("Dataset 'openlanguagedata/flores_plus' is a gated dataset on the Hub. You must be authenticated to access "
         "it.", ConfigError,
         r"flores200/eng_Latn-deu_Latn: Hub dataset openlanguagedata/flores_plus \(eng_Latn, split devtest\) is gated: "
         r"accept its terms on https://huggingface.co/datasets/openlanguagedata/flores_plus .*huggingface-cli login"
         r".*HF_TOKEN"),
        ("Dataset 'openlanguagedata/flores_plus' doesn't exist on the Hub or cannot be accessed.", DataError,
         r"flores_plus \(eng_Latn, split devtest\): not found"),
        ("Dataset scripts are no longer supported, but found flores.py", ConfigError,
         r"needs a loading script, which datasets \S+ cannot run"),
    ],
    ids=["gated", "missing", "loading script"],
)  # fmt: skip
def test_hub_failures_say_what_to_do(monkeypatch: pytest.MonkeyPatch, error: str, expected: type, message: str) -> None:
    import datasets
    from datasets.exceptions import DatasetNotFoundError

    def refuse(*args: object, **kwargs: object) -> None:
        raise (RuntimeError if "scripts" in error else DatasetNotFoundError)(error)

    monkeypatch.delenv(HUB_ENV, raising=False)
    monkeypatch.setattr(datasets, "load_dataset", refuse)
    with pytest.raises(expected, match=message):
        load_examples(FLORES, EN_DE, "devtest", None)


def test_a_run_without_data_dir_reads_flores_from_the_hub_layout(
    tiny_model: Path, data_dir: Path, hub_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tasks.flores200

    for name, value in (("BUDGET_FLOOR", 1), ("BUDGET_MARGIN", 0.0), ("BUDGET_SLACK", 4), ("BUDGET_STEP", 1)):
        monkeypatch.setattr(tasks.flores200, name, value)  # 4-token translations: this tests the data, not the model
    monkeypatch.setenv(HUB_ENV, str(hub_folder))
    config = RunConfig(model=str(tiny_model), tasks=("flores200",), languages=("eng_Latn-deu_Latn",), limit=2,
                       data_dir=None, out_dir=tmp_path / "hub", backend_options={"progress": False})  # fmt: skip
    hub_out = run(config).folder
    local_out = run(RunConfig(**{**config.__dict__, "data_dir": data_dir, "out_dir": tmp_path / "local"})).folder
    (hub,), (local,) = (
        json.loads((f / "results.json").read_text(encoding="utf-8"))["tasks"] for f in (hub_out, local_out)
    )
    hub_data, local_data = (task["languages"]["eng_Latn-deu_Latn"]["data"] for task in (hub, local))
    assert hub_data["source"] == "hub" and [s["name"] for s in hub_data["hub"]["sources"]] == ["eng_Latn", "deu_Latn"]
    assert {s["path"] for s in hub_data["hub"]["sources"]} == {str(hub_folder)}
    assert hub_data["sample_ids"] == local_data["sample_ids"] and len(hub_data["sample_ids"]) == 2  # they pair
    hub_samples, local_samples = ([json.loads(line) for line in (f / "samples.jsonl").read_text().splitlines()]
                                  for f in (hub_out, local_out))  # fmt: skip
    assert [s["requests"] for s in hub_samples] == [s["requests"] for s in local_samples]  # the same prompts
    assert hub["languages"]["eng_Latn-deu_Latn"]["metrics"] == local["languages"]["eng_Latn-deu_Latn"]["metrics"]
