"""MLflow interop: export of the W1 run (10 metrics × 10,000 steps) beside MLflow's own client, and import back.

Each repetition of each side runs in its own subprocess and its own fresh temp dir, against a
sqlite tracking URI (``sqlite:///<tmp>/mlflow.db``) whose schema is created before any clock
starts (MLflow takes 2–3 s for that, alike for both sides). Medians are printed with ratios::

    python benchmarks/interop_mlflow.py              # 1 repetition (~2 min on 2 cores)
    python benchmarks/interop_mlflow.py --repeat 3

Sides:

- ``mlflow``    MLflow's client the way its docs recommend for many points: ``MlflowClient``,
                ``create_run``, then ``log_batch`` with chunks of 1,000 ``Metric`` objects (MLflow's
                per-call limit) built step by step, ``set_terminated``. Then the run is read back
                with MLflow's own ``get_metric_history`` per key, and imported with
                ``aquarium.import_runs("mlflow", ...)`` (no ``aquarium/run.json``: every point comes
                from ``get_metric_history``).
- ``aquarium``  The W1 run logged into an Aquarium store first (not timed), then
                ``aquarium.export([run], "mlflow", to=...)`` (reads the store, creates the experiment
                and the run, params and tags, every point in bulk through MLflow's own store object
                (``aquarium_mlflow._bulk``), ``aquarium/run.json``, status), then
                ``aquarium.import_runs("mlflow", ...)`` into a fresh store (reads run.json), and the
                same import again with run.json set aside (reads MLflow's own data).
- ``aquarium_log_batch``  The same export with ``log_batch_only=True``: every point through
                ``MlflowClient.log_batch`` in chunks of 1,000 (the path HTTP servers get).

Figures: ``write`` (MLflow: create_run + loop + set_terminated; Aquarium: the whole ``export()``
call), ``read`` (MLflow's ``get_metric_history`` for the 10 keys), ``import`` (``import_runs`` into
a fresh store), ``import_mlflow_data`` (Aquarium side: the import without run.json). ``import
mlflow`` is timed apart and is not part of the others. Every import is checked against what was
logged: 10 series of 10,000 points with the same steps and values (and, through run.json, the
exact timestamps).

Results go to ``benchmarks/results/interop_mlflow.json`` (gitignored).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import fmt, interleave, median, run_side  # noqa: E402
from harness import parser as harness_parser  # noqa: E402
from w1_logging import KEYS, METRICS, STEPS, machine, versions, workload  # noqa: E402

RESULTS = HERE / "results" / "interop_mlflow.json"
SIDES = ("mlflow", "aquarium", "aquarium_log_batch")
BATCH_CHUNK = 1_000  # MLflow's limit of metrics per log_batch call


def _check(history: dict, rows: list[dict[str, float]], timestamps: dict | None = None) -> str | None:
    if sorted(history) != KEYS:
        return f"keys imported: {sorted(history)}"
    for key in KEYS:
        series = history[key]
        if series.steps.tolist() != list(range(len(rows))):
            return f"{key}: steps differ"
        if series.values.tolist() != [row[key] for row in rows]:
            return f"{key}: values differ"
        if timestamps is not None and series.timestamps.tolist() != timestamps[key]:
            return f"{key}: timestamps differ"
    return None


def _import_mlflow() -> tuple[float, object]:
    start = time.perf_counter()
    from mlflow.tracking import MlflowClient

    return time.perf_counter() - start, MlflowClient


def _prepare(uri: str, client_class: object) -> None:
    """Create the tracking database's schema before any clock starts."""
    client_class(tracking_uri=uri).search_experiments(max_results=1)  # type: ignore[operator]


def _read(client: object, run_id: str, rows: list[dict[str, float]]) -> tuple[float, str | None]:
    start = time.perf_counter()
    series = {key: client.get_metric_history(run_id, key) for key in KEYS}  # type: ignore[attr-defined]
    spent = time.perf_counter() - start
    for key, points in series.items():
        points = sorted(points, key=lambda m: m.step)
        if [m.step for m in points] != list(range(len(rows))) or [m.value for m in points] != [r[key] for r in rows]:
            return spent, f"MLflow read of {key}: steps or values differ"
    return spent, None


