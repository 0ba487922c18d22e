"""W1 (issue 2): one run, 10 metrics x 10,000 steps, one ``log(dict, step=...)`` call per step.

Runs Aquarium beside the tools users would pick instead, each repetition of each tool in its
own subprocess and its own fresh temp dir, and prints the medians and the ratios::

    python benchmarks/w1_logging.py                 # full workload, 3 repetitions (~10 min on 2 cores)
    python benchmarks/w1_logging.py --quick         # slow tools at 1,000 steps, figures scaled x10
    python benchmarks/w1_logging.py --tools aquarium,wandb --repeat 5

Tools (``--tools``):

- ``aquarium``      ``run.log(dict, step=s)``; durable after ``run.flush()``; read ``store.history(run_id)``.
- ``mlflow``        ``mlflow.log_metrics(dict, step=s)`` per step, sqlite backend; durable after ``end_run()``;
                    read ``MlflowClient.get_metric_history`` per key.
- ``mlflow_batch``  ``MlflowClient.log_batch`` with chunks of 1,000 ``Metric`` objects, sqlite backend.
- ``wandb``         offline ``run.log(dict, step=s)``; durable after ``finish()``; read by parsing the
                    ``.wandb`` file (LevelDB-log framing of protobuf records).
- ``tensorboardx``  ``add_scalar`` per metric per step; durable after ``close()``; read with
                    ``EventAccumulator`` (``size_guidance`` 0 for scalars, so nothing is sampled away).

Figures per tool: ``loop`` (first log call to the last one returning), ``durable`` (loop plus the
call that makes the data durable), ``read`` (all 10 series back into memory). ``setup`` (start of
the run: ``start_run``, ``wandb.init``...) is timed apart and is not part of the others. Every read
is checked: 10 series of the full length, with the logged steps and values.

Results go to ``benchmarks/results/w1.json`` (gitignored).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "w1.json"

METRICS = 10
STEPS = 10_000
QUICK_STEPS = 1_000
BATCH_CHUNK = 1_000  # metrics per MLflow log_batch call
KEYS = [f"metric_{i}" for i in range(METRICS)]

TOOLS = ["aquarium", "mlflow", "mlflow_batch", "wandb", "tensorboardx"]
SLOW_TOOLS = {"mlflow", "mlflow_batch", "tensorboardx"}  # scaled down by --quick
LABELS = {
    "aquarium": "Aquarium",
    "mlflow": "MLflow per-step",
    "mlflow_batch": "MLflow log_batch",
    "wandb": "W&B offline",
    "tensorboardx": "tensorboardX",
}
# Calls the logging loop makes per step (for the µs-per-call column).
CALLS_PER_STEP = {"aquarium": 1, "mlflow": 1, "mlflow_batch": METRICS / BATCH_CHUNK, "wandb": 1,
                  "tensorboardx": METRICS}

# Issue 2 targets for Aquarium.
TARGETS = {"loop": 0.05, "durable": 0.1, "read": 0.01}
FASTER_THAN = {"wandb": 20, "mlflow": 100, "mlflow_batch": 100}
FIGURES = ("loop", "durable", "read")


# ------------------------------------------------------------------------------------------------
# Workers: each runs in its own process, in its own temp dir, and prints one JSON line.
# ------------------------------------------------------------------------------------------------
def workload(steps: int) -> list[dict[str, float]]:
    """The values to log, made before any clock starts: ``steps`` dicts of 10 plain floats."""
    import random

    rng = random.Random(20240502)
    return [{k: rng.uniform(-10.0, 10.0) for k in KEYS} for _ in range(steps)]


class Clock:
    """Named wall-clock spans, in seconds."""

    def __init__(self) -> None:
        self.spans: dict[str, float] = {}

    @contextlib.contextmanager
    def span(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.spans[name] = time.perf_counter() - start


def check(series: dict[str, tuple[list[int], list[float]]], rows: list[dict[str, float]],
          same: Callable[[float, float], bool]) -> str | None:
    """``None`` if ``series`` (key -> (steps, values)) holds exactly what was logged, else what's wrong."""
    if sorted(series) != KEYS:
        return f"keys read back: {sorted(series)}"
    for key in KEYS:
        steps, values = series[key]
        if len(steps) != len(rows):
            return f"{key}: {len(steps)} points read back, {len(rows)} logged"
        order = sorted(range(len(steps)), key=steps.__getitem__)
        if [steps[i] for i in order] != list(range(len(rows))):
            return f"{key}: steps differ from the logged ones"
        if not all(same(values[i], rows[s][key]) for s, i in enumerate(order)):
            return f"{key}: values differ from the logged ones"
    return None


