"""The typed records of a run: what ``results.json`` (one ``RunResult``) and ``samples.jsonl`` (one
``SampleRecord`` per line) hold. Written and read only by ``harness.records.io``; everything else gets these
objects from there."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.api.metric import MetricValue
from harness.backends.base import BackendInfo, GenerationParams

# 2: few-shot fields (shot_seed, shots_from, data.shot_pool); 3: lineage (display_name, study, recipe);
# 4: LIMIT samples (limit_mode, limit_seed, data.sample_ids), truncation and finish reasons (per sample and
# counted per language), the split of every sample. A schema 1-3 run with a LIMIT took the first N items.
SCHEMA_VERSION = 4
RESULTS_FILE = "results.json"
SAMPLES_FILE = "samples.jsonl"

SampleKey = tuple[str, str, str | None, str]  # task, variant, split (None before schema 4), language


@dataclass(frozen=True)
class DataInfo:
    """Where one language's examples came from: local files with their SHA-256, or a Hub dataset split."""

    source: str  # "local" or "hub"
    split: str
    files: dict[str, str] = field(default_factory=dict)  # path -> sha256
    hub: dict[str, Any] | None = None
    total_examples: int = 0
    language: str | None = None  # set on a few-shot pool: the language its shots are in
    shot_pool: DataInfo | None = None  # where this language's few-shot demonstrations came from
    sample_ids: list[str] | None = None  # the items a LIMIT selected, in file order (None: every item)


@dataclass(frozen=True)
class LanguageResult:
    code: str
    flores: str
    name: str
    n: int
    metrics: dict[str, MetricValue]
    data: DataInfo
    # Facts of the run that can move scores: samples whose prompt or context was cut from the left to fit the
    # model, and generations that ended at the token budget ("length") rather than a stop sequence or EOS.
    truncated: int = 0
    length_capped: int = 0


def setting_name(task: str, variant: str, split: str) -> str:
    """How results, warnings and reports name a task setting, as ``--tasks`` takes it: ``xnli:label@validation``."""
    return f"{task}:{variant}@{split}"


@dataclass(frozen=True)
class TaskResult:
    name: str
    version: int
    variant: str
    split: str
    shots: int
    shot_seed: int | None
    shots_from: str | None  # "same language" or the language the shots are in
    limit: int | None
    limit_mode: str | None  # with a LIMIT: "sample" (seeded stratified, harness/run/sampling.py) or "first"
    limit_seed: int | None  # with limit_mode "sample"
    limit_sampler: int | None  # with limit_mode "sample": harness.run.sampling.SAMPLER_VERSION
    metrics: list[str]  # display order; the first is the headline
    languages: dict[str, LanguageResult]
    skipped: dict[str, str] = field(default_factory=dict)  # language code -> reason
    notes: list[str] = field(default_factory=list)  # e.g. a metric left out and why

    @property
    def key(self) -> str:
        """``task:variant@split`` (``setting_name``)."""
        return setting_name(self.name, self.variant, self.split)


@dataclass(frozen=True)
class RunResult:
    schema_version: int
    run_id: str
    created_at: str  # ISO 8601, UTC; microseconds since 2026-11-29 (seconds before: they still sort first)
    xlh_version: str
    command: list[str]
    model: ModelInfo
    role: str | None
    parents: list[str]
    display_name: str | None  # the model's name in tables (a study's name for it, or --name)
    study: str | None  # the study the run was made for (``make eval STUDY=...``)
    recipe: Recipe | None  # how a merged model was made: a file or a string, with its SHA-256
    backend: BackendInfo
    generation: GenerationParams
    tasks: list[TaskResult]
    # Seconds per stage, request counts, and with workers each worker's share and the retried chunks.
    timings: dict[str, Any]


@dataclass(frozen=True)
class SampleRecord:
    """One scored example: what was asked, what came back, and how it scored."""

    task: str
    variant: str
    split: str
    language: str
    id: str
    requests: list[dict[str, Any]]
    responses: list[Any]  # a generation's text, or a choice request's scores
    extracted: Any
    gold: Any
    scores: dict[str, float]
    details: dict[str, Any] = field(default_factory=dict)
    truncated_tokens: int = 0  # prompt/context tokens cut from the left over all of the sample's requests
    finish_reasons: list[str] = field(default_factory=list)  # per generation request: stop, eos or length


@dataclass(frozen=True)
class ModelInfo:
    """What results record about a model: the name as given, revision, resolved folder and fingerprint."""

    name_or_path: str
    revision: str | None
    local_path: str | None
    fingerprint: str
    fingerprint_method: str
    files: dict[str, str] = field(default_factory=dict)
    adapter: str | None = None  # a LoRA adapter folder applied on top (vLLM ``--lora``)
    adapter_fingerprint: str | None = None  # fingerprint_folder of the adapter: part of the model's identity
    full_fingerprint: str | None = None  # ``--full-fingerprint``: every byte hashed (beside the sampled one)


@dataclass(frozen=True)
class Recipe:
    """How a model was made: a file (its path and the SHA-256 of its bytes) or a string (and its SHA-256)."""

    kind: str  # "file" or "text"
    source: str  # the path as given, or the text itself
    sha256: str

    @classmethod
    def from_text(cls, text: str) -> Recipe:
        return cls("text", text, hashlib.sha256(text.encode("utf-8")).hexdigest())

    @classmethod
    def from_file(cls, path: Path) -> Recipe:
        return cls("file", str(path), hashlib.sha256(path.read_bytes()).hexdigest())
