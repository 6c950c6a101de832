import shutil
from pathlib import Path

from safetensors.torch import load_file, save_file

from harness.run.model_info import describe_model, fingerprint_folder


def test_identical_copies_share_a_fingerprint(tiny_model: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(tiny_model, copy)
    assert describe_model(str(copy)).fingerprint == describe_model(str(tiny_model)).fingerprint


def test_same_config_different_weights_differ(tiny_model: Path, tmp_path: Path) -> None:
    merged = tmp_path / "merged"
    shutil.copytree(tiny_model, merged)
    weights = load_file(merged / "model.safetensors")
    name = sorted(weights)[len(weights) // 2]
    weights[name] = weights[name] * 0.5  # a "merge": same shapes, same header, other values
    save_file(weights, merged / "model.safetensors", metadata={"format": "pt"})
    base, other = fingerprint_folder(tiny_model), fingerprint_folder(merged)
    assert base[1]["config.json"] == other[1]["config.json"]
    assert base[0] != other[0]
    assert fingerprint_folder(tiny_model, full=True)[0] != fingerprint_folder(merged, full=True)[0]


def test_tokenizer_change_changes_the_fingerprint(tiny_model: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(tiny_model, other)
    config = other / "tokenizer_config.json"
    config.write_text(config.read_text().replace("}", ', "model_max_length": 77}', 1))
    assert describe_model(str(other)).fingerprint != describe_model(str(tiny_model)).fingerprint


def test_description_records_files_and_method(tiny_model: Path) -> None:
    info = describe_model(str(tiny_model))
    assert {"config.json", "tokenizer.json", "model.safetensors"} <= set(info.files)
    assert info.local_path == str(tiny_model.resolve())
    assert "safetensors header" in info.fingerprint_method
