"""``StoreSuite``: the contract every store (ours or a third party's) subclasses to prove it keeps.

Subclass it in a test module and provide a ``store`` fixture that returns a fresh, empty
store; every test below then runs against it.
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aquarium.errors import RunNotFoundError
from aquarium.ids import new_run_id
from aquarium.model import Artifact, MetricSeries, MetricSummary, RunRecord, SourceInfo
from aquarium.query import quote, select

_SETTINGS = settings(max_examples=40, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def make_series(key: str, values: Any, steps: Any = None, start_time: float = 1.7e9) -> MetricSeries:
    """A series with the given values; steps default to 0..n-1, timestamps one second apart."""
    values = np.asarray(values, dtype=np.float64)
    steps = np.arange(len(values)) if steps is None else np.asarray(steps)
    return MetricSeries(key, steps, values, start_time + np.arange(len(values), dtype=np.float64))


def _record(**fields: Any) -> RunRecord:
    now = time.time()
    base: dict[str, Any] = {"id": new_run_id(), "name": "run", "experiment": "suite", "created": now,
                            "started": now, "heartbeat": now}
    return RunRecord(**{**base, **fields})


def _concat(parts: list[MetricSeries]) -> MetricSeries:
    return MetricSeries(parts[0].key, np.concatenate([p.steps for p in parts]),
                        np.concatenate([p.values for p in parts]),
                        np.concatenate([p.timestamps for p in parts]))


_floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
_keys = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=40)
_batches = st.lists(
    st.dictionaries(_keys, st.lists(st.tuples(st.integers(0, 2**62), _floats), min_size=1, max_size=30),
                    min_size=1, max_size=3),
    min_size=1, max_size=4,
)


#: Names the regular-expression subset is checked on (docs/query.md, "Regular expressions").
REGEX_NAMES = ("alpha", "alphabet", "beta", "gamma-1", "gamma-22", "a.b", "axb", "ABC", "x+y", "résumé",
               "path/to", "(paren)", "end$", "caret^")
#: (pattern, names it must find): literal characters, . * + ? [] ^ $ | and groups, escaped
#: punctuation. Every store answers these identically (Python ``re.search`` semantics).
REGEX_CASES = [
    ("alpha", {"alpha", "alphabet"}),
    ("^alpha$", {"alpha"}),
    ("", set(REGEX_NAMES)),
    (".*", set(REGEX_NAMES)),
    ("^$", set()),
    ("abc", set()),  # case-sensitive
    ("^a.b$", {"a.b", "axb"}),
    ("^a\\.b$", {"a.b"}),
    ("^gamma-2+$", {"gamma-22"}),
    ("^gamma-1?$", {"gamma-1"}),
    ("^gamma-2*$", {"gamma-22"}),
    ("^gamma-[0-9]+$", {"gamma-1", "gamma-22"}),
    ("^gamma-[^1]", {"gamma-22"}),
    ("^[A-Z]+$", {"ABC"}),
    ("^[abc]", {"alpha", "alphabet", "beta", "a.b", "axb", "caret^"}),
    ("^(alpha|beta)$", {"alpha", "beta"}),
    ("bet|gam", {"alphabet", "beta", "gamma-1", "gamma-22"}),
    ("a(lp)?ha", {"alpha", "alphabet"}),
    ("^(al|ab)(ph)*a", {"alpha", "alphabet"}),
    ("t$", {"alphabet"}),
    ("x\\+y", {"x+y"}),
    ("^\\(paren\\)$", {"(paren)"}),
    ("end\\$$", {"end$"}),
    ("caret\\^", {"caret^"}),
    ("é", {"résumé"}),
    ("^r.sum.$", {"résumé"}),  # . is one character, not one byte
    ("/", {"path/to"}),
    ("[.+]", {"a.b", "x+y"}),
]


class StoreSuite:
    """The store contract. Subclasses provide a ``store`` fixture (a fresh, empty store)."""

    @pytest.fixture
    def store(self) -> Any:  # pragma: no cover - subclasses override
        raise NotImplementedError("provide a `store` fixture that returns a fresh store")

    # -- runs -----------------------------------------------------------------------------
    def test_create_and_get_run(self, store):
        source = SourceInfo(git_commit="abc", git_dirty=True, git_diff_sha256="d" * 64, host="h", user="u",
                            python="3.11.7", command=["train.py", "--lr", "0.1"], packages={"numpy": "2.0"})
        record = _record(name="résumé ✓ <b>", group="g", params={"lr": 0.1, "opt": {"name": "sgd", "m": 0.9}},
                         tags={"team": "vision"}, notes="first\nsecond", parent=None, source=source,
                         directions={"acc": "max"})
        store.create_run(record)
        got = store.get_run(record.id)
        assert got == record

    def test_create_twice_is_refused(self, store):
        record = _record()
        store.create_run(record)
        with pytest.raises(ValueError, match=record.id):
            store.create_run(record)

    def test_unknown_run(self, store):
        store.create_run(_record())
        for call in (lambda: store.get_run("nope"), lambda: store.summaries("nope"),
                     lambda: store.history("nope"), lambda: store.delete_run("nope"),
                     lambda: store.update_run("nope", notes="x"),
                     lambda: store.write_batch("nope", "w", 0, {"a": make_series("a", [1.0])})):
            with pytest.raises(RunNotFoundError, match="nope"):
                call()

    def test_update_run(self, store):
        record = _record(tags={"a": "1"})
        store.create_run(record)
        store.update_run(record.id, status="failed", ended=record.created + 5, error="ValueError: boom",
                         notes="n", tags={"b": "2"}, params={"x": {"y": 1}}, directions={"loss": "min"})
        store.update_run(record.id, tags={"a": "3"}, directions={"acc": "max"})
        got = store.get_run(record.id)
        assert (got.status, got.ended, got.error, got.notes) == ("failed", record.created + 5, "ValueError: boom", "n")
        assert got.tags == {"a": "3", "b": "2"}
        assert got.params == {"x": {"y": 1}}
        assert got.directions == {"loss": "min", "acc": "max"}

    def test_list_runs_newest_first_by_experiment(self, store):
        made = []
        for i, experiment in enumerate(["a", "b", "a"]):
            record = _record(name=f"r{i}", experiment=experiment, created=1000.0 + i)
            store.create_run(record)
            made.append(record.id)
        assert [r.id for r in store.list_runs()] == made[::-1]
        assert [r.id for r in store.list_runs(experiment="a")] == [made[2], made[0]]
        assert store.list_runs(experiment="zzz") == []

    def test_stale_heartbeat_reads_as_crashed(self, store):
        stale = _record(heartbeat=time.time() - 3600)
        shell = _record(heartbeat=None, created=time.time() - 3600)
        done = _record(heartbeat=time.time() - 3600, status="completed")
        for record in (stale, shell, done):
            store.create_run(record)
        assert store.get_run(stale.id).status == "crashed"
        assert store.get_run(shell.id).status == "running"
        assert store.get_run(done.id).status == "completed"
        statuses = {r.id: r.status for r in store.list_runs()}
        assert statuses[stale.id] == "crashed"
        store.write_batch(stale.id, "w", 0, {"a": make_series("a", [1.0])}, heartbeat=time.time())
        assert store.get_run(stale.id).status == "running"

    def test_delete_run_removes_points_and_artifacts(self, store, tmp_path):
        keep, gone = _record(), _record()
        for record in (keep, gone):
            store.create_run(record)
            store.write_batch(record.id, "w", 0, {"loss": make_series("loss", [3.0, 2.0])})
        path = tmp_path / "a.txt"
        path.write_text("x")
        store.put_artifact(gone.id, Artifact("a.txt", 0, ""), path)
        store.delete_run(gone.id)
        with pytest.raises(RunNotFoundError):
            store.get_run(gone.id)
        with pytest.raises(RunNotFoundError):
            store.history(gone.id)
        assert [r.id for r in store.list_runs()] == [keep.id]
        assert len(store.history(keep.id)["loss"]) == 2

    # -- points ---------------------------------------------------------------------------
    def test_write_batch_appends_in_logging_order(self, store):
        record = _record()
        store.create_run(record)
        first = make_series("loss", [5.0, 4.0, 3.0], steps=[10, 11, 12])
        second = make_series("loss", [9.0, 1.0], steps=[3, 11], start_time=1.8e9)  # out of order, repeated
        assert store.write_batch(record.id, "w", 0, {"loss": first})
        assert store.write_batch(record.id, "w", 1, {"loss": second, "acc": make_series("acc", [0.5])})
        history = store.history(record.id)
        assert history["loss"] == MetricSeries("loss", [10, 11, 12, 3, 11], [5, 4, 3, 9, 1],
                                               np.concatenate([first.timestamps, second.timestamps]))
        assert list(history) == sorted(history)
        assert store.history(record.id, ["acc"]).keys() == {"acc"}

    def test_write_batch_is_idempotent_per_writer_and_seq(self, store):
        record = _record()
        store.create_run(record)
        batch = {"loss": make_series("loss", [1.0, 2.0])}
        assert store.write_batch(record.id, "writer-a", 0, batch) is True
        assert store.write_batch(record.id, "writer-a", 0, batch) is False
        assert store.write_batch(record.id, "writer-b", 0, batch) is True
        assert len(store.history(record.id)["loss"]) == 4
        assert store.summaries(record.id)["loss"].count == 4

    def test_summaries_match_numpy(self, store):
        record = _record()
        store.create_run(record)
        values = np.array([math.nan, 3.0, -math.inf, 7.5, math.inf, 2.0, math.nan])
        series = make_series("m", values, steps=[5, 6, 7, 8, 9, 10, 11])
        store.write_batch(record.id, "w", 0, {"m": make_series("m", values[:3], steps=[5, 6, 7])})
        store.write_batch(record.id, "w", 1, {"m": MetricSeries("m", series.steps[3:], values[3:],
                                                                series.timestamps[3:])})
        summary = store.summaries(record.id)["m"]
        assert summary.count == 7
        assert math.isnan(summary.first) and summary.first_step == 5
        assert math.isnan(summary.last) and summary.last_step == 11
        assert (summary.min, summary.min_step) == (-math.inf, 7)
        assert (summary.max, summary.max_step) == (math.inf, 9)
        assert summary.max_time == series.timestamps[4]
        assert store.get_run(record.id).summaries == {"m": summary}

    def test_all_nan_summary(self, store):
        record = _record()
        store.create_run(record)
        store.write_batch(record.id, "w", 0, {"m": make_series("m", [math.nan, math.nan])})
        summary = store.summaries(record.id)["m"]
        assert summary.count == 2 and summary.min_step is None and math.isnan(summary.min)

    def test_history_step_range_and_downsampling(self, store):
        record = _record()
        store.create_run(record)
        n = 100_000
        values = np.sin(np.arange(n) / 1000.0)
        values[77_777] = 50.0   # a spike
        values[12_345] = -50.0  # a dip
        for i in range(4):
            part = slice(i * n // 4, (i + 1) * n // 4)
            store.write_batch(record.id, "w", i, {"x": make_series("x", values[part], np.arange(n)[part])})
        full = store.history(record.id)["x"]
        assert len(full) == n and np.array_equal(full.values, values)
        window = store.history(record.id, start_step=10, end_step=29_999)["x"]
        assert window.steps[0] == 10 and window.steps[-1] == 29_999 and len(window) == 29_990
        small = store.history(record.id, max_points=500)["x"]
        assert len(small) <= 500
        assert small.values.max() == 50.0 and small.values.min() == -50.0
        assert np.all(np.diff(small.steps) > 0)

    def test_whatever_is_logged_reads_back_identical(self, store):
        # the property is built per call, so subclasses of this suite in one session don't
        # share a hypothesis-wrapped method (hypothesis refuses that as 'different executors')
        @given(batches=_batches)
        @_SETTINGS
        def check(batches):
            record = _record()
            store.create_run(record)
            expected: dict[str, list[MetricSeries]] = {}
            for seq, batch in enumerate(batches):
                columns = {}
                for key, points in batch.items():
                    steps = [s for s, _ in points]
                    series = make_series(key, [v for _, v in points], steps, start_time=1.7e9 + seq * 100)
                    columns[key] = series
                    expected.setdefault(key, []).append(series)
                store.write_batch(record.id, "w", seq, columns)
            history = store.history(record.id)
            assert history.keys() == expected.keys()
            for key, parts in expected.items():
                assert history[key] == _concat(parts)
                assert store.summaries(record.id)[key] == MetricSummary.of(_concat(parts))

        check()

    # -- artifacts ------------------------------------------------------------------------
    def test_artifacts(self, store, tmp_path):
        record = _record()
        store.create_run(record)
        payload = b"\x00weights\xff" * 1000
        path = tmp_path / "model.pt"
        path.write_bytes(payload)
        stored = store.put_artifact(record.id, Artifact("models/model.pt", 0, "", "model",
                                                        {"framework": "torch"}), path)
        assert stored.size == len(payload)
        assert stored.sha256 == hashlib.sha256(payload).hexdigest()
        assert store.read_artifact(record.id, "models/model.pt") == payload
        (got,) = store.get_run(record.id).artifacts
        assert (got.name, got.kind, got.metadata, got.size) == ("models/model.pt", "model",
                                                                 {"framework": "torch"}, len(payload))
        path.write_bytes(b"v2")
        store.put_artifact(record.id, Artifact("models/model.pt", 0, ""), path)
        assert store.read_artifact(record.id, "models/model.pt") == b"v2"
        assert len(store.get_run(record.id).artifacts) == 1
        with pytest.raises(KeyError, match="missing.bin"):
            store.read_artifact(record.id, "missing.bin")

    @pytest.mark.parametrize("name", ["/etc/passwd", "../x", "a/../../x", "..", "", "C:/x", "a/./../.."])
    def test_artifact_names_that_escape_are_refused(self, store, tmp_path, name):
        record = _record()
        store.create_run(record)
        path = tmp_path / "f"
        path.write_bytes(b"x")
        with pytest.raises(ValueError, match="artifact name"):
            store.put_artifact(record.id, Artifact(name, 0, ""), path)
        assert store.get_run(record.id).artifacts == []

    # -- search ---------------------------------------------------------------------------
    @pytest.mark.parametrize(("pattern", "expected"), REGEX_CASES)
    def test_regex_subset(self, store, pattern, expected):
        for i, name in enumerate(REGEX_NAMES):
            store.create_run(_record(name=name, tags={"t": name}, params={"p": name}, created=1000.0 + i))
        assert {r.name for r in store.search(f"name ~ {quote(pattern)}")} == expected
        assert {r.name for r in store.search(f"tags.t ~ {quote(pattern)}")} == expected
        assert {r.name for r in store.search(f"params.p ~ {quote(pattern)}")} == expected
        assert {r.name for r in store.search(f"not name ~ {quote(pattern)}")} == set(REGEX_NAMES) - expected

    def test_search_agrees_with_the_reference_evaluator(self, store):
        now = time.time()
        runs = [
            _record(name="a", params={"lr": 0.1, "opt": {"name": "sgd"}}, tags={"team": "x"}, status="completed",
                    created=now - 30, group="g", directions={"m": "min"}),
            _record(name="b", params={"lr": 0.01, "opt": {"name": "adam"}}, tags={"team": "y"}, created=now - 20,
                    heartbeat=now - 3600),
            _record(name="c", params={"lr": "0.01"}, status="failed", created=now - 10, notes="Some NOTES"),
            _record(name="d", created=now - 5, heartbeat=None, group="g"),
        ]
        for i, record in enumerate(runs):
            store.create_run(record)
            if i < 3:
                store.write_batch(record.id, "w", 0, {"m": make_series("m", [3.0 - i, 1.0 + i, math.nan][:3 - i]),
                                                      "val/loss": make_series("val/loss", [0.5 * (i + 1)])})
        queries = ["", "params.lr = 0.01", "params.lr < 0.05", "params.opt.name in (sgd, adam)", "tags.team != x",
                   "metrics.m.best < 2", "metrics.m is null", "metrics.val/loss.max >= 1", "status = crashed",
                   "status = running", "group = g", "not group = g", "'notes'", "ADAM", "created > -1m",
                   "duration > 30m", "metrics.m.best_step = 0 or name = d", "name ~ '^[ab]$'"]
        orders = [["-created"], ["name"], ["-metrics.m.best"], ["params.lr", "-name"], ["tags.team"], ["-status"]]
        for query in queries:
            for order_by in orders:
                for directions in (None, {"m": "max"}):
                    got = store.search(query, order_by=order_by, directions=directions)
                    want = select(store.list_runs(), query, order_by=order_by, directions=directions)
                    assert [r.id for r in got] == [r.id for r in want], (query, order_by, directions)
        listed = {r.id: r for r in store.list_runs()}
        assert all(r == listed[r.id] for r in store.search(""))  # params, tags and summaries too
        assert [r.name for r in store.search("", order_by=["name"], limit=2, offset=1)] == ["b", "c"]
        assert [r.name for r in store.search("", experiment="nope")] == []
