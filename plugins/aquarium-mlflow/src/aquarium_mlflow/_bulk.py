"""Writing a run's metric points into MLflow's own stores in bulk, with MLflow's own rules.

``MlflowClient.log_batch`` caps a call at 1,000 points, and MLflow's stores spend most of a
call on per-point work: the database store builds one SQLAlchemy ORM object per point and
commits (an fsync) per call; the ``file:`` store opens, appends to and closes the key's file
once per point. For a local store (``sqlite:///``, another database URI, ``file:``) the
exporter instead writes through the store object MLflow's client holds, keeping MLflow's
invariants:

- the run must exist and be active (the store's own check);
- every key is checked with MLflow's own metric validation;
- database stores: the rows MLflow's ``log_batch`` would insert (NaN as 0 with ``is_nan``,
  ±inf as ±float64 max, one row per primary-key identity, the first kept), inserted with one
  executemany per transaction of up to :data:`ROWS_PER_TRANSACTION` rows, and
  ``latest_metrics`` updated by the store's own method with each transaction's newest point
  per key (the same point MLflow's batch-by-batch updates end on);
- ``file:`` stores: the lines ``FileStore`` appends (``"<ms> <value> <step>\\n"``), appended per
  key in one write.

Anything of MLflow's that is missing (another MLflow version, another store class) makes
:func:`writer_for` return ``None`` and the exporter uses ``log_batch``. A database error from
a bulk transaction (rolled back whole) sends that transaction's points through ``log_batch``
instead, so MLflow's own recovery (duplicates inserted meanwhile) decides.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

#: Rows per database transaction: big enough that commits cost nothing, small enough that
#: the row list stays a few MB.
ROWS_PER_TRANSACTION = 50_000
_MAX = np.finfo(np.float64).max

#: (MLflow key, steps, ms timestamps, values) of one metric, in logging order.
Points = tuple[str, np.ndarray, np.ndarray, np.ndarray]
#: Called with a key's points when a bulk write had to give up on them: sends them through log_batch.
Fallback = Callable[[Sequence[Points]], None]


def writer_for(client: Any) -> Callable[[str, Sequence[Points], Fallback], None] | None:
    """A bulk writer for the store behind ``client``, or ``None`` when only ``log_batch`` fits."""
    store = getattr(getattr(client, "_tracking_client", None), "store", None)
    if store is None:
        return None
    if type(store).__module__ == "mlflow.store.tracking.sqlalchemy_store":
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        if not isinstance(store, SqlAlchemyStore):
            return None
        needed = ("ManagedSessionMaker", "_get_run", "_check_run_is_active", "_update_latest_metrics_if_necessary")
        if all(hasattr(store, name) for name in needed) and _sql_table() is not None:
            return lambda run_id, points, fallback: _write_sql(store, run_id, points, fallback)
        return None
    try:
        from mlflow.store.tracking.file_store import FileStore
    except ImportError:
        return None
    if type(store) is FileStore and all(hasattr(store, n) for n in ("_get_run_info", "_get_metric_path")):
        return lambda run_id, points, fallback: _write_files(store, run_id, points)
    return None


def _validate(points: Sequence[Points]) -> None:
    """MLflow's own check of each key (and of its first point: the columns are typed alike)."""
    from mlflow.utils.validation import _validate_metric

    for key, steps, times, values in points:
        if len(steps):
            _validate_metric(key, float(values[0]), int(times[0]), int(steps[0]))


def _sql_table() -> Any:
    try:
        from mlflow.store.tracking.dbmodels.models import SqlMetric
    except ImportError:
        return None
    table = SqlMetric.__table__
    columns = {"key", "value", "timestamp", "step", "is_nan", "run_uuid"}
    return table if columns <= set(table.columns.keys()) else None


