"""TensorBoard interop: export of the W1 run (10 metrics × 10,000 steps) beside tensorboardX, and
import of the 100,000-point logdirs beside TensorBoard's own EventAccumulator.

Each repetition of each side runs in its own subprocess and its own fresh temp dir, and the
medians are printed with ratios::

    python benchmarks/interop_tensorboard.py              # 1 repetition (~1.5 min on 2 cores)
    python benchmarks/interop_tensorboard.py --repeat 3

Sides:

- ``tensorboardx``  tensorboardX the way its docs recommend: ``SummaryWriter``, one
                    ``add_scalar(key, value, global_step=step)`` per point, ``close()``. The logdir
                    (100,000 float32 ``simple_value`` points, as PyTorch writes them too) is then
                    loaded by TensorBoard's ``EventAccumulator`` (``size_guidance`` 0: every point)
                    and imported with ``aquarium.import_runs("tensorboard", ...)``.
- ``aquarium``      The W1 run logged into an Aquarium store first (not timed), then
                    ``aquarium.export([run], "tensorboard", to=...)`` (reads the store, writes the
                    float64 tensors, hparams, text and ``aquarium/run.json``). The exported logdir is
                    loaded by ``EventAccumulator`` and imported back into a fresh store.

Figures: ``write`` (tensorboardX: writer, loop and close; Aquarium: the whole ``export()``
call), ``accumulator`` (``EventAccumulator(...).Reload()``), ``acc+values`` (the same, then
every series into Python lists: ``Scalars()``, or ``Tensors()`` with ``make_ndarray``),
``import`` (``import_runs`` into a fresh store: discover, read, store writes) and ``read``
(the importer's ``discover`` + ``read`` alone, no store). Within a repetition, the
EventAccumulator load and the import alternate ``--rounds`` times (default 3) and the least
time of each is kept, so a burst of load on a shared machine hits neither alone. Imports of tensorboardX's log are
checked against what EventAccumulator read (float32 values, steps, wall times); the
Aquarium round trip against the original run (float64 values, steps, timestamps).

Results go to ``benchmarks/results/interop_tensorboard.json`` (gitignored).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import fmt, interleave, median, run_side  # noqa: E402
from harness import parser as harness_parser  # noqa: E402
from w1_logging import KEYS, METRICS, STEPS, machine, versions, workload  # noqa: E402

RESULTS = HERE / "results" / "interop_tensorboard.json"
SIDES = ("tensorboardx", "aquarium")
GUIDANCE = {"scalars": 0, "tensors": 0, "images": 0, "histograms": 0, "audio": 0, "compressedHistograms": 0}


def _accumulate(logdir: str, spans: dict) -> dict[str, tuple[list, list, list]]:
    """EventAccumulator over the one run directory of ``logdir``: Reload, then every series."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    runs = [os.path.join(logdir, d) for d in os.listdir(logdir) if os.path.isdir(os.path.join(logdir, d))]
    folder = runs[0] if runs else logdir
    start = time.perf_counter()
    acc = EventAccumulator(folder, size_guidance=GUIDANCE)
    acc.Reload()
    _least(spans, "accumulator", time.perf_counter() - start)
    series = {}
    for key in acc.Tags()["scalars"]:
        events = acc.Scalars(key)
        series[key] = ([e.step for e in events], [e.value for e in events], [e.wall_time for e in events])
    for key in KEYS:
        if key in acc.Tags()["tensors"]:
            events = acc.Tensors(key)
            series[key] = ([e.step for e in events],
                           [tensor_util.make_ndarray(e.tensor_proto).item() for e in events],
                           [e.wall_time for e in events])
    _least(spans, "acc+values", time.perf_counter() - start)
    return series


def _least(spans: dict, name: str, seconds: float) -> None:
    spans[name] = min(seconds, spans.get(name, seconds))


def _import(logdir: str, tmp: str, spans: dict):
    import aquarium
    from aquarium_tensorboard import TensorBoardImporter

    start = time.perf_counter()
    importer = TensorBoardImporter()
    bundles = [importer.read(item, logdir) for item in importer.discover(logdir)]
    _least(spans, "read", time.perf_counter() - start)
    del bundles
    store = aquarium.open_store(tempfile.mkdtemp(prefix="imported-", dir=tmp))
    start = time.perf_counter()
    (result,) = aquarium.import_runs("tensorboard", logdir, store=store, progress=False)
    _least(spans, "import", time.perf_counter() - start)
    return result, store


def _reads(logdir: str, tmp: str, spans: dict, rounds: int):
    """EventAccumulator and the import, alternated ``rounds`` times (the least time of each is
    kept: on a busy machine the least is the one least disturbed)."""
    for _ in range(rounds):
        expected = _accumulate(logdir, spans)
        result, store = _import(logdir, tmp, spans)
    return expected, result, store


def _check(history: dict, expected: dict[str, tuple[list, list, list]]) -> str | None:
    if sorted(history) != sorted(expected):
        return f"keys imported: {sorted(history)}"
    for key, (steps, values, times) in expected.items():
        series = history[key]
        if len(series) != len(steps):
            return f"{key}: {len(series)} points imported, {len(steps)} expected"
        if series.steps.tolist() != steps:
            return f"{key}: steps differ"
        if series.values.tolist() != values:
            return f"{key}: values differ"
        if series.timestamps.tolist() != times:
            return f"{key}: timestamps differ"
    return None