def exact(a: float, b: float) -> bool:
    return a == b


def as_float32(a: float, b: float) -> bool:
    return a == struct.unpack("f", struct.pack("f", b))[0]


def bench_aquarium(steps: int, tmp: str, clock: Clock) -> tuple[dict, Callable[..., str | None]]:
    with clock.span("import"):
        import aquarium
    rows = workload(steps)
    with clock.span("setup"):
        run = aquarium.start_run(name="w1", experiment="w1", store=os.path.join(tmp, "store"))
    with clock.span("loop"):
        for step, row in enumerate(rows):
            run.log(row, step=step)
    with clock.span("make_durable"):
        run.flush()
    with clock.span("finish"):  # not part of "durable": flush() already committed everything
        run.finish()
    with clock.span("read"):
        history = run.store.history(run.id)
    series = {k: (s.steps.tolist(), s.values.tolist()) for k, s in history.items()}
    return series, lambda: check(series, rows, exact)


def _mlflow_setup(tmp: str) -> Any:
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
    mlflow.set_experiment("w1")
    return mlflow.start_run(run_name="w1")


def _mlflow_read(tmp: str, run_id: str) -> dict:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp}/mlflow.db")
    series = {}
    for key in KEYS:
        points = client.get_metric_history(run_id, key)
        series[key] = ([m.step for m in points], [m.value for m in points])
    return series


def bench_mlflow(steps: int, tmp: str, clock: Clock) -> tuple[dict, Callable[..., str | None]]:
    with clock.span("import"):
        import mlflow
    rows = workload(steps)
    with clock.span("setup"):
        run_id = _mlflow_setup(tmp).info.run_id
    with clock.span("loop"):
        for step, row in enumerate(rows):
            mlflow.log_metrics(row, step=step)
    with clock.span("make_durable"):
        mlflow.end_run()
    with clock.span("read"):
        series = _mlflow_read(tmp, run_id)
    return series, lambda: check(series, rows, exact)


def bench_mlflow_batch(steps: int, tmp: str, clock: Clock) -> tuple[dict, Callable[..., str | None]]:
    with clock.span("import"):
        import mlflow
        from mlflow.entities import Metric
        from mlflow.tracking import MlflowClient
    rows = workload(steps)
    with clock.span("setup"):
        run_id = _mlflow_setup(tmp).info.run_id
        client = MlflowClient()
    with clock.span("loop"):
        pending: list[Metric] = []
        for step, row in enumerate(rows):
            ms = int(time.time() * 1000)
            pending.extend(Metric(k, v, ms, step) for k, v in row.items())
            if len(pending) >= BATCH_CHUNK:
                client.log_batch(run_id, metrics=pending)
                pending = []
    with clock.span("make_durable"):
        if pending:
            client.log_batch(run_id, metrics=pending)
        mlflow.end_run()
    with clock.span("read"):
        series = _mlflow_read(tmp, run_id)
    return series, lambda: check(series, rows, exact)


