"""Which way is better for a metric: the one place that decides it.

"best" minimizes when a whole token of the key (split on ``/ . _ -``) names a loss or an
error, and maximizes otherwise. ``run.set_direction(key, ...)`` stores an override on the
run; ``compare(direction=...)`` overrides for one call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

MINIMIZE_TOKENS = frozenset({"loss", "error", "err", "perplexity", "ppl", "mse", "mae", "rmse", "wer", "cer"})
_SPLIT = re.compile(r"[/._\-]")


def default_direction(key: str) -> str:
    """``"min"`` or ``"max"`` from the key's name alone."""
    tokens = {t.lower() for t in _SPLIT.split(key)}
    return "min" if tokens & MINIMIZE_TOKENS else "max"


def direction(key: str, *overrides: Mapping[str, str] | None) -> str:
    """The direction of ``key``: the first override that names it, else the default."""
    for mapping in overrides:
        if mapping and key in mapping:
            return mapping[key]
    return default_direction(key)
