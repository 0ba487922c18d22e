"""The bulk path into MLflow's local stores leaves exactly what ``log_batch`` leaves.

Each test exports the same run twice into one real store, once through ``log_batch`` only
and once in bulk, and compares what MLflow holds: the rows of its ``metrics`` and
``latest_metrics`` tables (sqlite), the metric files byte for byte (``file:``), and what
``MlflowClient`` reads back.
"""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

import aquarium
from aquarium import interop
from aquarium.ids import new_run_id
from aquarium.interop import RunBundle
from aquarium.model import MetricSeries, RunRecord
from aquarium_mlflow import _bulk
from aquarium_mlflow._common import mlflow_env
from aquarium_mlflow.exporter import metric_batches

pytestmark = pytest.mark.slow

T0 = 1_700_000_000.0
INF, NAN, BIG = math.inf, math.nan, 1.7976931348623157e308


def tricky_run(store: Any) -> RunRecord:
    """Repeated, decreasing and duplicate points; NaN, ±inf, float64 max, -0.0 beside 0.0;
    points within one millisecond; a key whose newest point ties on (step, time, value)."""
    steps = [0, 1, 1, 2, 2, 2, 5, 3, 3, 7, 7, 7, 7, 8, 8, 9, 9, 9]
    values = [1.0, NAN, NAN, INF, BIG, BIG, -0.0, 0.0, -0.0, 2.5, 2.5, -INF, 0.0, NAN, 0.0, 4.0, 4.0, 3.0]
    times = [0.0, 0.001, 0.001, 0.002, 0.002, 0.002, 0.003, 0.0031, 0.0031, 0.004, 0.004, 0.004, 0.004,
             0.0050001, 0.0050004, 0.006, 0.006, 0.006]
    s, v, t = np.array(steps, np.int64), np.array(values), T0 + np.array(times)
    history = {
        "odd": MetricSeries("odd", s, v, t),
        "loss": MetricSeries("loss", np.arange(2345, dtype=np.int64), np.cos(np.arange(2345.0)),
                             T0 + np.arange(2345) * 0.0004),  # 2.5 points per millisecond
        "ties": MetricSeries("ties", np.array([4, 4, 4], np.int64), np.array([0.0, -0.0, NAN]),
                             np.full(3, T0 + 1.0)),
    }
    record = RunRecord(new_run_id(), "tricky", "bulk", status="completed", created=T0, started=T0, ended=T0 + 9)
    interop.write_bundle(store, RunBundle(record, history), "test:" + record.id)
    return record


def both_ways(store: Any, record: RunRecord, uri: str) -> tuple[str, str]:
    ids = []
    for only in (True, False):
        (result,) = aquarium.export([record.id], "mlflow", to=uri, store=store, progress=False,
                                    experiment=f"via-{'log_batch' if only else 'bulk'}", log_batch_only=only)
        assert result.status == "ok", result.error
        ids.append(result.target_id)
    return ids[0], ids[1]


def same(a: float, b: float) -> bool:
    return repr(a) == repr(b)  # NaN equals NaN, -0.0 differs from 0.0


def read_back(uri: str, run_id: str, keys: list[str]) -> tuple[dict, dict]:
    with mlflow_env(uri):
        client = MlflowClient(tracking_uri=uri)
        history = {k: sorted((m.step, m.timestamp, repr(m.value)) for m in client.get_metric_history(run_id, k))
                   for k in keys}
        latest = {k: repr(v) for k, v in client.get_run(run_id).data.metrics.items()}
    return history, latest


def test_sqlite_rows_are_the_rows_log_batch_writes(clean_sqlite_uri, store):
    record = tricky_run(store)
    via_log_batch, via_bulk = both_ways(store, record, clean_sqlite_uri)
    db = clean_sqlite_uri[len("sqlite:///"):]
    with sqlite3.connect(db) as conn:
        def rows(table: str, run_id: str) -> list[tuple]:
            found = conn.execute(f"SELECT key, value, timestamp, step, is_nan FROM {table} WHERE run_uuid = ?",
                                 (run_id,)).fetchall()
            return sorted((k, repr(v), t, s, n) for k, v, t, s, n in found)

        assert rows("metrics", via_bulk) == rows("metrics", via_log_batch)
        assert rows("latest_metrics", via_bulk) == rows("latest_metrics", via_log_batch)
        assert len(rows("metrics", via_bulk)) < 18 + 2345 + 3  # MLflow's duplicate rule did apply
    keys = ["odd", "loss", "ties"]
    assert read_back(clean_sqlite_uri, via_bulk, keys) == read_back(clean_sqlite_uri, via_log_batch, keys)


def test_file_store_files_are_the_files_log_batch_writes(file_uri, store):
    record = tricky_run(store)
    via_log_batch, via_bulk = both_ways(store, record, file_uri)
    root = Path(file_uri[len("file://"):])

    def files(run_id: str) -> dict[str, bytes]:
        (folder,) = root.glob(f"*/{run_id}/metrics")
        return {p.name: p.read_bytes() for p in folder.iterdir()}

    assert files(via_bulk) == files(via_log_batch)
    keys = ["odd", "loss", "ties"]
    assert read_back(file_uri, via_bulk, keys) == read_back(file_uri, via_log_batch, keys)


def test_points_written_meanwhile_send_the_transaction_through_log_batch(clean_sqlite_uri):
    """Another writer logged some of the points first: the bulk insert hits MLflow's primary
    key, rolls back, and MLflow's own log_batch recovery keeps each point once."""
    client = MlflowClient(tracking_uri=clean_sqlite_uri)
    run_id = client.create_run(client.create_experiment("meanwhile")).info.run_id
    steps = np.arange(3000, dtype=np.int64)
    points = [("a", steps, 1_700_000_000_000 + steps, np.sqrt(steps + 0.5)),
              ("b", steps[:10], steps[:10], -steps[:10] * 1.0)]
    for batch in metric_batches([(k, s[:700], t[:700], v[:700]) for k, s, t, v in points]):
        client.log_batch(run_id, metrics=batch)
    sent_again = []

    def fallback(rest: Any) -> None:
        sent_again.append(sum(len(p[1]) for p in rest))
        for batch in metric_batches(rest):
            client.log_batch(run_id, metrics=batch)

    writer = _bulk.writer_for(client)
    assert writer is not None
    writer(run_id, points, fallback)
    assert sent_again == [3010]
    history = sorted((m.step, m.value) for m in client.get_metric_history(run_id, "a"))
    assert history == list(zip(steps.tolist(), np.sqrt(steps + 0.5).tolist()))
    assert client.get_run(run_id).data.metrics == {"a": math.sqrt(2999.5), "b": -9.0}


def test_servers_get_log_batch(server_uri):
    """Over HTTP MLflow's server does the writing: no bulk path."""
    assert _bulk.writer_for(MlflowClient(tracking_uri=server_uri)) is None


def test_newest_is_the_point_mlflow_latest_metrics_ends_on():
    steps, times = np.array([3, 5, 5, 5, 1]), np.array([9, 2, 4, 4, 99])
    assert _bulk.newest(steps, times, np.array([0.0, 1.0, 1.0, 1.0, 7.0])) == 2  # the earliest of equals
    assert _bulk.newest(steps, times, np.array([0.0, 1.0, 1.0, 2.0, 7.0])) == 3
    keep, stored, is_nan = _bulk.sql_rows(np.array([1, 1, 1, 1]), np.array([0, 0, 0, 0]),
                                          np.array([NAN, NAN, -0.0, 0.0]))
    assert keep.tolist() == [0, 2] and is_nan.tolist() == [True, False] and same(float(stored[1]), -0.0)
