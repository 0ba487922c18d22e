"""What the side-by-side interop benchmarks share: one worker process per side, medians, formatting."""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from w1_logging import tool_env


def run_side(script: str, side: str, args: list[str], timeout: float) -> dict:
    """Run ``script --worker SIDE ARGS --dir TMP`` in a fresh process and temp dir; return the JSON
    line it printed (starting with ``{"side"``), plus the whole process time as ``process``."""
    tmp = tempfile.mkdtemp(prefix=f"aquarium-{Path(script).stem}-{side}-")
    try:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, str(Path(script).resolve()), "--worker", side, *args, "--dir", tmp],
                              cwd=tmp, env=tool_env(tmp), capture_output=True, text=True, timeout=timeout)
        lines = [line for line in proc.stdout.splitlines() if line.startswith('{"side"')]
        if proc.returncode != 0 or not lines:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
            raise RuntimeError(f"{side} worker failed (exit {proc.returncode}):\n  " + "\n  ".join(tail))
        result = json.loads(lines[-1])
        result["process"] = time.perf_counter() - start
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def median(reps: list[dict], name: str) -> float | None:
    """The median of ``name`` over repetitions that have it."""
    values = [r[name] for r in reps if r.get(name) is not None]
    return statistics.median(values) if values else None


def fmt(value: float | None) -> str:
    """Seconds to the millisecond, or ``-``."""
    return "-" if value is None else f"{value:.3f}"


def parser(doc: str, sides: tuple[str, ...], *, repeat: int, timeout: float, results: Path,
           steps: int) -> argparse.ArgumentParser:
    """The command line every interop benchmark shares (its worker arguments hidden)."""
    intro, _, details = doc.partition("\n\n")
    out = argparse.ArgumentParser(description=intro, epilog=details,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    out.add_argument("--repeat", type=int, default=repeat, help="repetitions per side; medians are reported")
    out.add_argument("--steps", type=int, default=steps, help=argparse.SUPPRESS)
    out.add_argument("--timeout", type=float, default=timeout, help="seconds per worker process")
    out.add_argument("--json", type=Path, default=results, help=f"where to write results (default {results})")
    out.add_argument("--worker", choices=sides, help=argparse.SUPPRESS)
    out.add_argument("--dir", help=argparse.SUPPRESS)
    return out


def interleave(sides: tuple[str, ...], repeat: int, run: Callable[[str], dict],
               figures: tuple[str, ...] = ("write", "import")) -> dict[str, list[dict]]:
    """Run every side ``repeat`` times, interleaved so drift in the machine's load hits all alike;
    print each repetition's ``figures`` as it finishes. Returns the results by side."""
    reps: dict[str, list[dict]] = {s: [] for s in sides}
    for rep in range(repeat):
        for side in sides:
            r = run(side)
            reps[side].append(r)
            shown = "  ".join(f"{name} {fmt(r.get(name))} s" for name in figures)
            note = f"  CHECK FAILED: {r['error']}" if r.get("error") else ""
            print(f"  [{rep + 1}/{repeat}] {side:<12} {shown}  (process {r['process']:.1f} s){note}", flush=True)
    return reps
