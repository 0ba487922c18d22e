"""The numpy helpers of aquarium.series: smoothing against plain reference loops, alignment,
Student's t. (Speed is measured in benchmarks/compare_bench.py, never asserted here.)"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aquarium import series
from aquarium.model import MetricSeries

# -- reference implementations: the algorithms as written, one point at a time ---------------------


def tensorboard_ema(values, weight):
    """TensorBoard's scalar-dashboard smoothing (vz_line_chart2 resmoothDataset), transcribed."""
    last, accumulated, out = 0.0, 0, []
    constant = all(v == values[0] for v in values)
    for v in values:
        if constant or not math.isfinite(v):
            out.append(v)
            continue
        last = last * weight + (1 - weight) * v
        accumulated += 1
        debias = 1 - weight**accumulated if weight != 1 else 1
        out.append(last / debias)
    return np.array(out, dtype=float)


def twema_loop(values, x, weight, unit):
    out, s, z, previous = list(values), 0.0, 0.0, None
    for i, v in enumerate(values):
        if not (math.isfinite(v) and math.isfinite(x[i])):
            continue
        decay = 0.0 if previous is None else weight ** (max(x[i] - previous, 0.0) / unit)
        s = decay * s + (1 - weight) * v
        z = decay * z + (1 - weight)
        previous = x[i]
        out[i] = s / z
    return np.array(out, dtype=float)


def moving_average_loop(values, window):
    out, seen = list(values), []
    for i, v in enumerate(values):
        if math.isfinite(v):
            seen.append(v)
            out[i] = math.fsum(seen[-window:]) / len(seen[-window:])
    return np.array(out, dtype=float)


def noisy(rng, n, nan_share=0.05, inf_share=0.01):
    values = np.cumsum(rng.normal(size=n)) + 5
    values[rng.random(n) < nan_share] = np.nan
    values[rng.random(n) < inf_share] = np.inf
    values[rng.random(n) < inf_share] = -np.inf
    return values


