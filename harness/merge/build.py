"""Build a merged model from a recipe: check the parents, run mergekit into a staging folder, record where the
result came from (``xlh-recipe.json``) and move it into place. Nothing is left half-written: a failure removes
the staging folder, and an existing output folder is never touched."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import harness
from harness.errors import ConfigError
from harness.merge.mergekit_config import mergekit_config, swapped_layers
from harness.merge.recipe import MergeRecipe
from harness.records.merge_provenance import MergedParent, MergeProvenance, read_provenance, write_provenance

# config.json fields every parent must share: tensors are combined by name and shape.
SHAPE_FIELDS = (
    "model_type",
    "num_hidden_layers",
    "hidden_size",
    "intermediate_size",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "vocab_size",
    "tie_word_embeddings",
)


def resolve_parents(recipe: MergeRecipe, where: str, study_models: Mapping[str, str] | None = None) -> dict[str, Path]:
    """Each parent reference -> its model folder: a model of the study by name, a short name (``make models``)
    or a folder. Checked here: mergekit would take a missing path for a Hub id and try the network."""
    from harness.run import model_store

    found = {}
    for parent in recipe.parents:
        reference = parent.reference
        given = (study_models or {}).get(reference) or model_store.resolve(reference)
        folder = Path(given)
        if not (folder / "config.json").is_file():
            hint = f" (study model {reference!r} -> {given})" if study_models and reference in study_models else ""
            raise ConfigError(
                f"recipe {where}: parent {reference!r}{hint} is not a model folder with a config.json; a Hub model "
                "must be downloaded first (huggingface-cli download ... --local-dir DIR)"
            )
        found[reference] = folder
    return found


def check_parents(recipe: MergeRecipe, folders: dict[str, Path], where: str) -> tuple[int, str]:
    """The parents' shared number of layers and dtype, after checking their shapes agree and the layer swap's
    ranges fit."""
    configs = {reference: _config(folder) for reference, folder in folders.items()}
    first_reference, first = next(iter(configs.items()))
    for reference, config in configs.items():
        for field in SHAPE_FIELDS:
            if config.get(field) != first.get(field):
                raise ConfigError(
                    f"recipe {where}: parents differ in {field}: {first_reference} has {first.get(field)!r}, "
                    f"{reference} has {config.get(field)!r}; only models of one architecture and shape merge"
                )
    layers = int(first["num_hidden_layers"])
    if recipe.method == "layer_swap":
        p = recipe.parameters
        needed = swapped_layers(p["bottom"], p["top"], p["transition"])
        if needed > layers:
            raise ConfigError(
                f"recipe {where}: bottom {p['bottom']}, top {p['top']} and transition {p['transition']} at each "
                f"swapped block take {needed} layers, but the parents have {layers}"
            )
    dtype = str(first.get("dtype") or first.get("torch_dtype") or "float32")
    return layers, dtype


def is_current(recipe: MergeRecipe, out: Path, where: str, study_models: Mapping[str, str] | None = None) -> bool:
    """Whether ``out`` holds this recipe built from its parents as they are now (same recipe hash, same parent
    fingerprints). A folder that ``xlh merge`` did not build is an error: it is never replaced."""
    from harness.run.model_info import fingerprint_folder

    if not out.exists():
        return False
    provenance = read_provenance(out)
    if provenance is None:
        raise ConfigError(f"{out} exists but was not built by xlh merge (no xlh-recipe.json): remove it or move it")
    if provenance.recipe_sha256 != recipe.sha256:
        return False
    folders = resolve_parents(recipe, where, study_models)
    recorded = {(p.reference, p.part): p.fingerprint for p in provenance.parents}
    return all(
        recorded.get((p.reference, p.part)) == fingerprint_folder(folders[p.reference])[0] for p in recipe.parents
    )


def build_merge(
    recipe: MergeRecipe,
    out: Path,
    where: str,
    study_models: Mapping[str, str] | None = None,
    say: Callable[[str], None] = print,
    replace: bool = False,
) -> Path:
    """Build ``recipe`` into ``out`` and return it. ``out`` must not exist, unless ``replace`` (a stale merge
    that ``xlh merge`` built, swapped for the new one only once that is complete)."""
    if out.exists() and not (replace and read_provenance(out) is not None):
        raise ConfigError(f"output folder {out} exists: remove it or choose another --out")
    folders = resolve_parents(recipe, where, study_models)
    layers, dtype = check_parents(recipe, folders, where)
    paths = {reference: str(folder) for reference, folder in folders.items()}
    config = mergekit_config(recipe, paths, layers, dtype)
    staging = out.parent / f".{out.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.parent.mkdir(parents=True, exist_ok=True)
    say(f"merging {recipe.name} ({recipe.method}) into {out}")
    try:
        _run_mergekit(config, staging)
        write_provenance(staging, _provenance(recipe, folders, config))
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def _run_mergekit(config: dict[str, Any], out: Path) -> None:
    try:
        from mergekit.config import MergeConfiguration
        from mergekit.merge import run_merge
        from mergekit.options import MergeOptions
    except ImportError as error:
        raise ConfigError("merging needs mergekit: pip install 'xlh[merge]' (make install installs it)") from error
    from mergekit.io.tasks import LoaderCache

    options = MergeOptions(copy_tokenizer=True, quiet=True, write_model_card=False)
    # mergekit keeps every model it opened in a process-wide cache, keyed by path: a parent whose files changed
    # since (a further-trained expert, a rebuilt merge) would be read as it was. Each merge opens its own.
    LoaderCache.loaders.clear()
    try:
        run_merge(MergeConfiguration.model_validate(config), str(out), options=options)
    finally:
        LoaderCache().flush_all()
        LoaderCache.loaders.clear()


def _provenance(recipe: MergeRecipe, folders: dict[str, Path], config: dict[str, Any]) -> MergeProvenance:
    from harness.run.model_info import fingerprint_folder

    parents = tuple(
        MergedParent(
            p.reference, str(folders[p.reference].resolve()), p.part, fingerprint_folder(folders[p.reference])[0]
        )
        for p in recipe.parents
    )
    return MergeProvenance(
        name=recipe.name,
        method=recipe.method,
        parameters=recipe.parameters,
        recipe=recipe.content,
        recipe_sha256=recipe.sha256,
        parents=parents,
        mergekit_version=metadata.version("mergekit"),
        mergekit_config=config,
        xlh_version=harness.__version__,
    )


def _config(folder: Path) -> dict[str, Any]:
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    return config.get("text_config", config) if "num_hidden_layers" not in config else config


def ensure_merge(
    recipe: MergeRecipe, out: Path, where: str, study_models: Mapping[str, str], say: Callable[[str], None] = print
) -> bool:
    """Build ``out`` unless it is current (``is_current``); True when it was built."""
    if is_current(recipe, out, where, study_models):
        say(f"merge {recipe.name}: {out} is up to date")
        return False
    build_merge(recipe, out, where, study_models, say, replace=True)
    return True
