"""Source capture: git state, machine and environment, once per process."""

from __future__ import annotations

import functools
import getpass
import hashlib
import importlib.metadata
import os
import platform
import socket
import subprocess
import sys

from .model import SourceInfo

_PACKAGES = ("numpy", "torch", "jax", "tensorflow")


def _git(*args: str) -> bytes | None:
    try:
        done = subprocess.run(
            ["git", *args], capture_output=True, timeout=5, check=False, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _package_versions() -> dict[str, str]:
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return versions


def _user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return None


@functools.cache
def _capture(cwd: str) -> SourceInfo:
    commit = _git("rev-parse", "HEAD")
    dirty = diff_hash = None
    if commit is not None:
        status = _git("status", "--porcelain", "--untracked-files=no")
        dirty = bool(status and status.strip())
        if dirty:
            diff = _git("diff", "HEAD") or b""
            diff_hash = hashlib.sha256(diff).hexdigest()
    return SourceInfo(
        git_commit=commit.decode().strip() if commit else None,
        git_dirty=dirty,
        git_diff_sha256=diff_hash,
        host=socket.gethostname(),
        user=_user(),
        python=platform.python_version(),
        command=list(sys.argv),
        packages=_package_versions(),
    )


def capture_source() -> SourceInfo:
    """What produced this run; cached per process and working directory."""
    return _capture(os.getcwd())