def same(a, b, tol=1e-10):
    """Equal within ``tol`` (relative to the data's scale), non-finite points identical."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    finite = np.isfinite(a)
    assert np.array_equal(finite, np.isfinite(b))
    assert np.array_equal(a[~finite], b[~finite], equal_nan=True)
    scale = max(1.0, float(np.max(np.abs(a[finite]), initial=0.0)))
    assert np.max(np.abs(a[finite] - b[finite]), initial=0.0) <= tol * scale


# -- EMA --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 2, 15, 16, 17, 255, 256, 257, 5000])
@pytest.mark.parametrize("weight", [0.0, 1e-12, 0.3, 0.6, 0.9, 0.99, 0.999, 0.99999])
def test_ema_matches_tensorboards_loop_with_nans_and_infs(n, weight):
    rng = np.random.default_rng(n * 1000 + int(weight * 1000))
    values = noisy(rng, n)
    same(series.ema(values, weight), tensorboard_ema(list(values), weight))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.floats(-1e6, 1e6), st.just(math.nan), st.just(math.inf)), max_size=300),
       st.floats(0.0, 0.999))
def test_ema_matches_the_loop_on_any_input(values, weight):
    same(series.ema(np.array(values, dtype=float), weight), tensorboard_ema(values, weight), tol=1e-9)


def test_ema_passes_non_finite_points_through_without_touching_the_state():
    values = np.array([1.0, np.nan, 3.0, np.inf, 5.0])
    out = series.ema(values, 0.5)
    assert math.isnan(out[1]) and out[3] == math.inf
    # The NaN and inf are skipped: the finite points smooth as if they stood alone.
    assert out[[0, 2, 4]].tolist() == pytest.approx(series.ema(np.array([1.0, 3.0, 5.0]), 0.5).tolist())
    # Debiasing: the first point is the value itself, the second (0.5 * 1 + 0.5 * 3) / 0.75 ... as TensorBoard.
    assert out[0] == 1.0 and out[2] == pytest.approx((0.25 * 1 + 0.5 * 3) / 0.75)


def test_ema_edge_cases():
    assert series.ema(np.array([]), 0.6).tolist() == []
    assert series.ema(np.array([2.0] * 50), 0.9).tolist() == [2.0] * 50  # constant: untouched
    only_nan = series.ema(np.array([np.nan, np.nan]), 0.6)
    assert np.isnan(only_nan).all()
    data = np.random.default_rng(0).normal(size=100)
    assert np.array_equal(series.ema(data, 0.0), data)
    assert series.ema([1, 2, 3], 0.5).dtype == np.float64  # lists and ints are fine
    for bad in (1.0, -0.1, 1.5, math.nan, "0.5", True):
        with pytest.raises(ValueError, match="weight"):
            series.ema(data, bad)


def test_ema_keeps_precision_on_large_offsets():
    rng = np.random.default_rng(3)
    values = 1e9 + rng.normal(size=20_000)
    same(series.ema(values, 0.99), tensorboard_ema(list(values), 0.99), tol=1e-13)


# -- time-weighted EMA ------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 16, 17, 300, 4097])
@pytest.mark.parametrize("weight", [0.0, 0.5, 0.9, 0.999])
def test_twema_matches_its_formula(n, weight):
    rng = np.random.default_rng(n + int(weight * 100))
    values = noisy(rng, n)
    x = np.cumsum(rng.exponential(size=n) * rng.choice([1, 1, 1, 50], size=n))  # uneven, with pauses
    x[rng.random(n) < 0.05] = x[0]  # some ties and backward gaps
    got = series.time_weighted_ema(values, x, weight)
    same(got, twema_loop(list(values), list(x), weight, series.time_unit(x[np.isfinite(values)])), tol=1e-9)
    same(series.time_weighted_ema(values, x, weight, unit=2.5), twema_loop(list(values), list(x), weight, 2.5),
         tol=1e-9)


def test_twema_on_evenly_spaced_points_is_tensorboards_ema():
    values = np.random.default_rng(1).normal(size=1000)
    for weight in (0.3, 0.6, 0.95):
        same(series.time_weighted_ema(values, np.arange(1000) * 7.0, weight), series.ema(values, weight))


def test_twema_lets_a_long_pause_forget_the_past():
    values = np.array([10.0, 10.0, 10.0, 0.0])
    x = np.array([0.0, 1.0, 2.0, 1000.0])
    assert series.time_weighted_ema(values, x, 0.6)[-1] == pytest.approx(0.0, abs=1e-12)
    assert series.ema(values, 0.6)[-1] > 3  # the plain EMA still remembers
    ties = series.time_weighted_ema(np.array([1.0, 3.0]), np.array([5.0, 5.0]), 0.9)
    assert ties[-1] == pytest.approx(2.0)  # points at one x weigh the same
    for weight in (0.0, 0.5):
        same_x = series.time_weighted_ema(np.array([1.0, 2.0, 3.0, 6.0]), np.full(4, 7.0), weight)
        assert same_x.tolist() == pytest.approx([1.0, 1.5, 2.0, 3.0])  # all at one x: running mean
    even = series.time_weighted_ema(np.array([1.0, 2.0, 3.0]), np.array([0.0, 2.0, 4.0]), 0.5, unit=1.0)
    assert even.tolist() == pytest.approx(twema_loop([1.0, 2.0, 3.0], [0.0, 2.0, 4.0], 0.5, 1.0).tolist())
    assert series.time_weighted_ema(np.array([1.0, 2.0]), np.array([0.0, 1.0]), 0.0).tolist() == [1.0, 2.0]


def test_twema_checks_its_arguments():
    with pytest.raises(ValueError, match="shape"):
        series.time_weighted_ema(np.ones(3), np.arange(4), 0.5)
    with pytest.raises(ValueError, match="unit"):
        series.time_weighted_ema(np.arange(3.0), np.arange(3.0), 0.5, unit=0)
    with pytest.raises(ValueError, match="twema weight"):
        series.time_weighted_ema(np.arange(3.0), np.arange(3.0), 1.0)


# -- moving average ---------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 9, 10, 11, 1023, 1024, 1025, 5000])
@pytest.mark.parametrize("window", [1, 2, 10, 1024, 2000, 10_000])
def test_moving_average_matches_the_loop(n, window):
    values = noisy(np.random.default_rng(n + window), n)
    same(series.moving_average(values, window), moving_average_loop(list(values), window), tol=1e-12)


def test_moving_average_stays_exact_on_long_series_with_offsets():
    values = 1e9 + np.random.default_rng(2).normal(size=200_000)
    got = series.moving_average(values, 50)
    want = np.array([math.fsum(values[max(0, i - 49):i + 1]) / min(i + 1, 50) for i in range(199_000, 200_000)])
    assert np.max(np.abs(got[199_000:] - want)) < 1e-6  # rounding of 1e9-sized sums, not growing with n


def test_moving_average_window_must_be_a_positive_int():
    for bad in (0, -1, 2.5, "3", True):
        with pytest.raises(ValueError, match="window"):
            series.moving_average(np.arange(5.0), bad)


# -- specs ------------------------------------------------------------------------------------------


def test_parse_smoothing_specs():
    assert series.parse_smoothing("ema:0.6") == series.Smoothing("ema", 0.6, "ema:0.6")
    assert series.parse_smoothing(" TWEMA : 0.25 ").kind == "twema"
    assert series.parse_smoothing("ma:10").param == 10
    assert series.parse_smoothing("ema:0").param == 0.0
    data = np.random.default_rng(0).normal(size=50)
    assert np.array_equal(series.smooth(data, "ema:0.6"), series.ema(data, 0.6))
    assert np.array_equal(series.smooth(data, "ma:5"), series.moving_average(data, 5))
    assert np.array_equal(series.smooth(data, "twema:0.6", np.arange(50.0)),
                          series.time_weighted_ema(data, np.arange(50.0), 0.6))
    assert np.array_equal(series.smooth(data, None), data)
    with pytest.raises(ValueError, match=r"'twema:0.6' needs the points' x"):
        series.smooth(data, "twema:0.6")


@pytest.mark.parametrize("spec", ["ema:1", "ema:1.0", "ema:-0.1", "ema:abc", "ema:nan", "ema", "ema:",
                                  "twema:2", "ma:0", "ma:2.5", "ma:-3", "ma:x", "gauss:3", "", "0.6"])
def test_bad_smoothing_specs_name_the_spec(spec):
    with pytest.raises(ValueError) as info:
        series.parse_smoothing(spec)
    assert repr(spec) in str(info.value)


def test_a_spec_must_be_a_string():
    with pytest.raises(ValueError, match="0.6"):
        series.parse_smoothing(0.6)


# -- alignment --------------------------------------------------------------------------------------


def test_align_on_the_union_of_steps_with_last_value_per_step():
    a = MetricSeries("loss", [0, 1, 2, 2], [1.0, 2.0, 3.0, 4.0], [0, 0, 0, 0])  # step 2 twice: 4.0 counts
    b = ([1, 3], [6.0, 8.0])
    c = ([0, 1, 3], [np.nan, 4.0, 2.0])  # a NaN contributes nothing
    got = series.align([a, b, c])
    assert got.steps.tolist() == [0, 1, 2, 3]
    assert got.count.tolist() == [1, 3, 1, 2]
    grid = np.array([[1.0, 2.0, 4.0, np.nan], [np.nan, 6.0, np.nan, 8.0], [np.nan, 4.0, np.nan, 2.0]])
    assert np.array_equal(got.values, grid, equal_nan=True)
    assert got.mean.tolist() == pytest.approx([1.0, 4.0, 4.0, 5.0])
    assert got.min.tolist() == [1.0, 2.0, 4.0, 2.0]
    assert got.max.tolist() == [1.0, 6.0, 4.0, 8.0]
    std = got.std
    assert np.isnan(std[0]) and np.isnan(std[2])  # one contributor: no sample std
    assert std[1] == pytest.approx(np.std([2.0, 6.0, 4.0], ddof=1))
    assert std[3] == pytest.approx(np.std([8.0, 2.0], ddof=1))
    population = series.align([a, b, c], ddof=0)
    assert population.std[0] == 0.0 and population.std[1] == pytest.approx(np.std([2.0, 6.0, 4.0]))


def test_align_of_nothing_and_last_per_step():
    empty = series.align([])
    assert len(empty.steps) == 0 and empty.values.shape == (0, 0)
    steps, values = series.last_per_step(np.array([5, 1, 5, 3, 1]), np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    assert steps.tolist() == [1, 3, 5] and values.tolist() == [5.0, 4.0, 3.0]


# -- Student's t ------------------------------------------------------------------------------------

# Values of t(p, df) from standard tables (scipy.stats.t.ppf agrees to all digits shown).
T_TABLE = [
    (0.975, 1, 12.706204736174707), (0.975, 2, 4.302652729749464), (0.975, 3, 3.182446305284263),
    (0.975, 4, 2.776445105197799), (0.975, 5, 2.570581835636314), (0.975, 9, 2.262157162798205),
    (0.975, 10, 2.228138851986274), (0.975, 29, 2.045229642132703), (0.975, 30, 2.042272456301238),
    (0.975, 100, 1.983971518523552), (0.975, 1000, 1.962339080856213), (0.95, 1, 6.313751514675041),
    (0.95, 7, 1.894578605090006), (0.995, 5, 4.032142983557536), (0.9, 2, 1.885618083164127),
    (0.999, 3, 10.214531852407419),
]


@pytest.mark.parametrize(("p", "df", "want"), T_TABLE)
def test_t_quantile_against_tables(p, df, want):
    assert series.t_quantile(p, df) == pytest.approx(want, rel=1e-9)
    assert series.t_quantile(1 - p, df) == pytest.approx(-want, rel=1e-9)


def test_t_quantile_expansion_agrees_with_the_exact_inversion_where_it_takes_over(monkeypatch):
    df = [series._EXACT_T_UP_TO + 1, 500, 2000]
    expansion = [series.t_quantile(p, d) for d in df for p in (0.9, 0.975, 0.999)]
    monkeypatch.setattr(series, "_EXACT_T_UP_TO", 10**6)
    exact = [series.t_quantile(p, d) for d in df for p in (0.9, 0.975, 0.999)]
    assert expansion == pytest.approx(exact, rel=1e-10)
    assert series.t_quantile(0.975, 10**9) == pytest.approx(series.normal_quantile(0.975), rel=1e-8)
    assert series.t_quantile(0.5, 3) == 0.0


def test_normal_quantile():
    assert series.normal_quantile(0.975) == pytest.approx(1.959963984540054, rel=1e-14)
    assert series.normal_quantile(0.5) == pytest.approx(0.0, abs=1e-15)
    assert series.normal_quantile(1e-10) == pytest.approx(-6.361340902404056, rel=1e-12)


@pytest.mark.parametrize(("p", "df"), [(0.0, 3), (1.0, 3), (-1, 3), (0.5, 0), (0.5, 2.5), (0.5, True)])
def test_t_quantile_refuses_bad_arguments(p, df):
    with pytest.raises(ValueError):
        series.t_quantile(p, df)


def test_mean_interval_by_hand():
    values = [0.80, 0.82, 0.87]
    got = series.mean_interval(values)
    mean, std = np.mean(values), np.std(values, ddof=1)
    half = 4.302652729749464 * std / math.sqrt(3)
    assert (got.n, got.level) == (3, 0.95)
    assert got.mean == pytest.approx(mean) and got.std == pytest.approx(std)
    assert (got.low, got.high) == (pytest.approx(mean - half), pytest.approx(mean + half))
    one = series.mean_interval([0.5])
    assert one.mean == 0.5 and math.isnan(one.low) and math.isnan(one.high)
    assert math.isnan(series.mean_interval([1.0, math.nan]).mean)  # a diverged seed shows
    with pytest.raises(ValueError, match="level"):
        series.mean_interval(values, level=95)


# -- downsampling ------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.floats(allow_nan=True, allow_infinity=False, width=32), min_size=1, max_size=600),
       max_points=st.integers(2, 64))
def test_minmax_keeps_every_extreme_within_max_points(values, max_points):
    v = np.asarray(values, dtype=np.float64)
    kept = series.minmax_indices(v, max_points)
    assert 0 < len(kept) <= max_points and np.all(np.diff(kept) > 0)
    if not np.all(np.isnan(v)):
        assert np.nanmax(v) in v[kept] and np.nanmin(v) in v[kept]


@pytest.mark.parametrize("max_points", [4, 7, 400, 1000])
def test_a_growing_series_keeps_its_leading_points_until_it_doubles(max_points):
    """Live charts rely on it: point by point, the kept points stay the same but for the last
    two, so a dashboard sends only those and the new ones. Only when the series has doubled
    are the buckets cut anew."""
    v = np.random.default_rng(max_points).normal(size=40 * max_points)
    before, recut = series.minmax_indices(v[: max_points + 1], max_points), 0
    for n in range(max_points + 2, len(v) + 1, max(1, max_points // 50)):
        after = series.minmax_indices(v[:n], max_points)
        head = before[:-2]
        if len(after) < len(head) or list(after[: len(head)]) != list(head):
            recut += 1
        before = after
    assert recut <= math.ceil(math.log2(40)) + 1, f"cut anew {recut} times while growing 40-fold"
