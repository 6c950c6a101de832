"""Starting or joining Ray for a run with workers.

``xlh eval --workers N`` starts a private single-machine Ray instance for the run, unless ``--ray-address`` (or
``RAY_ADDRESS``) names an existing cluster, which it joins as a driver and leaves running.

The private instance is started loopback-only (every measured fact behind these settings is in the team's
Ray notes): Ray's defaults bind every interface, take the machine's external address as the node's, and its
dashboard probes the cloud-metadata address, so the instance gets

- ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``: the node's address becomes 127.0.0.1 and every server binds it;
- a private ``HOME`` holding an empty ``ray_bootstrap_config.yaml`` (no cloud-metadata probes) and a short
  private temp dir (Ray's socket paths must stay under 107 bytes);
- token authentication with a fresh random token, no dashboard, no usage statistics.

``HOME`` is private only for the Ray processes: it is restored in this process once Ray has started, and the
workers are given the user's ``HOME`` back (``worker_environment``) so that model downloads land in the
user's caches.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError

INSTALL_HINT = "pip install 'xlh[ray]' (or `make install`, which installs it)"
# The object store holds only the requests and answers in flight: a few MB. Ray's minimum is 75 MiB.
OBJECT_STORE_BYTES = 100 * 1024 * 1024
# Private instances live in /tmp/xlh-ray-XXXXXXXX (Ray's socket paths must stay short), with the driver's pid.
PRIVATE_ROOT = "/tmp"
PRIVATE_PREFIX = "xlh-ray-"
DRIVER_FILE = "driver.pid"
LOOPBACK_ENVIRONMENT = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_AUTH_MODE": "token",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_USAGE_STATS_PROMPT_ENABLED": "0",
    "RAY_USAGE_STATS_REPORT_URL": "http://127.0.0.1:9/",
}


def require_ray() -> None:
    """A clear error saying how to install Ray when it is missing. Does not import it: Ray reads its
    settings from the environment when first imported (``ray_session`` sets them first)."""
    if importlib.util.find_spec("ray") is None:
        raise ConfigError(f"--workers and --ray-address need Ray, which is not installed: {INSTALL_HINT}")


def import_with_settings() -> Any:
    """``ray``, seeing the environment as it is now. Ray caches its settings (token authentication among them)
    when first imported, and another library may have imported it already (vLLM does): refresh them then, as
    Ray itself does when it turns token authentication on."""
    already = "ray" in sys.modules
    import ray

    if already:
        from ray._raylet import Config  # type: ignore[attr-defined]

        Config.initialize("")
    return ray


def _token() -> str:
    """This process's token for its private instances: one per process, since Ray reads it once."""
    return os.environ.get("RAY_AUTH_TOKEN") or secrets.token_hex(16)


@dataclass
class RayConnection:
    """A Ray instance this process is a driver of: ``owned`` when xlh started it (and shuts it down)."""

    owned: bool
    user_home: str | None = None

    def worker_environment(self) -> dict[str, str]:
        """Environment variables every worker actor gets."""
        return {"HOME": self.user_home} if self.user_home else {}


def loopback_settings(private_dir: Path) -> dict[str, str]:
    """The environment of a private loopback-only instance whose files live under ``private_dir``."""
    home = private_dir / "home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "ray_bootstrap_config.yaml").write_text("{}\n")
    return {**LOOPBACK_ENVIRONMENT, "HOME": str(home), "RAY_AUTH_TOKEN": _token()}


@contextlib.contextmanager
def ray_session(address: str | None) -> Iterator[RayConnection]:
    """Be a Ray driver for the block: join the cluster at ``address``, or start a private loopback-only
    instance (shut down and its files removed afterwards). Never stops a cluster it joined."""
    require_ray()
    if address:
        import ray

        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        try:
            yield RayConnection(owned=False)
        finally:
            ray.shutdown()
        return
    remove_stale_instances()
    private_dir = Path(tempfile.mkdtemp(prefix=PRIVATE_PREFIX, dir=PRIVATE_ROOT))  # short: Ray's socket paths
    (private_dir / DRIVER_FILE).write_text(str(os.getpid()))
    user_home = os.environ.get("HOME")
    settings = loopback_settings(private_dir)
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    ray = import_with_settings()

    if ray.is_initialized():  # a caller (a test's cluster) already made this process a driver
        _restore(saved, ("HOME",))
        shutil.rmtree(private_dir, ignore_errors=True)
        yield RayConnection(owned=False)
        return
    try:
        ray.init(
            address="local",  # never attach to a cluster named by a stale file or RAY_ADDRESS by accident
            num_cpus=os.cpu_count() or 1,  # GPUs: those Ray finds
            include_dashboard=False,
            object_store_memory=OBJECT_STORE_BYTES,
            log_to_driver=False,
            logging_level=logging.WARNING,
            _temp_dir=str(private_dir / "t"),
        )
    except BaseException:
        _restore(saved, ("HOME",))
        shutil.rmtree(private_dir, ignore_errors=True)
        raise
    # Only the Ray processes need the private HOME. Ray's own settings stay: it read them once, at import.
    _restore(saved, ("HOME",))
    try:
        yield RayConnection(owned=True, user_home=user_home)
    finally:
        ray.shutdown()
        shutil.rmtree(private_dir, ignore_errors=True)


def remove_stale_instances(root: Path = Path(PRIVATE_ROOT)) -> list[Path]:
    """Remove the files of private instances whose driver is gone (killed before it could clean up)."""
    removed = []
    for folder in root.glob(PRIVATE_PREFIX + "*"):
        try:
            pid = int((folder / DRIVER_FILE).read_text())
        except (OSError, ValueError):
            continue  # not one of ours, or still being set up
        if not _alive(pid):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _restore(saved: dict[str, str | None], names: tuple[str, ...]) -> None:
    for name in names:
        value = saved.get(name)
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
