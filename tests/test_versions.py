"""Results record which scoring code produced them: a task's VERSION (and the backends' ENCODING_VERSION) must
change whenever its prompt, extraction or metric code changes, or old and new numbers would share a column
(and old cached answers would answer new requests).

``tests/versions.json`` stores, per task and for the request encoding, the version and a SHA-256 of the
source code it depends on: the task module and the modules of the plugin API, the task kit and the metrics it
imports, directly or through another (metrics, answer parsers, language names, the few-shot code of
``harness.api.task``), less the plumbing that cannot change a number
(``IGNORED``); the request-encoding modules under ``ENCODING_VERSION``; the LIMIT sampler under
``SAMPLER_VERSION``. When code changes without a
version bump this test fails; after a bump, record the new state with::

    .venv/bin/python -m tests.test_versions --update

A change that leaves every prompt, extraction and metric value as it was (a refactor, a moved constant) is
re-recorded the same way without a bump; the commit says why no number can change.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import json
import sys
from pathlib import Path

from harness.api.registry import all_tasks

REPO_ROOT = Path(__file__).resolve().parents[1]
RECORD = Path(__file__).with_name("versions.json")
# Modules whose changes cannot change a prompt, an extracted answer or a metric value.
IGNORED = frozenset({"harness.errors", "harness.data", "harness.api.registry"})
# The request-encoding code behind harness.backends.ENCODING_VERSION.
ENCODING_MODULES = (
    "harness.api.requests",
    "harness.backends.tokenization",
    "harness.backends.stops",
    "harness.backends.scoring",
    "harness.backends.chat",
    "harness.backends.batching",
    "harness.backends.hf",
    "harness.backends.vllm",
    "harness.backends.vllm_walks",
    "harness.backends.vllm_forcing",
    "harness.backends.openai",
)

# How hidden states become sentence vectors: part of what a task that reads them (alignment) computes, though no
# task module imports it (the backend runs it).
HIDDEN_STATE_MODULES = ("harness.backends.hidden_states", "harness.backends.pooling")


def _harness_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("harness"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("harness")}
    return found


def _source_digest(modules: list[str]) -> str:
    digest = hashlib.sha256()
    for name in sorted(set(modules)):
        path = Path(importlib.import_module(name).__file__ or "")
        digest.update(f"{path.relative_to(REPO_ROOT)}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _dependencies(path: Path) -> set[str]:
    """The harness modules a task's scoring can depend on: its imports and theirs, transitively, within the
    plugin API and the metrics (a task on the multiple-choice base depends on ``choice_sample_score`` through
    it); the rest of harness (backends, records, the runner) cannot change what a task computes."""
    found: set[str] = set()
    todo = [m for m in _harness_imports(path)]
    while todo:
        module = todo.pop()
        if module in found or module in IGNORED or module == "harness":
            continue
        if not module.startswith(("harness.api", "harness.kit", "harness.metrics", "harness.seeds")):
            continue
        found.add(module)
        todo.extend(_harness_imports(Path(importlib.import_module(module).__file__ or "")))
    return found


def current() -> dict[str, dict[str, object]]:
    state: dict[str, dict[str, object]] = {}
    for name, task in sorted(all_tasks().items()):
        module = type(task).__module__
        path = Path(importlib.import_module(module).__file__ or "")
        depends = [module, *_dependencies(path), *(HIDDEN_STATE_MODULES if task.reads_hidden_states else ())]
        state[f"task:{name}"] = {"version": task.version, "sources": _source_digest(depends)}
    from harness.backends import ENCODING_VERSION

    state["encoding"] = {"version": ENCODING_VERSION, "sources": _source_digest(list(ENCODING_MODULES))}
    from harness.run.sampling import SAMPLER_VERSION

    state["sampler"] = {"version": SAMPLER_VERSION, "sources": _source_digest(["harness.run.sampling"])}
    return state


def test_code_that_changes_numbers_changes_its_version() -> None:
    recorded = json.loads(RECORD.read_text(encoding="utf-8"))
    problems = []
    for name, now in current().items():
        then = recorded.get(name)
        if then is None:
            problems.append(f"{name}: not recorded")
        elif now["version"] == then["version"] and now["sources"] != then["sources"]:
            problems.append(f"{name}: its code changed but its version is still {now['version']}: bump it")
        elif now["version"] != then["version"]:
            problems.append(f"{name}: version {then['version']} -> {now['version']}: record the new state")
    assert not problems, "; ".join(problems) + " (then: .venv/bin/python -m tests.test_versions --update)"


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit("usage: python -m tests.test_versions --update")
    RECORD.write_text(json.dumps(current(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {RECORD}")
