"""The data model and the one converter: every model class round-trips through JSON."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aquarium import serialization
from aquarium.ids import new_run_id
from aquarium.model import Artifact, MetricSeries, MetricSummary, RunRecord, SourceInfo

floats = st.floats(allow_nan=True, allow_infinity=True)
finite = st.floats(allow_nan=False, allow_infinity=False)
text = st.text(max_size=20)
json_values = st.recursive(st.none() | st.booleans() | st.integers(-2**53, 2**53) | finite | text,
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
                           max_leaves=8)

sources = st.builds(SourceInfo, st.none() | text, st.none() | st.booleans(), st.none() | text, st.none() | text,
                    st.none() | text, st.none() | text, st.lists(text, max_size=3),
                    st.dictionaries(text, text, max_size=3))
series = st.integers(0, 20).flatmap(lambda n: st.builds(
    MetricSeries, text, st.lists(st.integers(0, 2**62), min_size=n, max_size=n),
    st.lists(floats, min_size=n, max_size=n), st.lists(floats, min_size=n, max_size=n)))
summaries = series.filter(len).map(MetricSummary.of)
artifacts = st.builds(Artifact, text, st.integers(0, 2**40), text, st.sampled_from(["file", "model"]),
                      st.dictionaries(text, json_values, max_size=3), finite, st.none() | text)
records = st.builds(
    RunRecord, id=text, name=text, experiment=text, group=st.none() | text,
    status=st.sampled_from(["running", "completed", "failed", "killed", "crashed"]), created=finite,
    started=st.none() | finite, ended=st.none() | finite, heartbeat=st.none() | finite,
    parent=st.none() | text, params=st.dictionaries(text, json_values, max_size=4),
    tags=st.dictionaries(text, text, max_size=3), notes=text, error=st.none() | text,
    directions=st.dictionaries(text, st.sampled_from(["min", "max"]), max_size=2),
    source=st.none() | sources, summaries=st.dictionaries(text, summaries, max_size=2),
    artifacts=st.lists(artifacts, max_size=2),
)


@pytest.mark.parametrize("strategy", [sources, series, summaries, artifacts, records],
                         ids=["SourceInfo", "MetricSeries", "MetricSummary", "Artifact", "RunRecord"])
def test_every_model_class_round_trips_through_valid_json(strategy):
    @given(strategy)
    @settings(max_examples=60, deadline=None)
    def check(obj):
        text = serialization.dumps(obj)
        json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} in JSON"))
        assert serialization.loads(text, type(obj)) == obj

    check()


def test_model_classes_all_covered():
    assert set(serialization.MODEL_CLASSES) == {SourceInfo, MetricSeries, MetricSummary, Artifact, RunRecord}


def test_non_finite_floats_become_strings():
    s = MetricSeries("x", [0, 1, 2], [math.nan, math.inf, -math.inf], [1.0, 2.0, 3.0])
    assert serialization.to_dict(s)["values"] == ["NaN", "Infinity", "-Infinity"]
    with pytest.raises(ValueError, match="not a number"):
        serialization.decode_float("nan")


def test_series_columns_have_fixed_dtypes_and_lengths():
    s = MetricSeries("x", [1, 2], [1, 2], [0, 0])
    assert s.steps.dtype == np.int64 and s.values.dtype == np.float64 and s.timestamps.dtype == np.float64
    with pytest.raises(ValueError, match="'x'"):
        MetricSeries("x", [1, 2], [1.0], [0.0, 0.0])


def test_summary_merge_equals_summary_of_the_whole():
    rng = np.random.default_rng(1)
    values = rng.normal(size=100)
    values[[3, 50]] = math.nan
    whole = MetricSeries("m", np.arange(100), values, np.arange(100.0))
    a = MetricSeries("m", whole.steps[:40], values[:40], whole.timestamps[:40])
    b = MetricSeries("m", whole.steps[40:], values[40:], whole.timestamps[40:])
    assert MetricSummary.of(a).merge(MetricSummary.of(b)) == MetricSummary.of(whole)


def test_run_ids_sort_by_creation_and_are_unique():
    ids = [new_run_id() for _ in range(10_000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(len(i) == 26 and i.isalnum() and i == i.lower() for i in ids[:10])


def test_stale_heartbeat_is_crashed_but_shell_runs_never_go_stale():
    record = RunRecord(id="x", name="x", heartbeat=1000.0)
    assert record.effective_status(now=1000.0 + 59) == "running"
    assert record.effective_status(now=1000.0 + 61) == "crashed"
    assert RunRecord(id="y", name="y", heartbeat=None).effective_status(now=1e12) == "running"
