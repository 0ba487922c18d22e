"""The query language and search (issue 3) against a real SQLite store.

Runs are made with ``aquarium.start_run`` and real logged metrics; the few that need a past
creation time or a stale heartbeat (which a live handle would refresh) are written through
the store interface, as an importer or a killed process would leave them.
"""

from __future__ import annotations

import datetime
import math
import pickle
import sqlite3
import time

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import aquarium
from aquarium import query as q
from aquarium.errors import AquariumError, QueryError
from aquarium.ids import new_run_id
from aquarium.interfaces import Store
from aquarium.model import MetricSeries, RunRecord
from aquarium.stores.sqlite import SQLiteStore
from aquarium.testing import make_series

NOW = time.time()
DAY = 86400.0
ALL = {"resnet-18", "resnet-50", "bert-base", "gpt-tiny", "crashed-run", "old-run", "live"}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Seven runs covering every field; two stay running until the module ends."""
    store = SQLiteStore(str(tmp_path_factory.mktemp("query") / "store"))
    opts = {"store": store, "capture_source": False}

    with aquarium.start_run("resnet-18", experiment="vision", group="sweep", notes="Baseline run. Résumé: OK",
                            params={"lr": 0.1, "optimizer": {"name": "sgd", "momentum": 0.9}, "batch size": 64,
                                    "flag": True, "note": "0.01", "layers": [1, 2]},
                            tags={"team": "vision", "version": "v1.2"}, **opts) as run:
        for loss, acc, score, val, train in [(1.0, 0.2, 5.0, 0.9, 3), (0.5, 0.6, 3.0, 0.8, 2),
                                             (0.25, 0.4, 4.0, 0.7, 1)]:
            run.log({"loss": loss, "acc": acc, "score": score, "val.loss": val, "train/loss": train})

    with aquarium.start_run("resnet-50", experiment="vision", group="sweep",
                            params={"lr": 0.01, "optimizer": {"name": "adam"}, "batch size": 128},
                            tags={"team": "vision"}, **opts) as run:
        run.set_direction("score", "min")
        run.log({"acc": 0.5, "loss": 0.8, "score": 1.0})
        run.log({"acc": 0.9, "loss": 0.3, "score": 2.0})

    run = aquarium.start_run("bert-base", experiment="nlp", params={"lr": 0.001, "optimizer": {"name": "adam"}},
                             tags={"team": "nlp"}, **opts)
    run.log({"acc": 0.7, "loss": 0.6})
    run.log({"loss": math.nan})
    run.finish("failed", error="RuntimeError: boom")

    shell = aquarium.start_run("gpt-tiny", experiment="nlp", params={"lr": "0.01"}, heartbeat=False, **opts)
    live = aquarium.start_run("live", experiment="vision", params={"seed": 3}, **opts)

    crashed = RunRecord(id=new_run_id(), name="crashed-run", experiment="vision", status="running",
                        created=NOW - 7200, started=NOW - 7200, heartbeat=NOW - 3600, params={"lr": 0.1})
    store.create_run(crashed)
    store.write_batch(crashed.id, "w", 0, {"acc": make_series("acc", [0.3])})

    old_start = float(int(NOW - 30 * DAY))
    old = RunRecord(id=new_run_id(), name="old-run", experiment="archive", status="completed", created=old_start,
                    started=old_start, ended=old_start + 600, heartbeat=old_start + 600, params={"lr": 1},
                    tags={"team": "Vision"})
    store.create_run(old)
    store.write_batch(old.id, "w", 0, {"loss.min": make_series("loss.min", [0.7]),
                                       "val.loss": make_series("val.loss", [0.5])})
    yield store
    shell.finish()
    live.finish()
    store.close()


def names(runs) -> set[str]:
    return {r.name for r in runs}


def found(store, query, **options) -> set[str]:
    return names(store.search(query, **options))


# -- every field and operator --------------------------------------------------------------------
@pytest.mark.parametrize(("query", "expected"), [
    # params: numbers compare numerically with numeric params; a number also matches the same text
    ("params.lr = 0.01", {"resnet-50", "gpt-tiny"}),
    ("params.lr == 0.01", {"resnet-50", "gpt-tiny"}),
    ("params.lr = '0.01'", {"resnet-50", "gpt-tiny"}),
    ("params.lr > 0.005", {"resnet-18", "resnet-50", "crashed-run", "old-run"}),
    ("params.lr >= 1", {"old-run"}),
    ("params.lr < 0.01", {"bert-base"}),
    ("params.lr <= 0.01", {"resnet-50", "bert-base"}),
    ("params.lr != 0.1", {"resnet-50", "bert-base", "gpt-tiny", "old-run"}),
    ("params.lr in (0.1, 1)", {"resnet-18", "crashed-run", "old-run"}),
    ("params.lr not in (0.1, 1)", {"resnet-50", "bert-base", "gpt-tiny"}),
    ("params.optimizer.name = adam", {"resnet-50", "bert-base"}),
    ("params.optimizer.name in ('sgd', \"adam\")", {"resnet-18", "resnet-50", "bert-base"}),
    ("params.optimizer.name not in (sgd)", {"resnet-50", "bert-base"}),
    ("params.optimizer.name ~ '^a'", {"resnet-50", "bert-base"}),
    ("params.optimizer.momentum is not null", {"resnet-18"}),
    ("params.optimizer.momentum is null", ALL - {"resnet-18"}),
    ("params.`optimizer.name` = sgd", {"resnet-18"}),
    ("params.`batch size` >= 100", {"resnet-50"}),
    ("params.flag = true", {"resnet-18"}),
    ("params.layers = '[1, 2]'", {"resnet-18"}),
    ("params.lr < '0.05'", {"resnet-50", "bert-base", "gpt-tiny"}),  # quoted: text order
    # metrics: the last value and every aggregate
    ("metrics.acc > 0.5", {"resnet-50", "bert-base"}),
    ("metrics.acc.last > 0.5", {"resnet-50", "bert-base"}),
    ("metrics.acc.max >= 0.6", {"resnet-18", "resnet-50", "bert-base"}),
    ("metrics.acc.min < 0.3", {"resnet-18"}),
    ("metrics.acc.first = 0.5", {"resnet-50"}),
    ("metrics.acc.count = 3", {"resnet-18"}),
    ("metrics.acc.count >= 1", {"resnet-18", "resnet-50", "bert-base", "crashed-run"}),
    ("metrics.acc.best = 0.6", {"resnet-18"}),
    ("metrics.acc.best_step = 1", {"resnet-18", "resnet-50"}),
    ("metrics.loss.best < 0.3", {"resnet-18"}),
    ("metrics.loss.min = 0.6", {"bert-base"}),
    ("metrics.loss is null", {"bert-base", "gpt-tiny", "crashed-run", "old-run", "live"}),  # NaN reads as null
    ("metrics.loss is not null", {"resnet-18", "resnet-50"}),
    ("metrics.loss != 0.25", {"resnet-50"}),
    ("metrics.acc in (0.4, 0.9)", {"resnet-18", "resnet-50"}),
    ("metrics.acc not in (0.4, 0.9)", {"bert-base", "crashed-run"}),
    ("metrics.acc > '0.5'", {"resnet-50", "bert-base"}),
    ("metrics.`val.loss`.min < 0.6", {"old-run"}),
    ("metrics.val.loss.min < 0.6", {"old-run"}),
    ("metrics.val.loss < 0.75", {"resnet-18", "old-run"}),
    ("metrics.`loss.min` = 0.7", {"old-run"}),
    ("metrics.loss.min = 0.7", set()),
    ("metrics.train/loss.last = 1", {"resnet-18"}),
    ("metrics.`train/loss`.first = 3", {"resnet-18"}),
    ("metrics.score.best = 5", {"resnet-18"}),
    ("metrics.score.best = 1", {"resnet-50"}),  # the run's own direction: min
    ("metrics.score.best_step = 1", set()),
    ("metrics.score.best_step = 0", {"resnet-18", "resnet-50"}),
    # tags (text, case-sensitive)
    ("tags.team = vision", {"resnet-18", "resnet-50"}),
    ("tags.team != vision", {"bert-base", "old-run"}),
    ("tags.team ~ '^[Vv]'", {"resnet-18", "resnet-50", "old-run"}),
    ("tags.team > 'nlp'", {"resnet-18", "resnet-50"}),
    ("tags.version is not null", {"resnet-18"}),
    ("tags.version = 'v1.2'", {"resnet-18"}),
    ("tags.version = v1.2", {"resnet-18"}),
    # status as readers see it
    ("status = completed", {"resnet-18", "resnet-50", "old-run"}),
    ("status = 'running'", {"gpt-tiny", "live"}),
    ('status = "crashed"', {"crashed-run"}),
    ("status = failed", {"bert-base"}),
    ("status in (failed, crashed)", {"bert-base", "crashed-run"}),
    ("status != completed", {"bert-base", "gpt-tiny", "crashed-run", "live"}),
    ("status ~ 'ed$'", {"resnet-18", "resnet-50", "old-run", "bert-base", "crashed-run"}),
    # other attributes
    ("name = 'resnet-18'", {"resnet-18"}),
    ("name = resnet-18", {"resnet-18"}),
    ("name ~ '^resnet-(18|50)$'", {"resnet-18", "resnet-50"}),
    ("name < 'c'", {"bert-base"}),
    ("name in (live, old-run)", {"live", "old-run"}),
    ("experiment = nlp", {"bert-base", "gpt-tiny"}),
    ("experiment != vision", {"bert-base", "gpt-tiny", "old-run"}),
    ("group = sweep", {"resnet-18", "resnet-50"}),
    ("group is null", ALL - {"resnet-18", "resnet-50"}),
    ("group != sweep", set()),
    ("not group = sweep", ALL - {"resnet-18", "resnet-50"}),  # two-valued: a missing field is not a match
    ("parent is null", ALL),
    ("notes ~ 'Résumé'", {"resnet-18"}),
    ("created > -7d", ALL - {"old-run"}),
    ("created < -7d", {"old-run"}),
    ("created < -1h", {"crashed-run", "old-run"}),
    ("created > '-7d'", ALL - {"old-run"}),
    ("created >= -2w", ALL - {"old-run"}),
    ("created > +1d", set()),
    ("started < -1h", {"crashed-run", "old-run"}),
    ("ended is null", {"gpt-tiny", "live", "crashed-run"}),
    ("ended > -1d", {"resnet-18", "resnet-50", "bert-base"}),
    ("duration > 30m and duration < 2h", {"crashed-run"}),  # a crashed run lasted until its last heartbeat
    ("duration = 600", {"old-run"}),
    ("duration = 10m", {"old-run"}),
    ("duration > '5m'", {"crashed-run", "old-run"}),
    ("duration >= 0.5h", {"crashed-run"}),
    # full text over name, notes, tag values and param values; case-insensitive
    ("resnet", {"resnet-18", "resnet-50"}),
    ("RESNET", {"resnet-18", "resnet-50"}),
    ("RÉSUMÉ", {"resnet-18"}),
    ("vision", {"resnet-18", "resnet-50", "old-run"}),
    ("sgd", {"resnet-18"}),
    ('"0.01"', {"resnet-18", "resnet-50", "gpt-tiny"}),
    ("'run. Résumé'", {"resnet-18"}),
    ('"lr sweep"', set()),
    ("resnet 50", {"resnet-50"}),
    ("resnet and 50", {"resnet-50"}),
    ("resnet or bert", {"resnet-18", "resnet-50", "bert-base"}),
    ("not resnet", ALL - {"resnet-18", "resnet-50"}),
    ("v1.2", {"resnet-18"}),
    ("train/loss", set()),  # metric keys are not text
    ("", ALL),
    ("   ", ALL),
    # precedence: not > and > or; parentheses
    ("name = bert-base or name = resnet-18 and status = failed", {"bert-base"}),
    ("(name = bert-base or name = resnet-18) and status = completed", {"resnet-18"}),
    ("not status = completed and experiment = vision", {"crashed-run", "live"}),
    ("not (status = completed or experiment = vision)", {"bert-base", "gpt-tiny"}),
    ("not not name = live", {"live"}),
    ("NOT name = live AND (tags.team = vision OR tags.team = nlp)", {"resnet-18", "resnet-50", "bert-base"}),
])
def test_fields_and_operators(store, query, expected):
    assert found(store, query) == expected
    # the reference evaluator (every store's default search) agrees
    assert names(Store.search(store, query)) == expected


def test_id_field_and_experiment_argument(store):
    (bert,) = store.search("name = bert-base")
    assert found(store, f"id = {bert.id}") == {"bert-base"}
    assert found(store, f"id in ('{bert.id}', 'nope')") == {"bert-base"}
    assert found(store, "", experiment="nlp") == {"bert-base", "gpt-tiny"}
    assert found(store, "status = running", experiment="nlp") == {"gpt-tiny"}
    assert found(store, "", experiment="nothing") == set()


def test_long_in_lists(store):
    many = [f"n{i}" for i in range(80)]
    assert found(store, f"name in ({', '.join([*many, 'live'])})") == {"live"}
    assert found(store, f"name not in ({', '.join([*many, 'live'])})") == ALL - {"live"}
    assert found(store, f"params.lr in ({', '.join([*many, '0.001', '1'])})") == {"bert-base", "old-run"}
    assert found(store, f"metrics.acc in ({', '.join([str(i) for i in range(100)] + ['0.9'])})") == {"resnet-50"}


def test_dates_as_iso_strings(store):
    ten_days_ago = datetime.datetime.fromtimestamp(NOW - 10 * DAY)
    day = ten_days_ago.date().isoformat()
    assert found(store, f'created >= "{day}"') == ALL - {"old-run"}
    assert found(store, f"created >= {day}") == ALL - {"old-run"}  # an unquoted date is one word
    assert found(store, f'created < "{ten_days_ago.isoformat(timespec="minutes")}"') == {"old-run"}
    utc = datetime.datetime.fromtimestamp(NOW - 10 * DAY, datetime.timezone.utc)
    assert found(store, f'created < "{utc.strftime("%Y-%m-%dT%H:%M:%SZ")}"') == {"old-run"}
    assert found(store, f'created < "{utc.isoformat()}"') == {"old-run"}
    assert found(store, f"created < {int(NOW - 10 * DAY)}") == {"old-run"}  # seconds since the epoch


def test_crashed_follows_the_heartbeat_timeout(store, monkeypatch):
    assert found(store, "status = crashed") == {"crashed-run"}
    monkeypatch.setenv("AQUARIUM_HEARTBEAT_TIMEOUT", "7200")  # an hour-old heartbeat is fine now
    assert found(store, "status = crashed") == set()
    assert found(store, "status = running") == {"gpt-tiny", "live", "crashed-run"}
    assert {r.name: r.status for r in store.search()}["crashed-run"] == "running"
    monkeypatch.setenv("AQUARIUM_HEARTBEAT_TIMEOUT", "1")
    assert "crashed-run" in found(store, "status = crashed")


def test_best_follows_call_overrides_then_the_run_then_the_name(store):
    assert found(store, "metrics.score.best = 3", directions={"score": "min"}) == {"resnet-18"}
    assert found(store, "metrics.score.best = 2", directions={"score": "max"}) == {"resnet-50"}
    assert found(store, "metrics.loss.best = 1.0", directions={"loss": "max"}) == {"resnet-18"}
    assert found(store, "metrics.acc.best_step = 0", directions={"acc": "min"}) == {"resnet-18", "resnet-50",
                                                                                   "bert-base", "crashed-run"}
    best = {r.name: r.summaries["score"] for r in store.search("metrics.score is not null")}
    assert best["resnet-50"].min == 1.0 and best["resnet-18"].max == 5.0


# -- ordering, windows, the records returned -----------------------------------------------------
def order(store, *fields, **options) -> list[str]:
    return [r.name for r in store.search("", order_by=list(fields), **options)]


def test_ordering(store):
    by_created = [r.name for r in sorted(store.list_runs(), key=lambda r: (r.created, r.id), reverse=True)]
    assert order(store, "-created") == by_created == [r.name for r in store.search()]
    assert order(store, "created") == by_created[::-1]
    assert order(store, "name") == sorted(ALL)
    assert order(store, "-name") == sorted(ALL, reverse=True)
    assert order(store, "+name") == sorted(ALL)
    missing = [n for n in by_created if n in {"gpt-tiny", "old-run", "live"}]  # no acc: last, newest first
    assert order(store, "-metrics.acc") == ["resnet-50", "bert-base", "resnet-18", "crashed-run", *missing]
    assert order(store, "metrics.acc") == ["crashed-run", "resnet-18", "bert-base", "resnet-50", *missing]
    assert order(store, "-metrics.acc.best")[:4] == ["resnet-50", "bert-base", "resnet-18", "crashed-run"]
    assert order(store, "-metrics.score.best")[:2] == ["resnet-18", "resnet-50"]  # 5, then 1 (min direction)
    assert order(store, "-metrics.score.best", directions={"score": "min"})[:2] == ["resnet-18", "resnet-50"]
    assert order(store, "metrics.score.best", directions={"score": "max"})[:2] == ["resnet-50", "resnet-18"]
    # numbers first (numerically), then text, then runs without the param; ties newest first
    assert order(store, "params.lr") == ["bert-base", "resnet-50", "resnet-18", "crashed-run", "old-run",
                                         "gpt-tiny", "live"]
    assert order(store, "-params.lr") == ["old-run", "resnet-18", "crashed-run", "resnet-50", "bert-base",
                                          "gpt-tiny", "live"]
    assert order(store, "tags.team")[:4] == ["old-run", "bert-base", "resnet-50", "resnet-18"]  # ties: newest first
    assert order(store, "experiment", "-name") == ["old-run", "gpt-tiny", "bert-base", "resnet-50", "resnet-18",
                                                   "live", "crashed-run"]
    assert order(store, "group", "name")[:2] == ["resnet-18", "resnet-50"]
    assert order(store, "-group", "name")[:2] == ["resnet-18", "resnet-50"]  # missing last either way
    assert order(store, "-duration")[:2] == ["crashed-run", "old-run"]
    assert order(store, "status", "name")[:4] == ["old-run", "resnet-18", "resnet-50", "crashed-run"]
    assert [r.name for r in store.search("", order_by="name")] == sorted(ALL)
    for fields in (["name"], ["-metrics.acc"], ["params.lr"], ["experiment", "-name"], ["-duration"]):
        assert order(store, *fields) == [r.name for r in Store.search(store, order_by=fields)]


def test_limit_and_offset(store):
    everything = order(store, "name")
    assert order(store, "name", limit=2) == everything[:2]
    assert order(store, "name", limit=2, offset=3) == everything[3:5]
    assert order(store, "name", offset=5) == everything[5:]
    assert order(store, "name", limit=0) == []
    assert order(store, "name", offset=100) == []
    for bad in ({"limit": -1}, {"offset": -1}, {"limit": 1.5}, {"offset": None}, {"limit": True}):
        with pytest.raises(ValueError):
            store.search("", **bad)


def test_records_carry_params_tags_and_summaries(store):
    listed = {r.id: r for r in store.list_runs()}
    searched = store.search("")
    assert len(searched) == len(listed)
    for record in searched:
        assert record == listed[record.id]
    (resnet,) = store.search("name = resnet-18")
    assert resnet.params["optimizer"] == {"name": "sgd", "momentum": 0.9}
    assert resnet.tags == {"team": "vision", "version": "v1.2"}
    assert set(resnet.summaries) == {"acc", "loss", "score", "train/loss", "val.loss"}
    assert resnet.summaries["acc"].max_step == 1
    assert resnet.artifacts == []


def test_search_reads_no_metric_points(store):
    statements: list[str] = []
    conn = store._connection()
    conn.set_trace_callback(statements.append)
    try:
        store.search("metrics.acc.best > 0.1", order_by=["-metrics.loss.min", "params.lr"])
        store.search("")
    finally:
        conn.set_trace_callback(None)
    assert statements and not any("metric_chunks" in s for s in statements)


def test_values_are_bound_never_spliced(store):
    hostile = "x'); DROP TABLE runs; --"
    assert found(store, f'name = "{hostile}"') == set()
    assert found(store, q.quote(hostile)) == set()
    compiled = q.SQLCompiler().compile(f'name = "{hostile}" or tags.`{hostile}` ~ "{hostile[:2]}"')
    assert hostile not in compiled.clause and hostile in compiled.args.values()
    assert len(store.list_runs()) == len(ALL)


def test_top_level_search_opens_the_store(store, tmp_path):
    path = tmp_path / "top"
    with aquarium.start_run("one", params={"lr": 0.5}, store=path, capture_source=False) as run:
        run.log({"acc": 0.75})
    with aquarium.start_run("two", store=str(path), capture_source=False):
        pass
    (one,) = aquarium.search("metrics.acc.best > 0.5", store=path)
    assert one.name == "one" and one.summaries["acc"].last == 0.75
    assert [r.name for r in aquarium.search(store=path, order_by=["name"], limit=1, offset=1)] == ["two"]
    assert [r.name for r in aquarium.search(store=store, query="name = live")] == ["live"]
    with pytest.raises(aquarium.QueryError):
        aquarium.search("metrics.acc >", store=path)
    with pytest.raises(aquarium.QueryError):
        aquarium.search("", order_by=["-nope"], store=path)


def test_many_runs_read_their_tags_and_summaries_by_selection(tmp_path):
    """Beyond 500 runs, tags and summaries come from the same selection as a subquery."""
    store = SQLiteStore(str(tmp_path / "many"))
    store._connection().execute("PRAGMA synchronous = OFF")  # 1,240 commits: no need to wait for the disk here
    for i in range(620):
        record = RunRecord(id=new_run_id(), name=f"r{i:04d}", created=1.7e9 + i, params={"i": i, "even": i % 2 == 0},
                           tags={"k": str(i % 3)}, status="completed")
        store.create_run(record)
        store.write_batch(record.id, "w", 0, {"m": make_series("m", [float(i), i / 2])})
    for query, limit, offset in [("", None, 0), ("params.i >= 30", None, 0), ("params.i >= 30", 550, 20),
                                 ("", 600, 5), ("params.even = true", None, 0)]:
        runs = store.search(query, order_by=["-metrics.m.first"], limit=limit, offset=offset)
        reference = Store.search(store, query, order_by=["-metrics.m.first"], limit=limit, offset=offset)
        assert [r.id for r in runs] == [r.id for r in reference]
        for record in runs:
            i = record.params["i"]
            assert record.tags == {"k": str(i % 3)}
            assert record.summaries["m"].first == float(i) and record.summaries["m"].count == 2
    assert len(store.search("params.i >= 30")) == 590
    store.close()


# -- errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("query", "position", "message"), [
    ("metrics.acc >", 13, "expected a value"),
    ("metrics.acc > and", 14, "expected a value"),
    ("foo = 1", 0, "unknown field 'foo'"),
    ("Status = running", 0, "did you mean 'status'"),
    ("metrics.", 8, "expected a key after '.'"),
    ("params = 1", 6, "expected a key after 'params.'"),
    ("name.first = x", 5, "name has no keys"),
    ("(a or b", 7, "expected ')' to close the '(' at position 0"),
    ("a or (b and (c)", 15, "expected ')' to close the '(' at position 5"),
    ("a)", 1, "unexpected ')'"),
    ("()", 1, "empty parentheses"),
    ('name = "x', 7, "unterminated string"),
    ("params.`lr = 1", 7, "unterminated key"),
    ("params.`` = 1", 7, "empty key"),
    ("status = crashd", 9, "unknown status 'crashd'"),
    ("status in (running, crashd)", 20, "unknown status"),
    ('metrics.acc ~ "a"', 12, "~ matches text"),
    ('created ~ "2026"', 8, "~ matches text"),
    ("created > 7d", 10, "a relative time needs a sign"),
    ("created > yesterday", 10, "created is a time"),
    ("created > -7 d", 10, "a relative time needs a unit (-7d"),
    ('created > "2026-13-45"', 10, "created is a time"),
    ("metrics.acc > abc", 14, "metrics.acc is a number"),
    ("metrics.acc > 2h", 14, "metrics.acc is a number"),
    ("duration > 2x", 11, "duration is a number"),
    ("duration > forever", 11, "duration is a number"),
    ('name ~ "ab["', 10, "invalid regular expression"),
    ('name ~ "(x"', 8, "invalid regular expression"),  # the unclosed group
    ('name ~ "^(L+)+X$"', 7, "exponential time: a repetition inside a repeated group"),
    ('params.opt ~ "(\\w+\\s?)*$"', 13, "exponential time: a repetition inside a repeated group"),
    ('name ~ "(.|.)+X"', 7, "exponential time: a repeated choice"),
    ('notes ~ "(a|ab)*c"', 8, "exponential time: a repeated choice"),
    ("a and", 5, "the query ends too early"),
    ("and a", 0, "unexpected 'and'"),
    ("a or or b", 5, "unexpected 'or'"),
    ("name is nul", 8, "expected 'null' after 'is'"),
    ("name is not 3", 12, "expected 'null' after 'is not'"),
    ("name = null", 7, "is null"),
    ("name", 4, "expected an operator"),
    ("params.lr", 9, "expected an operator"),
    ("params.lr lr", 10, "expected an operator"),
    ("name not like x", 5, "expected an operator"),
    ("name in x", 8, "expected '(' after 'in'"),
    ("name in (a b)", 11, "expected ',' or ')'"),
    ("name in ()", 9, "expected a value"),
    ("name in (a,)", 11, "expected a value"),
    ("x @ y", 2, "unexpected character '@'"),
    ("name ! x", 5, "expected '=' after '!'"),
    ('"name" = x', 0, "a quoted string cannot be compared"),
    ("3 > 2", 0, "a number cannot be compared"),
    ("`lr` = 1", 0, "needs its field in front"),
    ("a `b`", 2, "backticks quote the keys of fields"),
    ("name = metrics.acc", 7, "cannot be compared with another field"),
    ("name = = x", 7, "expected a value"),
    ("name = x = y", 9, "expected 'and', 'or' or the end"),
    ("(" * 30 + "a" + ")" * 30, 20, "nests too deeply"),
    ("not " * 30 + "a", 80, "nests too deeply"),
    ("name = '\ud800'", 8, "lone surrogate"),
])
def test_query_errors_point_at_the_culprit(store, query, position, message):
    with pytest.raises(QueryError) as caught:
        q.parse(query)
    error = caught.value
    assert (error.query, error.position) == (query, position)
    assert message in error.reason
    text = str(error)
    first, shown, caret = text.split("\n")
    assert message in first and f"(position {position})" in first
    assert shown == "  " + query.split("\n")[0]
    assert caret == "  " + " " * position + "^"
    with pytest.raises(QueryError):
        store.search(query)


def test_query_error_is_a_value_error_and_pickles():
    with pytest.raises(QueryError) as caught:
        aquarium.query.parse("metrics.acc >\n  and x")
    error = caught.value
    assert isinstance(error, ValueError) and isinstance(error, AquariumError)
    assert aquarium.QueryError is QueryError
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.query, copy.position, str(copy)) == (error.query, error.position, str(error))
    assert str(error).split("\n")[1:] == ["    and x", "    ^"]  # the line holding the culprit


@pytest.mark.parametrize(("spec", "position", "message"), [
    ("-nope", 1, "expected a field to order by"),
    ("", 0, "expected a field to order by"),
    ("-", 1, "expected a field to order by"),
    ("name x", 5, "expected one field"),
    ("-metrics.", 9, "expected a key"),
    ("params", 6, "expected a key after 'params.'"),
    ("`name`", 0, "expected a field"),
])
def test_order_by_errors(store, spec, position, message):
    with pytest.raises(QueryError) as caught:
        store.search("", order_by=[spec])
    assert (caught.value.query, caught.value.position) == (spec, position)
    assert message in caught.value.reason
    with pytest.raises(QueryError):
        Store.search(store, "", order_by=[spec])


# -- the tree ------------------------------------------------------------------------------------
def test_tree_shapes():
    tree = q.parse("a b or not c and params.x = 1").root
    assert isinstance(tree, q.Or)
    left, right = tree.items
    assert left == q.And((q.Text("a", 0), q.Text("b", 2)))
    assert isinstance(right, q.And) and isinstance(right.items[0], q.Not)
    field = q.parse("metrics.`val.loss`.best_step < 3").root.field
    assert (field.kind, field.key, field.aggregate) == ("metrics", "val.loss", "best_step")
    assert q.parse("metrics.a.b = 1").root.field.key == "a.b"          # no aggregate: all key
    assert q.parse("metrics.min = 1").root.field.key == "min"       # a lone segment is the key
    assert q.parse("metrics.a.`min` = 1").root.field.key == "a.min"  # backticked: part of the key
    assert q.parse("params.`a b`.c = 1").root.field.key == "a b.c"
    assert q.parse("tags.`it's` = 1").root.field.key == "it's"
    assert q.parse(r'name = "say \"hi\" \\ \d"').root.value.text == 'say "hi" \\ \\d'
    assert q.parse("name = 'it\\'s'").root.value.text == "it's"
    assert q.parse("params.`a\\`b` = 1").root.field.key == "a`b"
    assert q.parse("ünïcödé_κλειδί").root == q.Text("ünïcödé_κλειδί", 0)
    assert q.parse("metrics.训练/损失 > 1").root.field.key == "训练/损失"
    value = q.parse("created > -7d").root.value
    assert value.relative and value.number == -7 * DAY
    assert q.parse("duration < 1.5h").root.value.number == 5400
    assert q.parse("duration < 1e3").root.value.number == 1000
    assert q.parse("params.x = 2h").root.value.number is None  # durations are text for params
    assert q.parse("params.x = -1.5e2").root.value.number == -150
    assert q.parse("params.x = '3'").root.value.number is None  # quoted: text
    assert q.parse("params.x = 3").root.value.number == 3
    assert isinstance(q.parse("A AND B OR NOT C").root, q.Or)
    assert q.parse("x") == q.parse(q.parse("x"))


def test_quote_helpers_round_trip():
    for text in ["plain", "it's", 'say "hi"', "back\\slash", "tick`", ""]:
        assert q.parse(q.quote(text)).root == q.Text(text, 0)
        assert q.parse(f"params.{q.quote_key(text or 'x')} = 1").root.field.key == (text or "x")


# -- random input never raises anything but QueryError; compiled SQL agrees with the evaluator ----
_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))

_FIELDS = ["params.lr", "params.optimizer.name", "params.`batch size`", "params.flag", "params.note",
           "params.layers", "params.missing", "metrics.loss", "metrics.loss.min", "metrics.acc.max",
           "metrics.acc.best", "metrics.score.best_step", "metrics.`val.loss`.min", "metrics.train/loss.count",
           "metrics.acc.first", "metrics.loss.last", "metrics.`loss.min`", "tags.team", "tags.version", "status",
           "name", "experiment", "group", "created", "started", "ended", "duration", "id", "parent", "notes"]
_OPERATORS = ["=", "!=", "<", "<=", ">", ">=", "~", "==", "in", "not in", "is", "is not"]
_VALUES = ["0.1", "0.01", "1", "64", "-7d", "2h", "-1h", "600", '"2026-01-01"', "'sgd'", '"vision"', "resnet",
           '"res"', "crashed", "running", "completed", '"^res.*8$"', '"a|b"', "true", "v1.2", "0.5", "3", "null",
           "'0.01'", "'[1, 2]'", "adam", "Vision", '"^[a-m]"', "'(x|y)?z*'", "3.0", "-1", "1e9"]
_TOKENS = [*_FIELDS, *_OPERATORS, *_VALUES, "and", "or", "not", "(", ")", ",", "`", "'", '"', "\\", ".", "@",
           "-", "AND", "Or", "nested.`", "metrics.", "params.a.", "!", "~~", "()", "\n", "\t"]


@given(st.text())
@_SETTINGS
@example("`")
@example("metrics.`")
@example("'\\")
@example("1e99999d")
@example("created > -1e308w")
@example("duration > 1e400")
@example('name ~ "' + "(" * 2000 + '"')
@example('name ~ "a{99999999999999999999}"')
def test_random_text_raises_only_query_errors(text):
    try:
        q.parse(text)
    except QueryError as error:
        assert 0 <= error.position <= len(text) and error.query == text
        str(error)


@given(st.lists(st.sampled_from(_TOKENS), max_size=16), st.sampled_from([" ", ""]))
@_SETTINGS
def test_token_soup_raises_only_query_errors(tokens, separator):
    text = separator.join(tokens)
    try:
        parsed = q.parse(text)
    except QueryError as error:
        assert 0 <= error.position <= len(text)
        return
    q.SQLCompiler().compile(parsed)


_comparison = st.builds(
    lambda field, op, values: (f"{field} {op} ({', '.join(values)})" if op.endswith("in")
                               else f"{field} {op} null" if op.startswith("is") else f"{field} {op} {values[0]}"),
    st.sampled_from(_FIELDS), st.sampled_from(_OPERATORS), st.lists(st.sampled_from(_VALUES), min_size=1, max_size=3))
_term = st.one_of(_comparison, st.sampled_from(["resnet", '"0.01"', "vision", "sgd", "'run.'", "RES"]))
_queries = st.recursive(
    _term,
    lambda inner: st.one_of(
        st.builds(lambda a, b, op: f"{a} {op} {b}", inner, inner, st.sampled_from(["and", "or", ""])),
        st.builds(lambda a: f"not {a}", inner),
        st.builds(lambda a: f"({a})", inner)),
    max_leaves=6)
_orders = st.lists(st.sampled_from(_FIELDS).flatmap(lambda f: st.sampled_from([f, "-" + f])), max_size=3)


@given(_queries, _orders, st.sampled_from([None, {"score": "min"}, {"acc": "min", "loss": "max"}]))
@_SETTINGS
def test_sql_agrees_with_the_reference_evaluator(store, text, order_by, directions):
    try:
        parsed = q.parse(text)
    except QueryError:
        return
    sql = store.search(parsed, order_by=order_by, directions=directions)
    reference = q.select(store.list_runs(), parsed, order_by=order_by, directions=directions)
    assert [r.name for r in sql] == [r.name for r in reference], text


@pytest.mark.parametrize("leaf", ["name = a", "group = a", "params.x in (1, a)", "metrics.m.best > 1", "word",
                                  "tags.t in (a, b)", "duration > 1h", "status = crashed"])
@pytest.mark.parametrize("shape", ["not (x or ", "(x and ", "(x or "])
def test_the_deepest_query_that_parses_runs(store, leaf, shape):
    """What parses runs: SQLite's parser allows only a few dozen levels of nested SQL."""
    def deepest(make):
        for depth in range(q.MAX_DEPTH, 0, -1):
            try:
                return q.parse(make(depth))
            except QueryError as error:
                assert "nests too deeply" in error.reason
        raise AssertionError("nothing parses")

    alternating = deepest(lambda d: "".join(shape if i % 2 else "(y and " for i in range(d)) + leaf + ")" * d)
    store.search(alternating, order_by=["-metrics.acc.best", "params.lr", "tags.team"])
    store.search(deepest(lambda d: shape * d + leaf + ")" * d))
    store.search(" or ".join([leaf] * 300))
    store.search(" ".join(f"w{i}" for i in range(3000)))


