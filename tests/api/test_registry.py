from types import ModuleType

import pytest

from harness.api.registry import _tasks_of, all_tasks, build_registry, get_task
from harness.errors import ConfigError
from tasks.mgsm import Mgsm
from tasks.xnli import Xnli


def test_builtin_tasks_are_discovered() -> None:
    assert {"mgsm", "xnli"} <= set(all_tasks())


def test_duplicate_names_are_rejected() -> None:
    with pytest.raises(RuntimeError, match="registered twice"):
        build_registry([("tasks.mgsm", Mgsm()), ("entry point other", Mgsm())])


def test_plugin_objects_can_be_a_task_a_tuple_or_a_module() -> None:
    assert [t.name for t in _tasks_of(Xnli(), "x")] == ["xnli"]
    assert [t.name for t in _tasks_of((Xnli(), Mgsm()), "x")] == ["xnli", "mgsm"]
    module = ModuleType("third_party_plugin")
    module.TASKS = (Mgsm(),)  # type: ignore[attr-defined]
    assert [t.name for t in _tasks_of(module, "x")] == ["mgsm"]


def test_plugin_with_a_non_task_is_rejected() -> None:
    with pytest.raises(TypeError, match="not a harness.api.task.Task"):
        _tasks_of(("mgsm",), "entry point bad")


def test_unknown_task_lists_valid_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown task 'nope'; valid: .*mgsm.*xnli"):
        get_task("nope")


def test_third_party_plugin_registers_through_an_entry_point(tmp_path, monkeypatch) -> None:
    """A real installed-distribution layout on sys.path: dist-info with entry_points.txt + a module."""
    (tmp_path / "xlh_demo_plugin.py").write_text(
        "from tasks.xnli import Xnli\n\nclass DemoNli(Xnli):\n    name = 'demo_nli'\n\nTASKS = (DemoNli(),)\n"
    )
    dist_info = tmp_path / "xlh_demo_plugin-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: xlh-demo-plugin\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text("[xlh.tasks]\ndemo = xlh_demo_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    all_tasks.cache_clear()
    try:
        tasks = all_tasks()
        assert "demo_nli" in tasks and {"mgsm", "xnli"} <= set(tasks)
        assert get_task("demo_nli").languages == get_task("xnli").languages
    finally:
        all_tasks.cache_clear()
