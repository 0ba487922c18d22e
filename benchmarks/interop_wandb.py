"""W&B interop: export of the W1 run (10 metrics × 10,000 steps) beside W&B's own client, and import back.

Each repetition of each side runs in its own subprocess and its own fresh temp dir (W&B
offline, nothing under ~), and the medians are printed with ratios::

    python benchmarks/interop_wandb.py              # 3 repetitions (~1 min on 2 cores)
    python benchmarks/interop_wandb.py --repeat 5

Sides:

- ``wandb``     W&B's client the way its docs recommend: ``wandb.init`` (offline), one
                ``run.log(dict, step=s)`` per step, ``run.finish()``. Then the offline run is
                imported with ``aquarium.import_runs("wandb", ...)`` (the run has no
                ``aquarium/run.json``: every record of the ``.wandb`` file is parsed), and read by
                W&B's own offline reader, ``wandb leet inspect --json`` (Go), for reference.
- ``aquarium``  The W1 run logged into an Aquarium store first (not timed), then
                ``aquarium.export([run], "wandb", to=...)`` (reads the store, writes the offline
                run's ``.wandb`` file directly in W&B's record format, ``aquarium/run.json``), then
                ``aquarium.import_runs("wandb", ...)`` into a fresh store (reads run.json).
- ``aquarium_client``  The same export with ``writer="client"``: ``wandb.init`` offline, one
                ``run.log`` per row, ``finish``, waiting for the file.

Figures: ``write`` (W&B: init + loop + ``finish()`` returned; Aquarium: the whole ``export()`` call,
which returns once the ``.wandb`` file is complete), ``durable`` (W&B: until its ``.wandb``
file holds the exit record: ``finish()`` returns before ``wandb-core`` has written it),
``loop`` (W&B only: the log calls), ``import`` (``import_runs`` into a fresh store),
``inspect`` (``wandb leet inspect --json``), ``write_cpu`` (CPU seconds of the writing: the
Python process over the span plus the ``wandb-core`` service, less sensitive than wall time to
other load on the machine). ``import wandb`` is timed apart for both and is
not part of the others. Every import is checked against what was logged: 10 series of
10,000 points with the same steps and values (and, through run.json, timestamps).

Results go to ``benchmarks/results/interop_wandb.json`` (gitignored).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import fmt, interleave, median, run_side  # noqa: E402
from harness import parser as harness_parser  # noqa: E402
from w1_logging import KEYS, METRICS, STEPS, machine, versions, workload  # noqa: E402

RESULTS = HERE / "results" / "interop_wandb.json"
SIDES = ("wandb", "aquarium", "aquarium_client")


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


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _service_cpu(wandb) -> float:
    """CPU seconds of the wandb-core service, which exits (and is reaped) on teardown."""
    wandb.teardown()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _settings(wandb):
    return wandb.Settings(mode="offline", x_disable_stats=True, x_disable_meta=True, console="off",
                          save_code=False, disable_git=True, silent=True)


def side_wandb(steps: int, tmp: str) -> dict:
    spans = {}
    start = time.perf_counter()
    import wandb

    spans["import_wandb"] = time.perf_counter() - start
    import aquarium
    from aquarium_wandb.records import wait_until_written

    rows = workload(steps)
    out = os.path.join(tmp, "wandb-out")
    cpu, start = _cpu(), time.perf_counter()
    run = wandb.init(project="w1", name="w1", dir=out, settings=_settings(wandb))
    loop = time.perf_counter()
    for step, row in enumerate(rows):
        run.log(row, step=step)
    spans["loop"] = time.perf_counter() - loop
    run.finish()
    spans["write"] = time.perf_counter() - start
    (path,) = Path(out, "wandb").glob("offline-run-*/run-*.wandb")
    wait_until_written(path)  # finish() returns before wandb-core has written the file
    spans["durable"] = time.perf_counter() - start
    spans["write_cpu"] = _cpu() - cpu + _service_cpu(wandb)

    store = aquarium.open_store(os.path.join(tmp, "imported"))
    start = time.perf_counter()
    (result,) = aquarium.import_runs("wandb", out, store=store, progress=False)
    spans["import"] = time.perf_counter() - start
    error = result.error or _check(store.history(result.run_id), rows)

    (folder,) = Path(out, "wandb").glob("offline-run-*")
    start = time.perf_counter()
    inspect = subprocess.run([str(Path(sys.executable).with_name("wandb")), "leet", "inspect", "--json",
                              str(folder)], capture_output=True, text=True)
    spans["inspect"] = time.perf_counter() - start
    if inspect.returncode != 0 or inspect.stdout.count('"type":"history"') != steps:
        spans["inspect"] = None
    return {**spans, "points": result.points, "error": error}


def side_aquarium(steps: int, tmp: str, writer: str = "direct") -> dict:
    import aquarium

    rows = workload(steps)
    source = aquarium.open_store(os.path.join(tmp, "store"))
    with aquarium.start_run(name="w1", experiment="w1", store=source, capture_source=False) as run:
        for step, row in enumerate(rows):
            run.log(row, step=step)
    original = source.history(run.id)
    stamps = {k: s.timestamps.tolist() for k, s in original.items()}

    spans = {}
    start = time.perf_counter()
    import wandb  # timed apart, as for W&B's side

    spans["import_wandb"] = time.perf_counter() - start
    out = os.path.join(tmp, "wandb-out")
    cpu, start = _cpu(), time.perf_counter()
    (exported,) = aquarium.export([run.id], "wandb", to=out, store=source, progress=False, writer=writer)
    spans["write"] = time.perf_counter() - start
    spans["write_cpu"] = _cpu() - cpu + _service_cpu(wandb)
    if exported.status != "ok":
        return {**spans, "error": exported.error}

    store = aquarium.open_store(os.path.join(tmp, "imported"))
    start = time.perf_counter()
    (result,) = aquarium.import_runs("wandb", out, store=store, progress=False)
    spans["import"] = time.perf_counter() - start
    error = result.error or _check(store.history(result.run_id), rows, stamps)
    # the same run read from its W&B records alone (run.json set aside), for the record
    (run_json,) = Path(out, "wandb").glob("offline-run-*/files/aquarium/run.json")
    run_json.rename(run_json.with_suffix(".json.off"))
    bare = aquarium.open_store(os.path.join(tmp, "imported-bare"))
    start = time.perf_counter()
    (result,) = aquarium.import_runs("wandb", out, store=bare, progress=False)
    spans["import_records"] = time.perf_counter() - start
    error = error or result.error or _check(bare.history(result.run_id), rows, stamps)
    return {**spans, "points": exported.points, "error": error}


def worker(side: str, steps: int, tmp: str) -> None:
    if side == "wandb":
        result = side_wandb(steps, tmp)
    else:
        result = side_aquarium(steps, tmp, "client" if side == "aquarium_client" else "direct")
    print(json.dumps({"side": side, "steps": steps, **result}))


def run_one(side: str, steps: int, timeout: float) -> dict:
    return run_side(__file__, side, ["--steps", str(steps)], timeout)


def main(argv: list[str] | None = None) -> int:
    parser = harness_parser(__doc__, SIDES, repeat=3, timeout=900, results=RESULTS, steps=STEPS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.steps, args.dir)
        return 0

    load_before = os.getloadavg()
    print(f"W1 ⇄ W&B offline: {METRICS} metrics × {args.steps:,} steps; median of {args.repeat}; "
          f"{os.cpu_count()} CPUs; load {load_before[0]:.1f}", flush=True)
    started = time.perf_counter()
    reps = interleave(SIDES, args.repeat, lambda side: run_one(side, args.steps, args.timeout))

    w, a, ac = reps["wandb"], reps["aquarium"], reps["aquarium_client"]
    fig = {
        "wandb_write": median(w, "write"), "wandb_durable": median(w, "durable"), "wandb_loop": median(w, "loop"),
        "wandb_import": median(w, "import"),
        "wandb_inspect": median(w, "inspect"), "aquarium_export": median(a, "write"),
        "aquarium_import": median(a, "import"), "aquarium_import_records": median(a, "import_records"),
        "import_wandb_module": median(w + a, "import_wandb"),
        "wandb_write_cpu": median(w, "write_cpu"), "aquarium_export_cpu": median(a, "write_cpu"),
        "aquarium_export_client": median(ac, "write"), "aquarium_export_client_cpu": median(ac, "write_cpu"),
    }
    ratio = {
        "export / W&B client, file written": fig["aquarium_export"] / fig["wandb_durable"],
        "export / W&B client, finish() returned": fig["aquarium_export"] / fig["wandb_write"],
        "export / W&B client, CPU seconds": fig["aquarium_export_cpu"] / fig["wandb_write_cpu"],
        "export with writer=client / W&B client, file written": fig["aquarium_export_client"] / fig["wandb_durable"],
        "import (run.json) / wandb leet inspect": (fig["aquarium_import"] / fig["wandb_inspect"]
                                                  if fig["wandb_inspect"] else None),
        "import (records) / wandb leet inspect": (fig["wandb_import"] / fig["wandb_inspect"]
                                                 if fig["wandb_inspect"] else None),
    }
    print()
    rows = [
        (f"W&B client: init + {args.steps:,} × run.log(dict, step=s) + finish() returned", fig["wandb_write"]),
        ("  of which the log loop", fig["wandb_loop"]),
        ("  until its .wandb file is written to the end", fig["wandb_durable"]),
        ("Aquarium export() of the same run (store → offline run + run.json)", fig["aquarium_export"]),
        ("  CPU: the Python process over that span + the wandb-core service", fig["wandb_write_cpu"]),
        ("  CPU, the same for the export", fig["aquarium_export_cpu"]),
        ("the same export with writer=\"client\" (W&B's client, row by row)", fig["aquarium_export_client"]),
        ("  CPU, the same for it", fig["aquarium_export_client_cpu"]),
        ("Aquarium import of the exported run (reads aquarium/run.json)", fig["aquarium_import"]),
        ("Aquarium import of the exported run from its .wandb records alone", fig["aquarium_import_records"]),
        ("Aquarium import of W&B's own run (.wandb records)", fig["wandb_import"]),
        ("wandb leet inspect --json of W&B's own run (W&B's reader, Go)", fig["wandb_inspect"]),
        ("import wandb (both sides, not in the figures above)", fig["import_wandb_module"]),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"  {label.ljust(width)}  {fmt(value):>7} s")
    print()
    for label, value in ratio.items():
        print(f"  {label}: {'-' if value is None else f'{value:.2f}×'}")
    failed = [r["error"] for r in w + a + ac if r.get("error")]
    for error in failed[:1]:
        print(f"\nWARNING: a check failed: {error}")

    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({
        "workload": "W1 interop wandb", "metrics": METRICS, "steps": args.steps, "repeat": args.repeat,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "duration_s": time.perf_counter() - started,
        "machine": machine(), "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
        "versions": {**versions(), **_more_versions()}, "figures": fig, "ratios": ratio, "repetitions": reps,
    }, indent=2) + "\n")
    print(f"\nwrote {args.json}")
    return 1 if failed else 0


def _more_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return {"aquarium-wandb": version("aquarium-wandb")}
    except PackageNotFoundError:
        return {}


if __name__ == "__main__":
    sys.exit(main())
