"""The one definition of "the same model" and "the same experiment" (``harness.records.comparability``), on the
stored runs of tests/fixtures and on small records changed in the test."""

from __future__ import annotations

import dataclasses
from functools import cache

import pytest

from harness.records.comparability import (
    ModelIdentity,
    Setting,
    compare,
    data_differences,
    data_key,
    distinct_names,
    latest,
    metric_signature,
    run_name,
    sampling_of,
    setting_differences,
)
from harness.records.io import read_run
from harness.records.schema import DataInfo, RunResult, TaskResult
from tests.fixtures import FIXTURE_RUNS, REGRESSED_LANGUAGE, SIB_LANGUAGES

# Runs of the base's weights that are another model (identity) or another experiment (setting).
OTHER_MODELS = ("base_lora", "base_chat", "base_openai", "other_base")
OTHER_SETTINGS = ("base_sampled", "base_openai", "base_limit", "base_schema3")


@cache
def run(short: str) -> RunResult:
    return read_run(FIXTURE_RUNS[short])


def task(short: str, name: str = "sib200") -> TaskResult:
    return next(entry for entry in run(short).tasks if entry.name == name)


def setting(short: str, name: str = "sib200") -> Setting:
    return Setting.of(run(short), task(short, name))


# -- identity ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("short", OTHER_MODELS)
def test_lora_chat_served_and_same_folder_name_runs_are_other_models(short: str) -> None:
    assert ModelIdentity.of(run(short)) != ModelIdentity.of(run("base"))
    assert run_name(run(short)) == "base"  # the same name in tables, whatever the identity


def test_what_tells_each_other_model_apart() -> None:
    base = ModelIdentity.of(run("base"))
    assert ModelIdentity.of(run("base_lora")) == dataclasses.replace(
        base, adapter=run("base_lora").model.adapter_fingerprint
    )
    chat = ModelIdentity.of(run("base_chat"))
    assert chat == dataclasses.replace(base, chat_template=run("base_chat").backend.options["chat_template_sha256"])
    assert ModelIdentity.of(run("base_openai")) == dataclasses.replace(base, served_model="base")
    assert ModelIdentity.of(run("other_base")).weights != base.weights
    assert run("other_base").model.name_or_path.rsplit("/", 1)[-1] == run("base").model.name_or_path.rsplit("/", 1)[-1]


def test_only_the_weights_alone_are_the_plain_model() -> None:
    assert ModelIdentity.of(run("base")).plain and ModelIdentity.of(run("other_base")).plain
    assert not any(ModelIdentity.of(run(short)).plain for short in ("base_lora", "base_chat", "base_openai"))


@pytest.mark.parametrize("short", ["base_full_fp", "base_sampled", "base_limit", "base_schema3"])
def test_the_full_fingerprint_and_other_settings_keep_the_model(short: str) -> None:
    assert ModelIdentity.of(run(short)) == ModelIdentity.of(run("base"))


def test_full_fingerprint_is_recorded_beside_the_sampled_one() -> None:
    full, plain = run("base_full_fp").model, run("base").model
    assert full.full_fingerprint and plain.full_fingerprint is None
    assert (full.fingerprint, full.fingerprint_method) == (plain.fingerprint, plain.fingerprint_method)


def test_a_chat_template_counts_only_when_chat_is_on() -> None:
    base = run("base")
    options = {**base.backend.options, "chat": False, "chat_template_sha256": "ab" * 32}
    unused = dataclasses.replace(base, backend=dataclasses.replace(base.backend, options=options))
    assert ModelIdentity.of(unused) == ModelIdentity.of(base)


def test_short_identities() -> None:
    base = ModelIdentity.of(run("base"))
    assert base.short() == base.weights[:7]
    assert ModelIdentity.of(run("base_lora")).short().startswith(f"{base.weights[:7]} +lora ")
    assert ModelIdentity.of(run("base_openai")).short() == f"{base.weights[:7]} served as base"
    assert " chat " in ModelIdentity.of(run("base_chat")).short()


# -- setting -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("short", ["base_lora", "base_chat", "other_base", "base_full_fp", "merged"])
def test_other_models_can_share_the_setting(short: str) -> None:
    assert setting(short) == setting("base")


@pytest.mark.parametrize(
    ("short", "expected"),
    [
        ("base_sampled", ["temperature: 0.0 vs 0.7", "seed: None vs 1234"]),
        ("base_openai", ["dtype: bfloat16 vs server"]),
        ("base_limit", ["sampling: all vs seed 1234"]),
        ("base_schema3", ["sampling: all vs first"]),
    ],
)
def test_other_settings_and_how_they_differ(short: str, expected: list[str]) -> None:
    assert setting_differences(setting("base"), setting(short)) == expected
    assert not compare(run("base"), task("base"), run(short), task(short)).comparable


