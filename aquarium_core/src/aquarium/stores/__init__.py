"""Opening stores by URI: the scheme picks the store plugin."""

from __future__ import annotations

import os
import re
import threading

from ..errors import UnknownSchemeError
from ..interfaces import Store
from ..plugins import store_factories

STORE_VARIABLE = "AQUARIUM_STORE"
ARTIFACTS_VARIABLE = "AQUARIUM_ARTIFACTS"
DEFAULT_STORE = ".aquarium"

_open: dict[tuple[str, str | None, int], Store] = {}
_lock = threading.Lock()


def scheme_of(uri: str) -> str:
    """The part before ``://`` (lower case), or ``""`` for a plain path."""
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.\-]*)://", uri)
    return match.group(1).lower() if match else ""


def redact(uri: str) -> str:
    """The URI with any password replaced by ``***``."""
    uri = re.sub(r"^([A-Za-z][A-Za-z0-9+.\-]*://[^:/@]*):[^@/]*@", r"\1:***@", uri)
    return re.sub(r"([?&](?:password|passwd|pwd)=)[^&]*", r"\1***", uri, flags=re.IGNORECASE)


def resolve_uri(uri: str | os.PathLike | None = None) -> str:
    """``uri``, else ``AQUARIUM_STORE``, else ``./.aquarium`` in the working directory."""
    if uri is None:
        uri = os.environ.get(STORE_VARIABLE) or DEFAULT_STORE
    uri = os.fspath(uri)
    if not scheme_of(uri):
        uri = os.path.abspath(os.path.expanduser(uri))
    return uri


def open_store(uri: str | os.PathLike | Store | None = None) -> Store:
    """The store at ``uri`` (a URI, a folder path, or a ``Store`` passed through).

    Stores are cached per process, URI and artifact location, so every run of a process
    shares one connection pool.
    """
    if isinstance(uri, Store):
        return uri
    resolved = resolve_uri(uri)
    artifacts = os.environ.get(ARTIFACTS_VARIABLE) or None
    key = (resolved, artifacts, os.getpid())
    with _lock:
        store = _open.get(key)
        if store is None:
            scheme = scheme_of(resolved)
            factories = store_factories()
            if scheme not in factories:
                known = ", ".join(sorted(f"{s}://" if s else "a plain path" for s in factories)) or "none"
                raise UnknownSchemeError(
                    f"no store plugin handles {scheme!r} URIs ({redact(resolved)}); installed: {known}"
                )
            store = _open[key] = factories[scheme](resolved, artifacts=artifacts)
            store.connect_uri = resolved
    return store


def close_stores() -> None:
    """Close every store opened by :func:`open_store` in this process."""
    with _lock:
        for store in _open.values():
            store.close()
        _open.clear()
