"""Task discovery: every module of the ``tasks`` package, then third-party plugins.

A plugin module exposes ``TASKS``, a tuple of ``Task`` instances. Third-party packages register a module
(or a ``Task``, or a tuple of them) under the entry-point group ``xlh.tasks``. Names must be unique:
a duplicate is an error, never a silent overwrite.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from functools import lru_cache
from importlib.metadata import entry_points
from types import ModuleType

from harness.api.task import Task
from harness.errors import ConfigError

ENTRY_POINT_GROUP = "xlh.tasks"
BUILTIN_PACKAGE = "tasks"


def _tasks_of(obj: object, origin: str) -> list[Task]:
    if isinstance(obj, Task):
        return [obj]
    if isinstance(obj, ModuleType):
        if not hasattr(obj, "TASKS"):
            return []
        obj = obj.TASKS
    if isinstance(obj, Iterable):
        found = list(obj)
        for item in found:
            if not isinstance(item, Task):
                raise TypeError(f"{origin}: TASKS holds {item!r}, which is not a harness.api.task.Task")
        return found
    raise TypeError(f"{origin}: expected a Task, a tuple of Tasks or a module with TASKS, got {obj!r}")


def _builtin_tasks() -> Iterable[tuple[str, Task]]:
    package = importlib.import_module(BUILTIN_PACKAGE)
    for module_info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if module_info.name.startswith("_"):
            continue
        module_name = f"{BUILTIN_PACKAGE}.{module_info.name}"
        for task in _tasks_of(importlib.import_module(module_name), module_name):
            yield module_name, task


def _plugin_tasks() -> Iterable[tuple[str, Task]]:
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        origin = f"entry point {entry_point.name} = {entry_point.value}"
        for task in _tasks_of(entry_point.load(), origin):
            yield origin, task


def build_registry(sources: Iterable[tuple[str, Task]]) -> dict[str, Task]:
    registry: dict[str, Task] = {}
    origins: dict[str, str] = {}
    for origin, task in sources:
        if task.name in registry:
            raise RuntimeError(f"task name {task.name!r} is registered twice: by {origins[task.name]} and {origin}")
        registry[task.name] = task
        origins[task.name] = origin
    return registry


@lru_cache(maxsize=1)
def all_tasks() -> dict[str, Task]:
    """Every known task by name (built-in first, then plugins), checked for duplicates."""
    return build_registry([*_builtin_tasks(), *_plugin_tasks()])


def default_task_names() -> tuple[str, ...]:
    """The tasks a run that names none evaluates: every task but those that ask to be named
    (``Task.in_default_selection``), sorted."""
    return tuple(sorted(name for name, task in all_tasks().items() if task.in_default_selection))


def get_task(name: str) -> Task:
    tasks = all_tasks()
    if name not in tasks:
        raise ConfigError(f"unknown task {name!r}; valid: {', '.join(sorted(tasks))}")
    return tasks[name]