def side_tensorboardx(steps: int, tmp: str, rounds: int) -> dict:
    spans = {}
    start = time.perf_counter()
    from tensorboardX import SummaryWriter

    spans["import_lib"] = time.perf_counter() - start
    rows = workload(steps)
    logdir = os.path.join(tmp, "tb")
    start = time.perf_counter()
    writer = SummaryWriter(logdir=logdir)
    for step, row in enumerate(rows):
        for key, value in row.items():
            writer.add_scalar(key, value, global_step=step)
    writer.close()
    spans["write"] = time.perf_counter() - start
    expected, result, store = _reads(logdir, tmp, spans, rounds)
    error = None if sum(len(s[0]) for s in expected.values()) == steps * METRICS else "EventAccumulator lost points"
    error = error or result.error or _check(store.history(result.run_id), expected)
    return {**spans, "points": result.points, "error": error}


def side_aquarium(steps: int, tmp: str, rounds: int) -> dict:
    import aquarium

    rows = workload(steps)
    source = aquarium.open_store(os.path.join(tmp, "store"))
    with aquarium.start_run(name="w1", experiment="w1", store=source, capture_source=False,
                            params={"lr": 0.001, "batch": 32}) as run:
        for step, row in enumerate(rows):
            run.log(row, step=step)
    original = {k: (s.steps.tolist(), s.values.tolist(), s.timestamps.tolist())
                for k, s in source.history(run.id).items()}

    spans = {}
    start = time.perf_counter()
    import tensorboardX  # noqa: F401 - timed apart, as for tensorboardX's side

    spans["import_lib"] = time.perf_counter() - start
    logdir = os.path.join(tmp, "tb")
    start = time.perf_counter()
    (exported,) = aquarium.export([run.id], "tensorboard", to=logdir, store=source, progress=False)
    spans["write"] = time.perf_counter() - start
    if exported.status != "ok":
        return {**spans, "error": exported.error}
    seen, result, store = _reads(logdir, tmp, spans, rounds)
    error = _check_values(seen, original)
    error = error or result.error or _check(store.history(result.run_id), original)
    return {**spans, "points": exported.points, "error": error}


def _check_values(seen: dict, original: dict) -> str | None:
    """What EventAccumulator read from the export: every point, float64 exact."""
    for key, (steps, values, _times) in original.items():
        if key not in seen or seen[key][0] != steps or seen[key][1] != values:
            return f"EventAccumulator read {key} differently from the original"
    return None


def worker(side: str, steps: int, tmp: str, rounds: int) -> None:
    result = (side_tensorboardx if side == "tensorboardx" else side_aquarium)(steps, tmp, rounds)
    print(json.dumps({"side": side, "steps": steps, **result}))


def run_one(side: str, steps: int, rounds: int, timeout: float) -> dict:
    return run_side(__file__, side, ["--steps", str(steps), "--rounds", str(rounds)], timeout)


def ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None or b == 0 else f"{a / b:.2f}x"


FIGURES = ("write", "accumulator", "acc+values", "read", "import")


def main(argv: list[str] | None = None) -> int:
    parser = harness_parser(__doc__, SIDES, repeat=1, timeout=900, results=RESULTS, steps=STEPS)
    parser.add_argument("--rounds", type=int, default=3,
                        help="EventAccumulator loads and imports alternated per repetition; the least is kept")
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.steps, args.dir, args.rounds)
        return 0

    load_before = os.getloadavg()
    print(f"W1 ⇄ TensorBoard: {METRICS} metrics × {args.steps:,} steps = {METRICS * args.steps:,} points; "
          f"median of {args.repeat}, reads least of {args.rounds}; {os.cpu_count()} CPUs; "
          f"load {load_before[0]:.1f}", flush=True)
    started = time.perf_counter()
    reps = interleave(SIDES, args.repeat, lambda side: run_one(side, args.steps, args.rounds, args.timeout))
    errors = [f"{side}: {r['error']}" for side in SIDES for r in reps[side] if r.get("error")]

    rows = {side: {name: median(reps[side], name) for name in (*FIGURES, "import_lib")} for side in SIDES}
    print(f"\n{'seconds':<14}" + "".join(f"{name:>13}" for name in FIGURES))
    for side in SIDES:
        label = "tensorboardX" if side == "tensorboardx" else "Aquarium"
        print(f"{label:<14}" + "".join(f"{fmt(rows[side][name]):>13}" for name in FIGURES))
    tbx, aq = rows["tensorboardx"], rows["aquarium"]
    print()
    print(f"export of W1: Aquarium {fmt(aq['write'])} s vs tensorboardX add_scalar {fmt(tbx['write'])} s "
          f"({ratio(aq['write'], tbx['write'])} of tensorboardX's time)")
    print(f"import of tensorboardX's 100,000-point log: {fmt(tbx['import'])} s vs EventAccumulator "
          f"{fmt(tbx['accumulator'])} s Reload / {fmt(tbx['acc+values'])} s with values "
          f"({ratio(tbx['import'], tbx['accumulator'])} of Reload)")
    print(f"import of Aquarium's export (float64 tensors): {fmt(aq['import'])} s vs EventAccumulator "
          f"{fmt(aq['accumulator'])} s Reload / {fmt(aq['acc+values'])} s with values "
          f"({ratio(aq['import'], aq['accumulator'])} of Reload)")
    print(f"checks: {'all imports equal what was logged' if not errors else 'FAILED: ' + '; '.join(errors)}")
    print(f"total {time.perf_counter() - started:.0f} s; load after {os.getloadavg()[0]:.1f}")

    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"workload": {"metrics": METRICS, "steps": args.steps},
                                     "repeat": args.repeat, "rounds": args.rounds, "machine": machine(),
                                     "versions": versions(),
                                     "load": [load_before[0], os.getloadavg()[0]], "medians": rows,
                                     "repetitions": reps, "errors": errors}, indent=2))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