def wandb_records(path: str) -> Iterator[Any]:
    """Every ``Record`` of an offline ``.wandb`` file, without a server.

    Format: header ``b":W&B"``, u16 0xBEE1, u8 version 0; then LevelDB-log blocks of 32,768 bytes,
    each chunk ``u32 crc32, u16 length, u8 type`` (1 full, 2 first, 3 middle, 4 last) + payload.
    """
    from wandb.proto import wandb_internal_pb2 as pb

    with open(path, "rb") as file:
        data = file.read()
    if struct.unpack("<4sHB", data[:7]) != (b":W&B", 0xBEE1, 0):
        raise ValueError(f"{path} is not a W&B transaction log")
    pos, buf = 7, b""
    while pos + 7 <= len(data):
        left = 32768 - pos % 32768
        if left < 7:  # block trailer padding
            pos += left
            continue
        crc, size, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if kind == 0 and size == 0:  # zero padding up to the block end
            pos += left
            continue
        payload = data[pos + 7:pos + 7 + size]
        if zlib.crc32(payload, zlib.crc32(bytes([kind]))) != crc:
            raise ValueError(f"{path}: bad checksum at byte {pos}")
        pos += 7 + size
        if kind == 2:
            buf = payload
            continue
        if kind == 3:
            buf += payload
            continue
        buf = payload if kind == 1 else buf + payload
        record = pb.Record()
        record.ParseFromString(buf)
        yield record


def wandb_series(path: str) -> dict[str, tuple[list[int], list[float]]]:
    """The metric series of an offline run file (``_step``, ``_runtime``, ``_timestamp`` left out)."""
    series: dict[str, tuple[list[int], list[float]]] = {}
    for record in wandb_records(path):
        if record.WhichOneof("record_type") != "history":
            continue
        items = {it.key or "/".join(it.nested_key): it.value_json for it in record.history.item}
        step = int(items.pop("_step"))
        for key, value in items.items():
            if not key.startswith("_"):
                steps, values = series.setdefault(key, ([], []))
                steps.append(step)
                values.append(float(value))  # float() keeps exact float64 (and "NaN", "Infinity")
    return series


def bench_wandb(steps: int, tmp: str, clock: Clock) -> tuple[dict, Callable[..., str | None]]:
    with clock.span("import"):
        import wandb
    rows = workload(steps)
    with clock.span("setup"):
        run = wandb.init(project="w1", name="w1", dir=tmp,
                         settings=wandb.Settings(mode="offline", x_disable_stats=True, x_disable_meta=True,
                                                 console="off", save_code=False, disable_git=True,
                                                 silent=True))
    with clock.span("loop"):
        for step, row in enumerate(rows):
            run.log(row, step=step)
    with clock.span("make_durable"):
        run.finish()
    with clock.span("read"):
        (path,) = Path(tmp, "wandb").glob("offline-run-*/run-*.wandb")
        series = wandb_series(str(path))
    return series, lambda: check(series, rows, exact)


def bench_tensorboardx(steps: int, tmp: str, clock: Clock) -> tuple[dict, Callable[..., str | None]]:
    with clock.span("import"):
        from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator
        from tensorboardX import SummaryWriter
    rows = workload(steps)
    logdir = os.path.join(tmp, "tb")
    with clock.span("setup"):
        writer = SummaryWriter(logdir=logdir)
    with clock.span("loop"):
        for step, row in enumerate(rows):
            for key, value in row.items():
                writer.add_scalar(key, value, global_step=step)
    with clock.span("make_durable"):
        writer.close()
    with clock.span("read"):
        acc = EventAccumulator(logdir, size_guidance={SCALARS: 0})
        acc.Reload()
        series = {}
        for key in acc.Tags()["scalars"]:
            events = acc.Scalars(key)
            series[key] = ([e.step for e in events], [e.value for e in events])
    return series, lambda: check(series, rows, as_float32)  # TensorBoard scalars are float32


BENCHES = {"aquarium": bench_aquarium, "mlflow": bench_mlflow, "mlflow_batch": bench_mlflow_batch,
           "wandb": bench_wandb, "tensorboardx": bench_tensorboardx}


def worker(tool: str, steps: int, tmp: str) -> None:
    clock = Clock()
    _, verify = BENCHES[tool](steps, tmp, clock)
    s = clock.spans
    print(json.dumps({
        "tool": tool, "steps": steps, "import": s["import"], "setup": s["setup"], "loop": s["loop"],
        "durable": s["loop"] + s["make_durable"], "make_durable": s["make_durable"], "read": s["read"],
        "error": verify(),
    }))