def test_a_sampled_setting_is_labelled_as_such() -> None:
    assert setting("base").label() == "sib200 v1 prompt_1 test"
    assert setting("base_sampled").label() == "sib200 v1 prompt_1 test sampled (temperature 0.7, seed 1234)"
    assert setting("base_limit").label() == "sib200 v1 prompt_1 test LIMIT seed 1234"
    assert setting("base_schema3", "flores200").label() == "flores200 v2 default devtest LIMIT first"


def _limited(
    limit: int | None, mode: str | None = "sample", seed: int | None = 1234, sampler: int | None = 1
) -> Setting:
    entry = dataclasses.replace(
        task("base_limit"), limit=limit, limit_mode=mode, limit_seed=seed, limit_sampler=sampler
    )
    return Setting.of(run("base_limit"), entry)


def test_a_seeded_limit_of_another_size_is_the_same_setting() -> None:
    assert _limited(20) == _limited(50) == _limited(6)
    assert _limited(20) != _limited(None)
    assert _limited(20) != _limited(20, seed=1)
    assert _limited(20) != _limited(20, mode="first")
    assert _limited(20) != _limited(20, sampler=2)
    assert _limited(20, mode="first") == _limited(50, mode="first", seed=None, sampler=None)


def test_sampling_names() -> None:
    assert sampling_of(None, "sample", 1234) == "all"
    assert sampling_of(50, "first", None) == "first"
    assert sampling_of(50, "sample", 1234, 1) == sampling_of(50, "sample", 1234, None) == "seed 1234"
    assert sampling_of(50, "sample", 1234, 2) == "seed 1234 (sampler v2)"


def test_metric_signatures_are_compared_without_the_item_count() -> None:
    full, limited = task("base").languages["deu_Latn"], task("base_limit").languages["deu_Latn"]
    assert full.metrics["macro_f1"].signature != limited.metrics["macro_f1"].signature  # n:12 vs n:6, mid-string
    assert setting("base").metrics == setting("base_limit").metrics
    assert "|n:" not in repr(setting("base", "flores200").metrics)
    assert (
        metric_signature("acc|agg:mean|stderr:sample_std_ddof1/sqrt(n)|n:12")
        == "acc|agg:mean|stderr:sample_std_ddof1/sqrt(n)"
    )
    assert metric_signature("f1|n:12|sklearn:1.9.1") == "f1|sklearn:1.9.1"
    assert metric_signature("x|nrefs:1|n:7") == "x|nrefs:1"


def test_another_metric_implementation_is_another_setting() -> None:
    base = run("base")
    entry = task("base", "flores200")
    languages = {}
    for code, language in entry.languages.items():
        value = language.metrics["chrf++"]
        newer = dataclasses.replace(value, signature=value.signature.replace("version:2.6.0", "version:2.7.0"))
        languages[code] = dataclasses.replace(language, metrics={**language.metrics, "chrf++": newer})
    changed = dataclasses.replace(entry, languages=languages)
    (line,) = setting_differences(Setting.of(base, entry), Setting.of(base, changed))
    assert line.startswith("metric chrf++: chrF2++|") and "version:2.7.0" in line


# -- data ----------------------------------------------------------------------------------------------------
def _with_data(entry: TaskResult, code: str, **changes: object) -> TaskResult:
    language = entry.languages[code]
    data = dataclasses.replace(language.data, **changes)  # type: ignore[arg-type]
    return dataclasses.replace(entry, languages={**entry.languages, code: dataclasses.replace(language, data=data)})


def test_data_differences_are_listed_per_language() -> None:
    merged = task("merged")
    files = {path: "00" * 32 for path in merged.languages["deu_Latn"].data.files}
    other = _with_data(_with_data(merged, "deu_Latn", files=files), "zho_Hans", total_examples=204)
    result = compare(run("base"), task("base"), run("merged"), other)
    assert result.comparable
    assert result.languages == ["eng_Latn", "fra_Latn", "swh_Latn"]
    assert result.data_differences == ["deu_Latn: data files (SHA-256) differ", "zho_Hans: item count differ"]


def test_the_same_files_elsewhere_are_the_same_data_and_a_shot_pool_is_part_of_it() -> None:
    data = task("base").languages["deu_Latn"].data
    moved = dataclasses.replace(
        data, files={path.replace("../shared/data", "/mnt/data"): h for path, h in data.files.items()}
    )
    assert data_key(moved) == data_key(data)
    assert data_key(dataclasses.replace(data, sample_ids=["14"])) == data_key(data)  # which items: the setting's
    pool = DataInfo("local", "train", {"train.tsv": "ab" * 32}, total_examples=701, language="eng_Latn")
    with_pool = dataclasses.replace(data, shot_pool=pool)
    assert data_differences("deu_Latn", data, with_pool) == ["deu_Latn: few-shot pool data differ"]


