"""``python benchmarks`` (or ``python -m benchmarks`` from the repository root): run every workload.

Arguments are passed on to each workload, e.g. ``python benchmarks --quick``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import w1_logging

if __name__ == "__main__":
    sys.exit(w1_logging.main())