# ------------------------------------------------------------------------------------------------
# Driver
# ------------------------------------------------------------------------------------------------
def tool_env(tmp: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
        "WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_DISABLE_GIT": "true",
        "WANDB_DISABLE_CODE": "true", "WANDB_CONSOLE": "off", "WANDB_DIR": tmp,
        "WANDB_CACHE_DIR": os.path.join(tmp, ".cache"), "WANDB_CONFIG_DIR": os.path.join(tmp, ".config"),
        "WANDB_DATA_DIR": os.path.join(tmp, ".data"),
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    env.pop("AQUARIUM_STORE", None)
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def run_one(tool: str, steps: int, timeout: float) -> dict:
    """One repetition of one tool: a fresh process in a fresh temp dir (removed afterwards)."""
    tmp = tempfile.mkdtemp(prefix=f"aquarium-w1-{tool}-")
    try:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", tool,
                               "--steps", str(steps), "--dir", tmp],
                              cwd=tmp, env=tool_env(tmp), capture_output=True, text=True, timeout=timeout)
        wall = time.perf_counter() - start
        lines = [line for line in proc.stdout.splitlines() if line.startswith('{"tool"')]
        if proc.returncode != 0 or not lines:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
            raise RuntimeError(f"{tool} worker failed (exit {proc.returncode}):\n  " + "\n  ".join(tail))
        result = json.loads(lines[-1])
        result["process"] = wall
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("aquarium-core", "mlflow", "wandb", "tensorboardX", "tensorboard", "protobuf", "numpy"):
        with contextlib.suppress(PackageNotFoundError):
            found[name] = version(name)
    return found


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                            "platform": platform.platform()}
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError):
        info["memory_gb"] = round(int(Path("/proc/meminfo").read_text().split()[1]) / 2**20, 1)
    return info


def summarize(tool: str, reps: list[dict], full_steps: int) -> dict:
    steps = reps[0]["steps"]
    scale = full_steps / steps
    out: dict[str, Any] = {"tool": tool, "label": LABELS[tool], "steps_run": steps, "scale": scale,
                           "repetitions": reps, "errors": [r["error"] for r in reps if r["error"]]}
    for name in ("import", "setup", "make_durable", "process"):
        out[name] = statistics.median(r[name] for r in reps)
    for name in FIGURES:
        values = [r[name] for r in reps]
        out[name] = statistics.median(values) * scale  # scaled to the full workload under --quick
        out[f"{name}_min"], out[f"{name}_max"] = min(values) * scale, max(values) * scale
    out["us_per_step"] = out["loop"] / full_steps * 1e6
    out["us_per_call"] = out["loop"] / (full_steps * CALLS_PER_STEP[tool]) * 1e6
    return out


def fmt_s(seconds: float) -> str:
    if seconds < 0.1:
        return f"{seconds:.4f}"
    if seconds < 10:
        return f"{seconds:.3f}"
    return f"{seconds:.1f}"


def fmt_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "-"
    return f"{ratio:.2f}×" if ratio < 10 else f"{ratio:,.0f}×"


