"""Starting Ray for a run with workers: the loopback-only settings of a private instance, the files a killed
driver left, and the error when Ray is not installed (no Ray processes here)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.distributed import ray_cluster
from harness.errors import ConfigError


def test_a_private_instance_is_loopback_only_with_a_private_home_and_a_token(tmp_path: Path) -> None:
    settings = ray_cluster.loopback_settings(tmp_path)
    assert settings["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] == "0"  # node address 127.0.0.1, servers bind it
    assert (Path(settings["HOME"]) / "ray_bootstrap_config.yaml").read_text().strip() == "{}"
    assert settings["RAY_AUTH_MODE"] == "token" and len(settings["RAY_AUTH_TOKEN"]) == 32
    assert settings["RAY_USAGE_STATS_ENABLED"] == "0" and "127.0.0.1" in settings["RAY_USAGE_STATS_REPORT_URL"]


def test_files_of_a_killed_driver_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale, live, foreign = (tmp_path / f"{ray_cluster.PRIVATE_PREFIX}{name}" for name in ("a", "b", "c"))
    for folder in (stale, live, foreign):
        folder.mkdir()
    (stale / ray_cluster.DRIVER_FILE).write_text(gone.stdout.strip())
    (live / ray_cluster.DRIVER_FILE).write_text(str(os.getpid()))
    assert ray_cluster.remove_stale_instances(tmp_path) == [stale]
    assert not stale.exists() and live.exists() and foreign.exists()


def test_without_ray_workers_say_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    with pytest.raises(ConfigError, match=r"need Ray, which is not installed: pip install 'xlh\[ray\]'"):
        ray_cluster.require_ray()
