"""Fixtures with the real tools: a real ``mlflow server`` (sqlite backend, 127.0.0.1, a free
port) started once per session and stopped at teardown, and sqlite / file tracking URIs.

Nothing is skipped when a component is missing: a server that does not come up fails the
session with its log.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aquarium_mlflow.testing import purge_runs

# Telemetry off, no job-runner processes (recipes.md §2); set before mlflow is imported.
QUIET = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
         "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true"}
os.environ.update(QUIET)

SERVER_START_TIMEOUT = 90.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: Any) -> Iterator[str]:
    """The URI of a real ``mlflow server`` with a sqlite backend and proxied artifacts."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    log_path = folder / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{folder}/mlflow.db",
             "--artifacts-destination", str(folder / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
             "--workers", "1"],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **QUIET}, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while True:
        try:
            urllib.request.urlopen(f"{uri}/health", timeout=2).close()
            break
        except Exception as error:
            if proc.poll() is not None or time.monotonic() > deadline:
                _stop(proc)
                pytest.fail(f"mlflow server did not come up on {uri} ({error}); its log:\n"
                            f"{log_path.read_text(errors='replace')[-4000:]}")
            time.sleep(0.25)
    try:
        yield uri
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the server we started; its process group if it does not stop in time."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@pytest.fixture
def server_uri(mlflow_server: str) -> str:
    """The session's server, emptied of runs for this test."""
    return purge_runs(mlflow_server)


@pytest.fixture(scope="session")
def sqlite_uri(tmp_path_factory: Any) -> str:
    """A sqlite tracking URI used directly (no server); its schema is made once per session."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow-sqlite')}/mlflow.db"
    MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
    return uri


@pytest.fixture
def clean_sqlite_uri(sqlite_uri: str) -> str:
    return purge_runs(sqlite_uri)


@pytest.fixture
def file_uri(tmp_path: Path) -> str:
    """A ``file:`` tracking URI (MLflow's filesystem store) in a fresh folder."""
    return (tmp_path / "mlruns").as_uri()


@pytest.fixture
def store(tmp_path: Path) -> Any:
    import aquarium

    return aquarium.open_store(tmp_path / "aquarium-store")