def test_a_rerun_of_the_merge_compares_on_every_language() -> None:
    for name in ("sib200", "flores200"):
        result = compare(run("merged"), task("merged", name), run("merged_rerun"), task("merged_rerun", name))
        assert result.comparable and not result.data_differences
        assert len(result.languages) == len(task("merged", name).languages)
    assert f"eng_Latn-{REGRESSED_LANGUAGE}" in result.languages


# -- which run -----------------------------------------------------------------------------------------------
def _latest(shorts: list[str]) -> dict[tuple[ModelIdentity, Setting], str]:
    chosen = latest((short, run(short)) for short in shorts)
    return {key: short for key, (short, _, _) in chosen.items()}


def test_no_other_model_or_setting_replaces_the_base_whatever_its_name() -> None:
    shorts = ["base", *OTHER_MODELS, *OTHER_SETTINGS]
    assert all(run(short).created_at > run("base").created_at for short in shorts[1:4])
    chosen = _latest(shorts)
    base = ModelIdentity.of(run("base"))
    assert chosen[(base, setting("base"))] == "base"
    assert chosen[(base, setting("base", "flores200"))] == "base"
    for short in OTHER_MODELS:
        assert chosen[(ModelIdentity.of(run(short)), setting(short))] == short
    assert _latest(shorts[::-1]) == chosen  # whatever order the runs come in


def test_the_newest_run_of_a_model_and_setting_wins() -> None:
    chosen = _latest(list(FIXTURE_RUNS))
    base, merged = ModelIdentity.of(run("base")), ModelIdentity.of(run("merged"))
    assert chosen[(base, setting("base"))] == "base_full_fp"  # the same model, fingerprinted in full
    assert chosen[(base, setting("base", "flores200"))] == "base"  # base_full_fp ran sib200 only
    assert chosen[(merged, setting("merged"))] == "merged_rerun"
    assert chosen[(base, setting("base_limit"))] == "base_limit"
    assert len(chosen) == len(
        {(ModelIdentity.of(run(s)), Setting.of(run(s), t)) for s in FIXTURE_RUNS for t in run(s).tasks}
    )


def test_a_newer_smaller_limit_never_hides_a_larger_one_of_the_same_setting() -> None:
    """A quick seeded LIMIT 3 check after a LIMIT 6 run: both are one setting (the 3 items are the 6's first), and
    the LIMIT 6 run keeps standing for it, whichever is newer."""
    older = run("base_limit")
    newer = dataclasses.replace(older, run_id="newer", created_at="2099-01-01T00:00:00+00:00",
                                tasks=[dataclasses.replace(entry, limit=3) for entry in older.tasks])  # fmt: skip
    for order in ([("older", older), ("newer", newer)], [("newer", newer), ("older", older)]):
        chosen = latest(order)
        assert {handle for handle, _, _ in chosen.values()} == {"older"}
    quick_then_full = dataclasses.replace(newer, run_id="newest", created_at="2099-01-02T00:00:00+00:00")
    chosen = latest([("older", older), ("newest", quick_then_full)])
    assert {handle for handle, _, _ in chosen.values()} == {"older"}


# -- names ---------------------------------------------------------------------------------------------------
def test_distinct_names_tell_models_of_one_name_apart() -> None:
    identities = {short: ModelIdentity.of(run(short)) for short in ("base", "base_lora", "other_base", "merged")}
    names = distinct_names({identity: run_name(run(short)) for short, identity in identities.items()})
    assert names[identities["merged"]] == "merged"
    shown = {names[identities[short]] for short in ("base", "base_lora", "other_base")}
    assert len(shown) == 3
    assert names[identities["base"]] == f"base [{identities['base'].short()}]"
    assert names[identities["base_lora"]].startswith("base [") and "+lora" in names[identities["base_lora"]]


def test_distinct_names_leave_unique_names_alone() -> None:
    identities = [ModelIdentity.of(run(short)) for short in ("math", "lang", "merged")]
    assert distinct_names(dict(zip(identities, ["math", "lang", "merged"], strict=True))) == dict(
        zip(identities, ["math", "lang", "merged"], strict=True)
    )


@pytest.mark.parametrize(
    ("display_name", "name_or_path", "expected"),
    [
        ("merged", "/data/ckpt/merged", "merged"),
        (None, "/data/other/base/", "base"),
        (None, "./models/tiny", "tiny"),
        (None, "google/gemma-3-270m", "google/gemma-3-270m"),
        (None, "gemma-3-270m", "gemma-3-270m"),
    ],
)
def test_run_names(display_name: str | None, name_or_path: str, expected: str) -> None:
    base = run("base")
    named = dataclasses.replace(
        base, display_name=display_name, model=dataclasses.replace(base.model, name_or_path=name_or_path)
    )
    assert run_name(named) == expected


def test_every_fixture_language_is_in_the_study_runs() -> None:
    for short in ("base", "math", "lang", "merged", "merged_rerun"):
        assert tuple(task(short).languages) == SIB_LANGUAGES