def side_mlflow(steps: int, tmp: str) -> dict:
    spans: dict[str, float | None] = {}
    spans["import_mlflow"], client_class = _import_mlflow()
    from mlflow.entities import Metric, Param

    import aquarium

    uri = f"sqlite:///{tmp}/mlflow.db"
    _prepare(uri, client_class)
    rows = workload(steps)
    client = client_class(tracking_uri=uri)  # type: ignore[operator]
    experiment_id = client.create_experiment("w1", artifact_location=Path(tmp, "mlartifacts").as_uri())

    start = time.perf_counter()
    run = client.create_run(experiment_id, run_name="w1")
    run_id = run.info.run_id
    client.log_batch(run_id, params=[Param("lr", "0.001")])
    loop = time.perf_counter()
    pending: list = []
    for step, row in enumerate(rows):
        ms = int(time.time() * 1000)
        pending.extend(Metric(k, v, ms, step) for k, v in row.items())
        if len(pending) >= BATCH_CHUNK:
            client.log_batch(run_id, metrics=pending)
            pending = []
    if pending:
        client.log_batch(run_id, metrics=pending)
    spans["loop"] = time.perf_counter() - loop
    client.set_terminated(run_id, "FINISHED")
    spans["write"] = time.perf_counter() - start

    spans["read"], error = _read(client, run_id, rows)

    store = aquarium.open_store(os.path.join(tmp, "imported"))
    start = time.perf_counter()
    (result,) = aquarium.import_runs("mlflow", uri, store=store, progress=False)
    spans["import"] = time.perf_counter() - start
    error = error or result.error or _check(store.history(result.run_id), rows)
    return {**spans, "points": result.points, "error": error}


def side_aquarium(steps: int, tmp: str, log_batch_only: bool = False) -> dict:
    import aquarium

    rows = workload(steps)
    source = aquarium.open_store(os.path.join(tmp, "store"))
    with aquarium.start_run(name="w1", experiment="w1", store=source, capture_source=False,
                            params={"lr": 0.001}) as run:
        for step, row in enumerate(rows):
            run.log(row, step=step)
    original = source.history(run.id)
    stamps = {k: s.timestamps.tolist() for k, s in original.items()}

    spans: dict[str, float | None] = {}
    spans["import_mlflow"], client_class = _import_mlflow()
    uri = f"sqlite:///{tmp}/mlflow.db"
    _prepare(uri, client_class)

    start = time.perf_counter()
    (exported,) = aquarium.export([run.id], "mlflow", to=uri, store=source, progress=False,
                                  log_batch_only=log_batch_only)
    spans["write"] = time.perf_counter() - start
    if exported.status != "ok":
        return {**spans, "error": exported.error}
    client = client_class(tracking_uri=uri)  # type: ignore[operator]
    spans["read"], error = _read(client, exported.target_id, rows)

    store = aquarium.open_store(os.path.join(tmp, "imported"))
    start = time.perf_counter()
    (result,) = aquarium.import_runs("mlflow", uri, store=store, progress=False)
    spans["import"] = time.perf_counter() - start
    error = error or result.error or _check(store.history(result.run_id), rows, stamps)

    # the same run read from MLflow's own data alone (run.json set aside), for the record
    (run_json,) = Path(tmp, "mlartifacts").glob("*/*/artifacts/aquarium/run.json")
    run_json.rename(run_json.with_suffix(".json.off"))
    bare = aquarium.open_store(os.path.join(tmp, "imported-bare"))
    start = time.perf_counter()
    (result,) = aquarium.import_runs("mlflow", uri, store=bare, progress=False)
    spans["import_mlflow_data"] = time.perf_counter() - start
    error = error or result.error or _check(bare.history(result.run_id), rows)
    return {**spans, "points": exported.points, "error": error}


def worker(side: str, steps: int, tmp: str) -> None:
    if side == "mlflow":
        result = side_mlflow(steps, tmp)
    else:
        result = side_aquarium(steps, tmp, log_batch_only=side == "aquarium_log_batch")
    print(json.dumps({"side": side, "steps": steps, **result}))


