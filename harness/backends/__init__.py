"""Backends: a registry from name to a lazily imported class, so optional engines cost nothing until used."""

from __future__ import annotations

import importlib
from typing import Any

from harness.backends.base import Backend, BackendInfo, GenerationParams
from harness.errors import ConfigError

# name -> "module:Class"; aliases point at the same class.
BACKENDS: dict[str, str] = {
    "hf": "harness.backends.hf:TransformersBackend",
    "transformers": "harness.backends.hf:TransformersBackend",
}


def create_backend(name: str, model: str, generation: GenerationParams, **options: Any) -> Backend:
    """Instantiate the backend ``name`` for ``model``; unknown names list the valid ones."""
    if name not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r}; valid: {', '.join(sorted(BACKENDS))}")
    module_name, class_name = BACKENDS[name].split(":")
    backend_class = getattr(importlib.import_module(module_name), class_name)
    return backend_class(model, generation=generation, **options)


__all__ = ["BACKENDS", "Backend", "BackendInfo", "GenerationParams", "create_backend"]
