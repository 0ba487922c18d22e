"""Artifact files: a local folder, or any fsspec URL (``pip install fsspec``)."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from typing import Any

from .validation import artifact_name

_CHUNK = 1 << 20


def _is_url(location: str) -> bool:
    return "://" in location and not location.startswith("file://")


class ArtifactRepository:
    """Files under ``<root>/<run_id>/<name>``, with size and sha256 computed on the way in."""

    def __init__(self, root: str) -> None:
        self.root = root.removeprefix("file://")
        self._fs: Any = None
        if _is_url(self.root):
            try:
                import fsspec
            except ImportError:
                raise ImportError(
                    f"artifact location {root!r} is a URL: install fsspec (pip install fsspec) "
                    "and the filesystem it needs"
                ) from None
            self._fs, self.root = fsspec.core.url_to_fs(self.root)

    def _path(self, run_id: str, name: str) -> str:
        name = artifact_name(name)
        if self._fs is not None:
            return f"{self.root.rstrip('/')}/{run_id}/{name}"
        return os.path.join(self.root, run_id, *name.split("/"))

    def put(self, run_id: str, name: str, source: str | os.PathLike) -> tuple[str, int, str]:
        """Copy ``source`` in; return (uri, size, sha256)."""
        target = self._path(run_id, name)
        digest, size = hashlib.sha256(), 0
        if self._fs is not None:
            with open(source, "rb") as src, self._fs.open(target, "wb") as dst:
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    dst.write(chunk)
            return self._fs.unstrip_protocol(target), size, digest.hexdigest()
        os.makedirs(os.path.dirname(target), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".partial-")
        try:
            with open(source, "rb") as src, os.fdopen(fd, "wb") as dst:
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    dst.write(chunk)
                dst.flush()
                os.fsync(dst.fileno())
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return target, size, digest.hexdigest()

    def read(self, run_id: str, name: str) -> bytes:
        target = self._path(run_id, name)
        if self._fs is not None:
            with self._fs.open(target, "rb") as f:
                return f.read()
        with open(target, "rb") as f:
            return f.read()

    def delete_run(self, run_id: str) -> None:
        if self._fs is not None:
            path = f"{self.root.rstrip('/')}/{run_id}"
            if self._fs.exists(path):
                self._fs.rm(path, recursive=True)
            return
        shutil.rmtree(os.path.join(self.root, run_id), ignore_errors=True)