def test_regexp_function_is_registered_on_every_connection(store):
    conn = sqlite3.connect(":memory:")
    q.register_sqlite_functions(conn)
    assert conn.execute("SELECT regexp('^a.c$', 'abc'), regexp('x', 'abc'), regexp('a', NULL)").fetchone() == (1, 0, 0)
    assert conn.execute("SELECT 'abc' REGEXP 'b'").fetchone() == (1,)
    assert store._connection().execute("SELECT regexp('b+', 'abbb')").fetchone() == (1,)


def test_metric_series_summaries_feed_the_query(tmp_path):
    """NaN and infinities as logged: NaN reads as null, infinities compare as numbers."""
    store = SQLiteStore(str(tmp_path / "inf"))
    record = RunRecord(id=new_run_id(), name="inf", status="completed")
    store.create_run(record)
    store.write_batch(record.id, "w", 0, {"m": MetricSeries("m", [0, 1, 2], [math.nan, -math.inf, math.inf],
                                                            [1.0, 2.0, 3.0])})
    assert found(store, "metrics.m > 1e308") == {"inf"}
    assert found(store, "metrics.m.min < -1e308") == {"inf"}
    assert found(store, "metrics.m.first is null") == {"inf"}
    assert found(store, "metrics.m.count = 3") == {"inf"}
    store.close()


def test_a_catastrophic_regex_is_refused_before_it_runs(tmp_path):
    """``^(L+)+X$`` against a long name backtracks for minutes while holding the GIL (a served
    dashboard would freeze); it is refused at parse time, and safe patterns still match."""
    path = str(tmp_path / "store")
    for name in ("L" * 5_000, "resnet-50", "foofoobar"):
        aquarium.start_run(name=name, store=path, capture_source=False).finish()
    with pytest.raises(QueryError, match="exponential time"):
        aquarium.search('name ~ "^(L+)+X$"', store=path)
    assert [r.name for r in aquarium.search('name ~ "^L+X?$"', store=path)] == ["L" * 5_000]
    assert [r.name for r in aquarium.search('name ~ "^resnet-(18|50)$"', store=path)] == ["resnet-50"]
    assert [r.name for r in aquarium.search('name ~ "^(foo|bar)+$"', store=path)] == ["foofoobar"]