def run_one(side: str, steps: int, timeout: float) -> dict:
    return run_side(__file__, side, ["--steps", str(steps)], timeout)


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def main(argv: list[str] | None = None) -> int:
    parser = harness_parser(__doc__, SIDES, repeat=1, timeout=1800, results=RESULTS, steps=STEPS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.steps, args.dir)
        return 0

    load_before = os.getloadavg()
    print(f"W1 ⇄ MLflow (sqlite): {METRICS} metrics × {args.steps:,} steps; median of {args.repeat}; "
          f"{os.cpu_count()} CPUs; load {load_before[0]:.1f}", flush=True)
    started = time.perf_counter()
    reps = interleave(SIDES, args.repeat, lambda side: run_one(side, args.steps, args.timeout),
                      ("write", "read", "import"))

    m, a, lb = reps["mlflow"], reps["aquarium"], reps["aquarium_log_batch"]
    fig = {
        "mlflow_write": median(m, "write"), "mlflow_loop": median(m, "loop"), "mlflow_read": median(m, "read"),
        "mlflow_import": median(m, "import"), "aquarium_export": median(a, "write"),
        "aquarium_export_read": median(a, "read"), "aquarium_import": median(a, "import"),
        "aquarium_import_mlflow_data": median(a, "import_mlflow_data"),
        "aquarium_export_log_batch": median(lb, "write"),
        "import_mlflow_module": median(m + a + lb, "import_mlflow"),
    }
    ratio = {
        "export / MLflow client log_batch write": _ratio(fig["aquarium_export"], fig["mlflow_write"]),
        "export through log_batch only / MLflow client log_batch write": _ratio(fig["aquarium_export_log_batch"],
                                                                               fig["mlflow_write"]),
        "import (run.json) / MLflow get_metric_history read": _ratio(fig["aquarium_import"], fig["mlflow_read"]),
        "import (MLflow's own run) / MLflow get_metric_history read": _ratio(fig["mlflow_import"],
                                                                            fig["mlflow_read"]),
    }
    print()
    rows = [
        ("MLflow client: create_run + log_batch (chunks of 1,000) + set_terminated", fig["mlflow_write"]),
        ("  of which the log_batch loop", fig["mlflow_loop"]),
        ("Aquarium export() of the same run (store → MLflow run + run.json)", fig["aquarium_export"]),
        ("  the same export with log_batch_only=True", fig["aquarium_export_log_batch"]),
        ("MLflow get_metric_history × 10 of MLflow's own run", fig["mlflow_read"]),
        ("MLflow get_metric_history × 10 of the exported run", fig["aquarium_export_read"]),
        ("Aquarium import of the exported run (reads aquarium/run.json)", fig["aquarium_import"]),
        ("Aquarium import of the exported run from MLflow's data alone", fig["aquarium_import_mlflow_data"]),
        ("Aquarium import of MLflow's own run (get_metric_history)", fig["mlflow_import"]),
        ("import mlflow (both sides, not in the figures above)", fig["import_mlflow_module"]),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"  {label.ljust(width)}  {fmt(value):>8} s")
    print()
    for label, value in ratio.items():
        print(f"  {label}: {'-' if value is None else f'{value:.2f}×'}")
    failed = [r["error"] for r in m + a + lb if r.get("error")]
    for error in failed[:1]:
        print(f"\nWARNING: a check failed: {error}")

    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({
        "workload": "W1 interop mlflow", "metrics": METRICS, "steps": args.steps, "repeat": args.repeat,
        "backend": "sqlite", "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "duration_s": time.perf_counter() - started, "machine": machine(), "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(), "versions": {**versions(), **_more_versions()}, "figures": fig,
        "ratios": ratio, "repetitions": reps,
    }, indent=2) + "\n")
    print(f"\nwrote {args.json}")
    return 1 if failed else 0


def _more_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("aquarium-mlflow", "mlflow-skinny", "SQLAlchemy"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            pass
    return found


if __name__ == "__main__":
    sys.exit(main())