def sql_rows(steps: np.ndarray, times: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The points MLflow's database store keeps of one key: ``(index, stored value, is_nan)``.

    Values as ``SqlAlchemyStore.sanitize_metric_value`` stores them; of points with the same
    primary-key identity (step, timestamp, stored value, is_nan; -0.0 is 0.0 there) only the
    first, as MLflow's duplicate handling leaves it.
    """
    is_nan = np.isnan(values)
    stored = np.where(is_nan, 0.0, np.clip(values, -_MAX, _MAX))
    ident = np.empty(len(steps), dtype=[("t", "i8"), ("s", "i8"), ("v", "f8"), ("n", "?")])
    ident["t"], ident["s"], ident["v"], ident["n"] = times, steps, stored + 0.0, is_nan  # + 0.0: -0.0 → 0.0
    _, first = np.unique(ident, return_index=True)
    keep = np.sort(first)
    return keep, stored[keep], is_nan[keep]


def newest(steps: np.ndarray, times: np.ndarray, stored: np.ndarray) -> int:
    """Index of the point MLflow's ``latest_metrics`` ends on: the greatest (step, timestamp,
    value), the earliest of equals (MLflow replaces only on strictly greater)."""
    order = np.lexsort((-np.arange(len(steps)), stored, times, steps))
    return int(order[-1])


def _write_sql(store: Any, run_id: str, points: Sequence[Points], fallback: Fallback) -> None:
    import sqlalchemy
    from mlflow.exceptions import MlflowException

    _validate(points)
    table = _sql_table()
    pending: list[Points] = []
    size = 0

    def commit() -> None:
        nonlocal pending, size
        if not pending:
            return
        rows: list[dict[str, Any]] = []
        latest = []
        for key, steps, times, values in pending:
            keep, stored, is_nan = sql_rows(steps, times, values)
            s, t = steps[keep], times[keep]
            rows.extend({"run_uuid": run_id, "key": key, "value": v, "timestamp": ts, "step": st, "is_nan": n}
                        for st, ts, v, n in zip(s.tolist(), t.tolist(), stored.tolist(), is_nan.tolist()))
            if len(keep):
                i = newest(s, t, stored)
                latest.append(types.SimpleNamespace(run_uuid=run_id, key=key, value=float(stored[i]),
                                                    timestamp=int(t[i]), step=int(s[i]), is_nan=bool(is_nan[i])))
        try:
            with _write_session(store) as session:
                run = store._get_run(run_uuid=run_id, session=session)
                store._check_run_is_active(run)
                if rows:
                    session.execute(table.insert(), rows)
                store._update_latest_metrics_if_necessary(latest, session)
        except MlflowException as error:
            if not isinstance(error.__cause__, sqlalchemy.exc.SQLAlchemyError):
                raise  # the run is deleted, or the like: log_batch would say the same
            fallback(pending)  # rolled back: MLflow's own path sorts out what is there now
        pending, size = [], 0

    for key, steps, times, values in points:
        start = 0
        while start < len(steps):
            end = min(len(steps), start + ROWS_PER_TRANSACTION - size)
            pending.append((key, steps[start:end], times[start:end], values[start:end]))
            size += end - start
            start = end
            if size >= ROWS_PER_TRANSACTION:
                commit()
    commit()


def _write_session(store: Any) -> Any:
    try:
        return store.ManagedSessionMaker(read_only=False)  # MLflow 3 routes writes to the primary
    except TypeError:  # MLflow 2: one kind of session
        return store.ManagedSessionMaker()


def _write_files(store: Any, run_id: str, points: Sequence[Points]) -> None:
    import os

    from mlflow.entities.run_info import check_run_is_active

    _validate(points)
    info = store._get_run_info(run_id)
    check_run_is_active(info)
    for key, steps, times, values in points:
        if not len(steps):
            continue
        path = store._get_metric_path(info.experiment_id, run_id, key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        # FileStore._log_run_metric's line, f"{timestamp} {value} {step}\n", for every point at once
        text = "".join(f"{t} {v} {s}\n" for t, v, s in zip(times.tolist(), values.tolist(), steps.tolist()))
        with open(path, "a") as f:
            f.write(text)
