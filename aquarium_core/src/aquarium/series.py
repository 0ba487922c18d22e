"""Numpy helpers every store and visualizer shares (vectorized, no per-point Python)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import attrs
import numpy as np

from .model import MetricSeries


def minmax_indices(values: np.ndarray, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` points that keep each bucket's minimum and maximum.

    The series is cut along its order into buckets of a power-of-two size, the smallest that
    needs no more than ``max_points // 2`` of them; from each the smallest and the largest
    value survive (NaN only where a bucket holds nothing else), so a spike anywhere in a long
    series stays visible. Indices come back sorted.

    The bucket size changes only when the series doubles, so while a series grows the points
    kept from its full buckets stay the same: a live chart receives the last bucket and the
    new ones, not the whole series again.
    """
    if isinstance(max_points, bool) or not isinstance(max_points, (int, np.integer)) or max_points < 2:
        raise ValueError(f"max_points {max_points!r} must be an int >= 2")
    n = len(values)
    if n <= max_points:
        return np.arange(n)
    size = 1 << (-(-n // (int(max_points) // 2)) - 1).bit_length()
    buckets = -(-n // size)
    padded = np.full(buckets * size, np.nan)
    padded[:n] = values
    grid = padded.reshape(buckets, size)
    nan = np.isnan(grid)
    lo = np.where(nan, np.inf, grid).argmin(axis=1)
    hi = np.where(nan, -np.inf, grid).argmax(axis=1)
    base = np.arange(buckets) * size
    keep = np.unique(np.concatenate([base + lo, base + hi]))
    return keep[keep < n]


def downsample(series: MetricSeries, max_points: int) -> MetricSeries:
    """``series`` reduced by :func:`minmax_indices`."""
    keep = minmax_indices(series.values, max_points)
    if len(keep) == len(series):
        return series
    return MetricSeries(series.key, series.steps[keep], series.values[keep], series.timestamps[keep])


def step_range(series: MetricSeries, start_step: int | None, end_step: int | None) -> MetricSeries:
    """The points of ``series`` with ``start_step <= step <= end_step`` (either bound optional)."""
    if start_step is None and end_step is None:
        return series
    mask = np.ones(len(series), dtype=bool)
    if start_step is not None:
        mask &= series.steps >= start_step
    if end_step is not None:
        mask &= series.steps <= end_step
    return MetricSeries(series.key, series.steps[mask], series.values[mask], series.timestamps[mask])


# -- smoothing --------------------------------------------------------------------------------
#
# Every smoother leaves non-finite points (NaN, ±inf) as they are and computes over the
# finite points only, so one diverged step never poisons the rest of the curve: this is
# what TensorBoard's scalar dashboard does. Smoothing runs on the full series, before any
# downsampling, so a spike still moves the smoothed line.

_BLOCK = 16  # block length of the blocked scans below (measured: 8 to 32 are alike)


def _blocked(b: np.ndarray, length: int) -> np.ndarray:
    """``b`` cut into blocks of ``length``, laid out block-minor: ``[j, c] = b[c * length + j]``
    (the last block padded with zeros), so that an operation on all blocks' j-th points is
    one contiguous array operation."""
    n = len(b)
    blocks = -(-n // length)
    full = n // length
    out = np.empty((length, blocks))
    out[:, :full] = b[:full * length].reshape(full, length).T
    if full < blocks:
        tail = n - full * length
        out[:tail, full] = b[full * length:]
        out[tail:, full] = 0.0
    return out


def _unblocked(states: np.ndarray, n: int) -> np.ndarray:
    """Inverse of :func:`_blocked` (the first ``n`` points)."""
    length, blocks = states.shape
    full = n // length
    out = np.empty(n)
    out[:full * length].reshape(full, length)[...] = states[:, :full].T
    if full < blocks:
        out[full * length:] = states[:n - full * length, full]
    return out


def _scan_constant(a: float, b: np.ndarray) -> np.ndarray:
    """``s[n] = a * s[n-1] + b[n]`` with ``s[-1] = 0`` and a constant ``0 <= a <= 1``.

    Blocked Hillis-Steele scan, exact up to rounding (no logarithms, no growing powers):
    ``log2(block)`` doubling steps inside blocks (laid out block-minor, so every step is
    one contiguous array operation); the states at the blocks' ends obey the same
    recurrence with ``a**block``, solved the same way on a series ``block`` times
    shorter, and are carried into the next block. No BLAS, so no thread contention.
    """
    n = len(b)
    if n == 0 or a == 0.0:
        return np.array(b, dtype=np.float64, copy=True)
    length = min(_BLOCK, n)
    states = _blocked(b, length)
    scratch = np.empty_like(states)
    shift = 1
    while shift < length:
        part = scratch[:length - shift]
        np.multiply(states[:-shift], a**shift, out=part)
        states[shift:] += part
        shift *= 2
    if states.shape[1] > 1:
        decay = a**length
        ends = states[-1].copy()
        carried = _scan_constant(decay, ends) if decay > 0.0 else ends
        part = scratch[:, 1:]
        np.multiply((a ** np.arange(1, length + 1, dtype=np.float64))[:, None], carried[None, :-1], out=part)
        states[:, 1:] += part
    return _unblocked(states, n)


def _scan_varying(a: np.ndarray, *rhs: np.ndarray) -> list[np.ndarray]:
    """For each ``b`` in ``rhs``: ``s[n] = a[n] * s[n-1] + b[n]`` with ``s[-1] = 0`` and
    ``0 <= a[n] <= 1``.

    Blocked Hillis-Steele scan like :func:`_scan_constant`, carrying the products of the
    ``a`` along (shared by every right-hand side). Only products of numbers in ``[0, 1]``
    are formed, so nothing overflows, and an underflow to 0 is what the sequential loop
    would do too.
    """
    n = len(a)
    if n == 0:
        return [np.array(b, dtype=np.float64, copy=True) for b in rhs]
    length = min(_BLOCK, n)
    decay = _blocked(a, length)
    states = [_blocked(b, length) for b in rhs]
    spare = np.empty_like(decay)
    scratch = np.empty_like(decay)
    shift = 1
    while shift < length:
        rows = length - shift
        for state in states:
            np.multiply(decay[shift:], state[:-shift], out=scratch[:rows])
            state[shift:] += scratch[:rows]
        np.multiply(decay[shift:], decay[:-shift], out=spare[shift:])
        spare[:shift] = decay[:shift]
        decay, spare = spare, decay  # [j, c]: product of a over block c's points 0..j
        shift *= 2
    if decay.shape[1] > 1:
        carried = _scan_varying(decay[-1], *(state[-1] for state in states))
        for state, ends in zip(states, carried):
            np.multiply(decay[:, 1:], ends[None, :-1], out=scratch[:, 1:])
            state[:, 1:] += scratch[:, 1:]
    return [_unblocked(state, n) for state in states]


def _weight(weight: float, what: str) -> float:
    if isinstance(weight, bool) or not isinstance(weight, (int, float, np.integer, np.floating)) \
            or not 0.0 <= float(weight) < 1.0:
        raise ValueError(f"{what} weight {weight!r} must be a number with 0 <= weight < 1")
    return float(weight)


def _finite_part(values: np.ndarray, *masks: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The values as float64 and, if some points must be passed through, the keep-mask."""
    values = np.asarray(values, dtype=np.float64)
    keep = np.isfinite(values)
    for mask in masks:
        keep &= mask
    return values, (None if keep.all() else keep)


def _constant(values: np.ndarray) -> bool:
    """TensorBoard's test (``every v == first``): a constant series is returned unsmoothed."""
    return len(values) > 0 and bool((values == values[0]).all())


def ema(values: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's debiased exponential moving average, vectorized.

    Exactly the scalar dashboard's algorithm: over the finite points, ``last = last * w +
    (1 - w) * v`` starting from ``last = 0``, and each smoothed point is ``last / (1 -
    w**k)`` where ``k`` counts the finite points so far. Non-finite points (NaN, ±inf) are
    returned as they are and neither update ``last`` nor count in ``k``; a constant series
    comes back unchanged. ``weight`` is TensorBoard's smoothing slider: ``0 <= w < 1``
    (0 returns the values).
    """
    w = _weight(weight, "ema")
    values, keep = _finite_part(values)
    out = values.copy()
    if _constant(values):
        return out
    finite = values if keep is None else values[keep]
    count = len(finite)
    if count == 0:
        return out
    smoothed = _scan_constant(w, finite)  # sum of w**(k-i) * v[i]: TensorBoard's last / (1 - w)
    smoothed *= 1.0 - w
    # Debiasing divides by 1 - w**k, exactly 1.0 once w**k < 2**-54: only up to there.
    upto = count if w == 0.0 else min(count, math.ceil(-54 * math.log(2) / math.log(w)) + 1)
    smoothed[:upto] /= 1.0 - w ** np.arange(1, upto + 1, dtype=np.float64)
    if keep is None:
        return smoothed
    out[keep] = smoothed
    return out


_UNIT_SAMPLE = 4096


def time_unit(x: np.ndarray) -> float:
    """The median positive gap between consecutive finite ``x`` (1.0 when there is none):
    the spacing at which :func:`time_weighted_ema` decays exactly like :func:`ema`.

    On long series the median is taken over 4,096 gaps picked at even intervals (a full
    median of 100,000 gaps costs more than the smoothing itself); evenly spaced points
    still give their exact spacing.
    """
    x = np.asarray(x, dtype=np.float64)
    finite = np.isfinite(x)
    if not finite.all():
        x = x[finite]
    if len(x) - 1 > _UNIT_SAMPLE:  # only the sampled gaps: no full-length temporary
        at = np.linspace(0, len(x) - 2, _UNIT_SAMPLE).astype(np.intp)
        gaps = x[at + 1] - x[at]
    else:
        gaps = np.diff(x)
    positive = gaps[gaps > 0]
    return float(np.median(positive)) if len(positive) else 1.0


def time_weighted_ema(values: np.ndarray, x: np.ndarray, weight: float, unit: float | None = None) -> np.ndarray:
    """An exponential moving average for unevenly spaced points, debiased like :func:`ema`.

    Each point brings the same weight ``(1 - w)``; what was accumulated decays by
    ``w ** (gap / unit)`` across the gap in ``x`` (step or time) to the next point::

        d[n] = w ** ((x[n] - x[n-1]) / unit)
        s[n] = d[n] * s[n-1] + (1 - w) * v[n]        (s[-1] = 0)
        z[n] = d[n] * z[n-1] + (1 - w)               (z[-1] = 0)
        smoothed[n] = s[n] / z[n]
                    = sum_k w ** ((x[n] - x[k]) / unit) * v[k] / sum_k w ** ((x[n] - x[k]) / unit)

    that is, a weighted mean of the points so far with an exponential kernel in ``x``.
    ``unit`` defaults to :func:`time_unit` (the median gap), so on evenly spaced points
    ``z[n] = 1 - w**(n+1)`` and the result is exactly :func:`ema`; pass one ``unit`` to
    several series to smooth them over the same span of ``x`` (``compare`` does). A long
    pause lets the past fade as much as the time it spans; points sharing one ``x`` weigh
    equally; a gap that goes backwards counts as 0. (W&B's "TWEMA" has the same shape with
    ``unit`` tied to the chart's x range.) Non-finite values, or points whose ``x`` is not
    finite, pass through untouched and are skipped, like :func:`ema`.
    """
    w = _weight(weight, "twema")
    x = np.asarray(x, dtype=np.float64)
    if x.shape != np.shape(values):
        raise ValueError(f"twema: x has shape {x.shape}, the values {np.shape(values)}")
    values, keep = _finite_part(values, np.isfinite(x))
    if _constant(values):
        return values.copy()
    finite = values if keep is None else values[keep]
    if len(finite) == 0:
        return values.copy()
    xs = x if keep is None else x[keep]
    if unit is None:
        unit = time_unit(xs)
    elif not (isinstance(unit, (int, float, np.integer, np.floating)) and math.isfinite(unit) and unit > 0):
        raise ValueError(f"twema: unit {unit!r} must be a finite number > 0")
    # Each full-length temporary costs fresh pages from the OS (the time here goes there, not
    # into arithmetic), so the gaps become the decays in place in one array.
    decay = np.empty(len(finite))
    decay[0] = 0.0
    gaps = decay[1:]
    np.subtract(xs[1:], xs[:-1], out=gaps)
    np.maximum(gaps, 0.0, out=gaps)
    if len(gaps) and (gaps == gaps[0]).all():  # evenly spaced: one decay, the cheaper scan
        d = 1.0 if w == 0.0 and gaps[0] == 0 else w ** (float(gaps[0]) / float(unit))
        smoothed = _scan_constant(d, finite)
        smoothed /= _scan_constant(d, np.ones_like(finite))
    else:
        if w == 0.0:
            np.equal(gaps, 0.0, out=gaps, casting="unsafe")  # 0 ** 0 == 1: ties average
        else:
            gaps *= math.log(w) / float(unit)
            np.exp(gaps, out=gaps)
        smoothed, z = _scan_varying(decay, finite, np.ones_like(finite))
        smoothed /= z
    if keep is None:
        return smoothed
    out = values.copy()
    out[keep] = smoothed
    return out


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean of the last ``window`` finite points (fewer at the start).

    Non-finite points pass through untouched and are skipped by the windows. The window
    sums come from prefix sums restarted every block of ``max(window, 1024)`` points, each
    block centred on its first value, so the rounding stays at the level of the values'
    spread (not their offset) and never grows with the series (no running total over it all).
    """
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"moving average window {window!r} must be an int >= 1")
    values, keep = _finite_part(values)
    out = values.copy()
    finite = values if keep is None else values[keep]
    n = len(finite)
    if n == 0 or window == 1:
        return out
    w = min(int(window), n)
    length = max(w, 1024)
    blocks = -(-n // length)
    grid = np.empty((blocks, length))
    flat = grid.reshape(-1)
    flat[:n] = finite
    flat[n:] = finite[-1]
    centre = grid[:, :1].copy()
    grid -= centre
    prefix = np.cumsum(grid, axis=1)  # restarts at every block
    sums = prefix.reshape(-1).copy()
    # The window ending at i starts after i - w: within i's block, or in the block before,
    # whose remaining part then joins in (w <= length, so never two blocks back) with that
    # block's centre for its share of the window.
    sums[w:] -= prefix.reshape(-1)[:-w]
    means = sums.reshape(blocks, length)
    means /= w
    means += centre
    if blocks > 1:
        share = np.arange(1, w + 1) / w  # of the window in the later block
        means[1:, :w] += prefix[:-1, -1:] / w + (1 - share) * (centre[:-1] - centre[1:])
    smoothed = sums[:n]
    smoothed[:w] = prefix[0, :w] / np.arange(1, w + 1) + centre[0, 0]  # the first, shorter windows
    if keep is None:
        return smoothed
    out[keep] = smoothed
    return out


@attrs.frozen
class Smoothing:
    """A parsed smoothing spec: ``kind`` is ``"ema"``, ``"twema"`` or ``"ma"``."""

    kind: str
    param: float | int
    spec: str

    def __call__(self, values: np.ndarray, x: np.ndarray | None = None, unit: float | None = None) -> np.ndarray:
        """Smooth ``values``; ``x`` (the points' steps or times, and optionally the time
        ``unit``) is used by ``twema`` only, which requires it."""
        if self.kind == "ema":
            return ema(values, self.param)
        if self.kind == "ma":
            return moving_average(values, int(self.param))
        if x is None:
            raise ValueError(f"smoothing {self.spec!r} needs the points' x (steps or times)")
        return time_weighted_ema(values, x, self.param, unit)


_SPEC = re.compile(r"^\s*(ema|twema|ma)\s*:\s*(\S+?)\s*$", re.IGNORECASE)


def parse_smoothing(spec: str | Smoothing) -> Smoothing:
    """Parse ``"ema:0.6"``, ``"twema:0.6"`` (weight ``0 <= w < 1``) or ``"ma:10"`` (window >= 1).

    Raises ``ValueError`` naming the spec and what was expected.
    """
    if isinstance(spec, Smoothing):
        return spec
    if not isinstance(spec, str):
        raise ValueError(f"smoothing {spec!r} must be a string such as 'ema:0.6', 'twema:0.6' or 'ma:10'")
    match = _SPEC.match(spec)
    if not match:
        raise ValueError(f"smoothing {spec!r} is not understood: expected 'ema:<weight>', "
                         f"'twema:<weight>' (0 <= weight < 1) or 'ma:<window>' (an int >= 1)")
    kind, arg = match.group(1).lower(), match.group(2)
    if kind == "ma":
        if not re.fullmatch(r"[0-9]+", arg) or int(arg) < 1:
            raise ValueError(f"smoothing {spec!r}: the moving-average window must be an int >= 1, not {arg!r}")
        return Smoothing(kind, int(arg), spec)
    try:
        weight = float(arg)
    except ValueError:
        weight = math.nan
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smoothing {spec!r}: the {kind} weight must be a number with 0 <= weight < 1, "
                         f"not {arg!r}")
    return Smoothing(kind, weight, spec)


def smooth(values: np.ndarray, spec: str | Smoothing | None, x: np.ndarray | None = None,
           unit: float | None = None) -> np.ndarray:
    """``values`` smoothed per ``spec`` (see :func:`parse_smoothing`); ``None`` returns them as they are."""
    if spec is None:
        return np.asarray(values, dtype=np.float64)
    return parse_smoothing(spec)(values, x, unit)


# -- alignment --------------------------------------------------------------------------------


def last_per_step(steps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique steps and, for each, the value logged last at that step."""
    steps = np.asarray(steps, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    if len(steps) == 0 or bool((steps[1:] > steps[:-1]).all()):  # the usual case: already sorted, no repeats
        return steps, values
    unique, first_from_end = np.unique(steps[::-1], return_index=True)
    return unique, values[::-1][first_from_end]


@attrs.frozen(eq=False)
class Aligned:
    """Several series on the union of their steps: per step, the statistics of the series
    that have a finite value there (``count`` of them). ``std`` is the sample standard
    deviation (``ddof`` as asked, 1 by default), NaN where fewer than ``ddof + 1`` series
    contribute; the other statistics are NaN where none does. ``values`` holds the aligned
    matrix (one row per series, NaN where a series has no value)."""

    steps: np.ndarray
    values: np.ndarray
    count: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    min: np.ndarray
    max: np.ndarray


def align(series: Sequence[MetricSeries | tuple[np.ndarray, np.ndarray]], ddof: int = 1) -> Aligned:
    """Aggregate series (``MetricSeries`` or ``(steps, values)`` pairs) step-wise on the union
    of their steps. A series contributes at a step if it has a finite value there; when it
    logged a step several times, its last value at that step counts. NaN and missing
    values are the same to the statistics (a NaN carries nothing to average)."""
    pairs = [(s.steps, s.values) if isinstance(s, MetricSeries) else s for s in series]
    reduced = [last_per_step(steps, values) for steps, values in pairs]
    if not reduced:
        nothing = np.empty(0)
        return Aligned(np.empty(0, np.int64), np.empty((0, 0)), np.empty(0, np.int64), *[nothing] * 4)
    first = reduced[0][0]
    shared = all(np.array_equal(steps, first) for steps, _ in reduced[1:])  # seeds of a sweep: the same steps
    union = first if shared else np.unique(np.concatenate([s for s, _ in reduced]))
    grid = np.full((len(reduced), len(union)), np.nan)
    for row, (steps, values) in enumerate(reduced):
        grid[row, slice(None) if shared else np.searchsorted(union, steps)] = values
    present = ~np.isnan(grid)
    if present.all():  # every series has a value at every step: plain column statistics
        n = len(reduced)
        with np.errstate(invalid="ignore"):  # inf - inf
            std = grid.std(axis=0, ddof=ddof) if n > ddof else np.full(len(union), np.nan)
        return Aligned(union, grid, np.full(len(union), n), grid.mean(axis=0), std, grid.min(axis=0),
                       grid.max(axis=0))
    count = present.sum(axis=0)
    some = count > 0
    zeros = np.where(present, grid, 0.0)
    mean = np.full(len(union), np.nan)
    mean[some] = zeros[:, some].sum(axis=0) / count[some]
    std = np.full(len(union), np.nan)
    enough = count > ddof
    if enough.any():
        dev = np.where(present[:, enough], grid[:, enough] - mean[enough], 0.0)
        with np.errstate(invalid="ignore"):  # inf - inf
            std[enough] = np.sqrt((dev * dev).sum(axis=0) / (count[enough] - ddof))
    low = np.full(len(union), np.nan)
    high = np.full(len(union), np.nan)
    low[some] = np.where(present[:, some], grid[:, some], np.inf).min(axis=0)
    high[some] = np.where(present[:, some], grid[:, some], -np.inf).max(axis=0)
    return Aligned(union, grid, count, mean, std, low, high)


# -- Student's t ------------------------------------------------------------------------------


def normal_quantile(p: float) -> float:
    """The standard normal distribution's quantile (Acklam's rational approximation, refined
    by one Halley step on ``math.erfc``: close to machine precision)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"probability {p!r} must be strictly between 0 and 1")
    a = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
         1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)
    b = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
         6.680131188771972e01, -1.328068155288572e01)
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
         -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
    low = 0.02425
    if p < low:
        q = math.sqrt(-2 * math.log(p))
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / \
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    elif p > 1 - low:
        q = math.sqrt(-2 * math.log1p(-p))
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / \
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    else:
        q = p - 0.5
        r = q * q
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / \
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    error = 0.5 * math.erfc(-x / math.sqrt(2)) - p
    u = error * math.sqrt(2 * math.pi) * math.exp(x * x / 2)
    return x - u / (1 + x * u / 2)


def _t_central(theta: float, df: int) -> float:
    """P(|T| <= sqrt(df) * tan(theta)) for Student's t with integer ``df`` (Abramowitz &
    Stegun 26.7.3 and 26.7.4: a finite series in cos(theta))."""
    s, c = math.sin(theta), math.cos(theta)
    if df % 2:
        if df == 1:
            return 2 * theta / math.pi
        k = np.arange(1, (df - 3) // 2 + 1)
        terms = np.concatenate([[1.0], np.cumprod(2 * k / (2 * k + 1) * c * c)])
        return 2 / math.pi * (theta + s * c * float(terms.sum()))
    k = np.arange(1, (df - 2) // 2 + 1)
    terms = np.concatenate([[1.0], np.cumprod((2 * k - 1) / (2 * k) * c * c)])
    return s * float(terms.sum())


_EXACT_T_UP_TO = 300


def t_quantile(p: float, df: int) -> float:
    """The quantile of Student's t distribution with ``df`` degrees of freedom (an int >= 1).

    Up to 300 degrees of freedom the exact central probability (Abramowitz & Stegun
    26.7.3-4) is inverted by bisection to machine precision; beyond, the Cornish-Fisher
    expansion around the normal quantile (A&S 26.7.5, four terms: relative error below 1e-11
    there for p up to 0.999).
    ``t_quantile(0.975, 2)`` is 4.302652729...
    """
    if isinstance(df, bool) or not isinstance(df, (int, np.integer)) or df < 1:
        raise ValueError(f"degrees of freedom {df!r} must be an int >= 1")
    if not 0.0 < p < 1.0:
        raise ValueError(f"probability {p!r} must be strictly between 0 and 1")
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    df = int(df)
    if df > _EXACT_T_UP_TO:
        x = normal_quantile(p)
        x2 = x * x
        g1 = (x2 + 1) * x / 4
        g2 = ((5 * x2 + 16) * x2 + 3) * x / 96
        g3 = (((3 * x2 + 19) * x2 + 17) * x2 - 15) * x / 384
        g4 = ((((79 * x2 + 776) * x2 + 1482) * x2 - 1920) * x2 - 945) * x / 92160
        return x + (g1 + (g2 + (g3 + g4 / df) / df) / df) / df
    target = 2 * p - 1
    lo, hi = 0.0, math.pi / 2
    while True:
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            break
        if _t_central(mid, df) < target:
            lo = mid
        else:
            hi = mid
    return math.sqrt(df) * math.tan((lo + hi) / 2)


@attrs.frozen
class MeanInterval:
    """The mean of ``n`` values with its confidence interval ``[low, high]`` at ``level``
    (Student's t; NaN bounds when ``n < 2``). ``std`` is the sample standard deviation."""

    n: int
    mean: float
    std: float
    low: float
    high: float
    level: float


def mean_interval(values: Sequence[float] | np.ndarray, level: float = 0.95) -> MeanInterval:
    """``mean ± t((1 + level) / 2, n - 1) * std / sqrt(n)`` over the given values (all of them:
    a NaN makes the result NaN, so a diverged seed is never hidden)."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence level {level!r} must be strictly between 0 and 1")
    data = np.asarray(values, dtype=np.float64).reshape(-1)
    n = len(data)
    if n == 0:
        return MeanInterval(0, math.nan, math.nan, math.nan, math.nan, level)
    mean = float(data.mean())
    if n < 2:
        return MeanInterval(1, mean, math.nan, math.nan, math.nan, level)
    std = float(data.std(ddof=1))
    half = t_quantile((1 + level) / 2, n - 1) * std / math.sqrt(n)
    return MeanInterval(n, mean, std, mean - half, mean + half, level)