def table(summaries: dict[str, dict]) -> str:
    base = summaries.get("aquarium")
    head = ["tool", "loop s", "durable s", "read s", "µs/step", "µs/call", "loop ×", "durable ×", "read ×",
            "setup s"]
    body = []
    for tool, s in summaries.items():
        label = s["label"] + (f" [{s['steps_run']:,} steps ×{s['scale']:g}]" if s["scale"] != 1 else "")
        ratios = [fmt_ratio(s[f] / base[f]) if base and tool != "aquarium" else "-" for f in FIGURES]
        body.append([label, fmt_s(s["loop"]), fmt_s(s["durable"]), fmt_s(s["read"]), f"{s['us_per_step']:,.1f}",
                     f"{s['us_per_call']:,.1f}", *ratios, fmt_s(s["setup"])])
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in [head, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def target_checks(summaries: dict[str, dict]) -> list[dict]:
    base = summaries.get("aquarium")
    if base is None:
        return []
    checks = [{"what": f"Aquarium {f} ≤ {limit} s", "value": base[f], "ok": base[f] <= limit}
              for f, limit in TARGETS.items()]
    for tool, factor in FASTER_THAN.items():
        if tool in summaries:
            for f in FIGURES:
                ratio = summaries[tool][f] / base[f]
                checks.append({"what": f"{f}: ≥ {factor}× faster than {LABELS[tool]}", "value": ratio,
                               "ok": ratio >= factor})
    return checks


def main(argv: list[str] | None = None) -> int:
    intro, _, details = __doc__.partition("\n\n")
    parser = argparse.ArgumentParser(description=intro, epilog=details,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated, from {','.join(TOOLS)}")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per tool; medians are reported")
    parser.add_argument("--steps", type=int, default=STEPS, help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true",
                        help=f"run {', '.join(sorted(SLOW_TOOLS))} at {QUICK_STEPS:,} steps and scale their "
                             f"figures to the full workload")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per worker process")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"where to write results (default {RESULTS})")
    parser.add_argument("--worker", choices=TOOLS, help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        worker(args.worker, args.steps, args.dir)
        return 0

    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = sorted(set(tools) - set(TOOLS))
    if unknown or not tools:
        parser.error(f"unknown tools {unknown}; choose from {', '.join(TOOLS)}")
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    steps = {t: min(QUICK_STEPS, args.steps) if args.quick and t in SLOW_TOOLS else args.steps for t in tools}

    load_before = os.getloadavg()
    print(f"W1: 1 run, {METRICS} metrics × {args.steps:,} steps, one log call per step; "
          f"median of {args.repeat}; {os.cpu_count()} CPUs", flush=True)
    reps: dict[str, list[dict]] = {t: [] for t in tools}
    started = time.perf_counter()
    for rep in range(args.repeat):  # interleave tools so slow drift in the machine hits them all alike
        for tool in tools:
            result = run_one(tool, steps[tool], args.timeout)
            reps[tool].append(result)
            note = f"  CHECK FAILED: {result['error']}" if result["error"] else ""
            print(f"  [{rep + 1}/{args.repeat}] {tool:<13} steps={steps[tool]:>6,}  loop {result['loop']:8.3f} s  "
                  f"durable {result['durable']:8.3f} s  read {result['read']:7.4f} s  "
                  f"(process {result['process']:.1f} s){note}", flush=True)

    summaries = {t: summarize(t, reps[t], args.steps) for t in tools}
    checks = target_checks(summaries)
    print()
    print(table(summaries))
    if any(s["scale"] != 1 for s in summaries.values()):
        print("\n[n steps, ×k]: run at n steps (--quick); loop, durable, read and µs figures are scaled ×k.")
    print("\nloop/durable/read × = that tool's time divided by Aquarium's (how many times slower).")
    if {"mlflow", "mlflow_batch"} & set(summaries):
        print("MLflow: sqlite backend; per-step = mlflow.log_metrics(dict, step) each step; log_batch = "
              f"MlflowClient.log_batch every {BATCH_CHUNK:,} metrics.")
    print("µs/call: per log call (Aquarium, MLflow per-step, W&B: one per step; tensorboardX: one add_scalar per "
          f"metric; log_batch: one per {BATCH_CHUNK // METRICS} steps).")
    if checks:
        print("\nIssue 2 targets:")
        for c in checks:
            value = fmt_s(c["value"]) + " s" if "≤" in c["what"] else fmt_ratio(c["value"])
            print(f"  {'PASS' if c['ok'] else 'MISS'}  {c['what']}: {value}")
    failed = {t: s["errors"] for t, s in summaries.items() if s["errors"]}
    for tool, errors in failed.items():
        print(f"\nWARNING: {tool} did not read back what was logged: {errors[0]}")

    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({
        "workload": "W1", "metrics": METRICS, "steps": args.steps, "repeat": args.repeat, "quick": args.quick,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "duration_s": time.perf_counter() - started,
        "machine": machine(), "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
        "versions": versions(), "targets": TARGETS, "checks": checks,
        "results": summaries,
    }, indent=2) + "\n")
    print(f"\nwrote {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
