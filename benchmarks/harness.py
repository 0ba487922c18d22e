"""What the side-by-side interop benchmarks share: one worker process per side, medians, formatting."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
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
