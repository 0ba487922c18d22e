"""``ExporterSuite``: the round-trip contract of an exporter and its importer.

Runs generated with hypothesis are exported, imported back into a fresh store and must
equal the originals, except for what the plugin declares lost in ``declared_losses``.
Subclass it and provide the ``target`` fixture (the ``to=`` of an export, e.g. a tracking
URI or a folder) and, when the importer reads something else, override :meth:`source_for`.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from typing import Any, ClassVar

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aquarium import interop
from aquarium.ids import new_run_id
from aquarium.interop import RunBundle, load_bundle
from aquarium.model import Artifact, MetricSeries, RunRecord
from aquarium.stores.sqlite import SQLiteStore
from aquarium.validation import flatten

_name = st.text(st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="/\\"), min_size=1,
                max_size=30).filter(lambda s: s.strip() and s not in (".", ".."))
_key = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,8}(/[A-Za-z0-9_]{1,8})?", fullmatch=True)
_param = st.one_of(st.integers(-10**6, 10**6), st.floats(-1e6, 1e6, allow_nan=False).filter(lambda f: f != 0 or
                   math.copysign(1, f) > 0), st.booleans(), st.text(max_size=20), st.none())
_value = st.floats(allow_nan=True, allow_infinity=True, width=64)


@st.composite
def bundles(draw: Any, max_points: int = 40) -> RunBundle:
    """A run with params, tags, notes, status, times, a few metrics and one artifact."""
    started = round(draw(st.floats(1.5e9, 1.9e9)), 3)
    history = {}
    for key in draw(st.lists(_key, min_size=1, max_size=3, unique_by=str.lower)):
        n = draw(st.integers(1, max_points))
        steps = draw(st.lists(st.integers(0, 10**6), min_size=n, max_size=n))
        values = draw(st.lists(_value, min_size=n, max_size=n))
        offsets = np.cumsum(draw(st.lists(st.floats(0, 10), min_size=n, max_size=n)))
        history[key] = MetricSeries(key, steps, values, started + offsets)
    status = draw(st.sampled_from(["completed", "failed", "killed"]))
    record = RunRecord(
        id=new_run_id(), name=draw(_name), experiment=draw(st.sampled_from(["exp", "other exp"])),
        group=draw(st.none() | st.sampled_from(["g1", "seed-sweep"])), status=status, created=started,
        started=started, ended=started + round(draw(st.floats(1, 1e5)), 3),
        params=draw(st.dictionaries(_key, _param | st.dictionaries(_key, _param, min_size=1, max_size=2),
                                    max_size=4)),
        tags=draw(st.dictionaries(_key, st.text(max_size=15), max_size=3)), notes=draw(st.text(max_size=40)),
        error="ValueError: boom" if status == "failed" else None,
    )
    payload = draw(st.binary(min_size=0, max_size=200))
    model = draw(st.booleans())
    record.artifacts = [Artifact("model.bin" if model else "data/table.csv", len(payload), "",
                                 "model" if model else "file", {"framework": "torch"} if model else {})]
    return RunBundle(record, history, {record.artifacts[0].name: payload})  # bytes until written


def _store(folder: str) -> SQLiteStore:
    return SQLiteStore(os.path.join(folder, f"store-{time.monotonic_ns()}"))


def put(store: SQLiteStore, bundle: RunBundle, folder: str) -> str:
    """Write a generated bundle (artifact bytes in ``artifact_files``) into ``store``."""
    files = {}
    for name, payload in bundle.artifact_files.items():
        path = os.path.join(folder, "in-" + name.replace("/", "_"))
        with open(path, "wb") as f:
            f.write(payload)  # type: ignore[arg-type]
        files[name] = path
    return interop.write_bundle(store, RunBundle(bundle.record, bundle.history, files), "suite:" + bundle.record.id)


def comparable(bundle: RunBundle, losses: frozenset[str]) -> dict[str, Any]:
    """What must survive a round trip, minus the declared losses."""
    r = bundle.record
    out: dict[str, Any] = {
        "name": r.name, "experiment": r.experiment, "group": r.group, "status": r.status,
        "started": r.started, "ended": r.ended, "params": flatten(r.params), "notes": r.notes, "error": r.error,
        "tags": {k: v for k, v in r.tags.items() if not k.startswith("aquarium.")},
        "history": {k: (s.steps.tolist(), [repr(v) for v in s.values.tolist()], s.timestamps.tolist())
                    for k, s in bundle.history.items()},
        "artifacts": sorted((a.name, a.kind, a.size, a.sha256, sorted(a.metadata.items())) for a in r.artifacts),
    }
    for loss in losses:
        out.pop(loss, None)
    return out


class ExporterSuite:
    """The round-trip contract. Subclasses set ``exporter`` and provide a ``target`` fixture."""

    #: The exporter's registered name (and the importer's, unless ``importer`` says otherwise).
    exporter: ClassVar[str] = ""
    importer: ClassVar[str | None] = None
    #: Keys of :func:`comparable` this plugin cannot carry (documented in its README).
    declared_losses: ClassVar[frozenset[str]] = frozenset()
    #: Hypothesis examples for the round trip (real tools are slow: keep it small).
    examples: ClassVar[int] = 8
    export_options: ClassVar[dict[str, Any]] = {}
    import_options: ClassVar[dict[str, Any]] = {}

    @pytest.fixture
    def target(self, tmp_path: Any) -> Any:  # pragma: no cover - subclasses override
        raise NotImplementedError("provide a `target` fixture: the to= of an export")

    def source_for(self, target: Any) -> str:
        """What the importer reads after exporting to ``target``."""
        return str(target)

    def _round_trip(self, bundle: RunBundle, target: Any, folder: str, times: int = 1) -> tuple[str, SQLiteStore]:
        src = _store(folder)
        run_id = put(src, bundle, folder)
        for _ in range(times):
            (result,) = interop.export([run_id], self.exporter, to=str(target), store=src, progress=False,
                                       **self.export_options)
            assert result.status == "ok", result.error
        return run_id, src

    def _import(self, target: Any, folder: str) -> tuple[SQLiteStore, list[Any]]:
        dst = _store(folder)
        results = interop.import_runs(self.importer or self.exporter, self.source_for(target), store=dst,
                                      progress=False, **self.import_options)
        assert all(r.status == "ok" for r in results), [r.error for r in results]
        return dst, results

    def test_round_trip_is_lossless(self, target: Any) -> None:
        @given(bundle=bundles())
        @settings(max_examples=self.examples, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        def check(bundle: RunBundle) -> None:
            with tempfile.TemporaryDirectory() as folder:
                where = self.fresh_target(target, folder)
                run_id, src = self._round_trip(bundle, where, folder)
                dst, results = self._import(where, folder)
                mine = [r for r in results if r.run_name == bundle.record.name]
                assert mine, f"the exported run {bundle.record.name!r} was not imported back"
                with tempfile.TemporaryDirectory() as tmp:
                    original = load_bundle(src, run_id, tmp)
                    back = load_bundle(dst, mine[-1].run_id, tmp)
                    assert comparable(back, self.declared_losses) == comparable(original, self.declared_losses)

        check()

    def fresh_target(self, target: Any, folder: str) -> Any:
        """A target no earlier example wrote to (default: the fixture's, shared)."""
        return target

    def test_export_twice_updates_the_same_target_run(self, target: Any, tmp_path: Any) -> None:
        @given(bundle=bundles())
        @settings(max_examples=1, deadline=None, database=None)
        def check(bundle: RunBundle) -> None:
            self._round_trip(bundle, target, str(tmp_path), times=2)
            _, results = self._import(target, str(tmp_path))
            assert len([r for r in results if r.run_name == bundle.record.name]) == 1

        check()

    def test_import_twice_never_duplicates(self, target: Any, tmp_path: Any) -> None:
        @given(bundle=bundles())
        @settings(max_examples=1, deadline=None, database=None)
        def check(bundle: RunBundle) -> None:
            self._round_trip(bundle, target, str(tmp_path))
            dst, first = self._import(target, str(tmp_path))
            again = interop.import_runs(self.importer or self.exporter, self.source_for(target), store=dst,
                                        progress=False, **self.import_options)
            assert {r.status for r in again} == {"exists"}
            assert len(dst.list_runs()) == len(first)

        check()
