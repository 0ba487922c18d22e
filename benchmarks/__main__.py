"""``python benchmarks`` (or ``python -m benchmarks`` from the repository root): run the workloads.

By default W1 (``w1_logging``) and W2 (``w2_runs``); ``--all`` runs every workload in this folder
that imports (``compare_bench``, ``interop_*``, ``postgres_bench``, ``charts_*``, ``dashboard_*`` too), ``--only``
picks some. Every other option is passed on to each workload that accepts it (read from its
``--help``); an option no selected workload accepts is an error::

    python benchmarks                          # W1 and W2, full workloads
    python benchmarks --quick                  # the same, --quick where a workload has it
    python benchmarks --all --repeat 1
    python benchmarks --only w2 --tools aquarium --repeat 5
    python benchmarks --list

Each workload runs in its own process, one after the other, and writes its own
``benchmarks/results/*.json``. The exit status is 1 when any workload failed.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

DEFAULT = ("w1_logging", "w2_runs")
#: Every workload, in the order they run; ``*`` patterns are expanded, sorted, over the files present.
ORDER = ("w1_logging", "w2_runs", "compare_bench", "interop_*", "postgres_bench", "charts_*", "dashboard_*")


def workloads() -> list[str]:
    """Module names of the workloads present in this folder, in running order."""
    found: list[str] = []
    for pattern in ORDER:
        for path in sorted(HERE.glob(f"{pattern}.py")):
            if path.stem not in found:
                found.append(path.stem)
    return found


def matches(name: str, module: str) -> bool:
    """``--only`` names: the module name, or its prefix before ``_`` (``w2``, ``interop``, ``charts``)."""
    return module == name or module.startswith(name + "_")


def load(module: str) -> tuple[object | None, str]:
    """The imported workload, or ``None`` and why it cannot run."""
    try:
        found = importlib.import_module(module)
    except Exception as error:  # a missing optional dependency, or a workload in progress
        return None, f"not importable: {type(error).__name__}: {error}"
    if not callable(getattr(found, "main", None)):
        return None, "has no main()"
    return found, ""


def accepted(workload: object) -> set[str]:
    """The long options a workload accepts: the usage line of its ``--help``."""
    text = io.StringIO()
    with contextlib.redirect_stdout(text), contextlib.redirect_stderr(io.StringIO()), \
            contextlib.suppress(SystemExit):
        workload.main(["--help"])  # type: ignore[attr-defined]
    usage = text.getvalue().split("\n\n", 1)[0]
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", usage)) - {"--help"}


def option_groups(args: list[str]) -> list[tuple[str, list[str]]]:
    """``["--repeat", "5", "--quick"]`` -> ``[("--repeat", ["--repeat", "5"]), ("--quick", ["--quick"])]``."""
    groups: list[tuple[str, list[str]]] = []
    for arg in args:
        if arg.startswith("--"):
            groups.append((arg.split("=", 1)[0], [arg]))
        elif groups:
            groups[-1][1].append(arg)
        else:
            raise SystemExit(f"benchmarks: {arg!r} is not an option (options start with --)")
    return groups


def main(argv: list[str] | None = None) -> int:
    intro, _, details = __doc__.partition("\n\n")
    parser = argparse.ArgumentParser(prog="python benchmarks", description=intro, epilog=details,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--all", action="store_true", help="run every workload present that imports")
    parser.add_argument("--only", help="comma-separated workloads, by module name or prefix (w1, w2, compare, "
                                       "interop, interop_mlflow, postgres, charts ...)")
    parser.add_argument("--list", action="store_true", help="list the workloads and the options each accepts")
    own, rest = parser.parse_known_args(argv)

    present = workloads()
    if own.only:
        names = [n.strip() for n in own.only.split(",") if n.strip()]
        unknown = [n for n in names if not any(matches(n, m) for m in present)]
        if unknown:
            parser.error(f"no workload {', '.join(unknown)}; present: {', '.join(present)}")
        selected = [m for m in present if any(matches(n, m) for n in names)]
    elif own.all or own.list:
        selected = present
    else:
        selected = [m for m in present if m in DEFAULT]

    runnable: dict[str, tuple[object, set[str]]] = {}
    skipped: dict[str, str] = {}
    for module in selected:
        workload, why = load(module)
        if workload is None:
            skipped[module] = why
        else:
            runnable[module] = (workload, accepted(workload))

    if own.list:
        for module in selected:
            if module in runnable:
                mark = " (default)" if module in DEFAULT else ""
                print(f"{module}{mark}: {' '.join(sorted(runnable[module][1]))}")
            else:
                print(f"{module}: skipped, {skipped[module]}")
        return 0

    groups = option_groups(rest)
    nobody = sorted({name for name, _ in groups if not any(name in opts for _, opts in runnable.values())})
    if nobody:
        parser.error(f"no selected workload accepts {', '.join(nobody)} "
                     f"(selected: {', '.join(runnable) or 'none'}; see --list)")
    if any(name == "--json" for name, _ in groups) and sum("--json" in o for _, o in runnable.values()) > 1:
        parser.error("--json with several workloads would make them overwrite one file; use --only")

    outcomes: dict[str, str] = {}
    for module, (_, options) in runnable.items():
        passed = [arg for name, args in groups if name in options for arg in args]
        print(f"\n=== {module} {' '.join(passed)}".rstrip(), flush=True)
        start = time.perf_counter()
        code = subprocess.run([sys.executable, str(HERE / f"{module}.py"), *passed], cwd=HERE.parent).returncode
        took = time.perf_counter() - start
        outcomes[module] = f"{'ok' if code == 0 else f'FAILED (exit {code})'} in {took:.0f} s"

    print("\n=== summary")
    for module in selected:
        print(f"  {module:<22} {outcomes.get(module) or 'skipped: ' + skipped[module]}")
    return 1 if any(not text.startswith("ok") for text in outcomes.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
