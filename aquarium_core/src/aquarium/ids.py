"""Run ids that sort by creation time and are unique across processes and machines.

A run id is a ULID in lower-case Crockford base32 (26 characters): 48 bits of
milliseconds since the epoch, then 80 random bits. Within one process, ids made in the
same millisecond increment the random part, so they still sort in creation order.
"""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_lock = threading.Lock()
_last = (0, 0)


def new_run_id() -> str:
    """A new, time-sortable, globally unique run id."""
    global _last
    with _lock:
        ms = time.time_ns() // 1_000_000
        last_ms, last_rand = _last
        if ms <= last_ms:
            ms, rand = last_ms, (last_rand + 1) % (1 << 80)
        else:
            rand = int.from_bytes(os.urandom(10), "big")
        _last = (ms, rand)
    value = (ms << 80) | rand
    return "".join(_ALPHABET[(value >> shift) & 31] for shift in range(125, -1, -5))
