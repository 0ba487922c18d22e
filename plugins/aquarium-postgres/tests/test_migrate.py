"""``aquarium.migrate`` (the core's) between the embedded SQLite store and PostgreSQL, both ways."""

from __future__ import annotations

import math

import aquarium
from aquarium.migrate import migrate
from aquarium.stores.sqlite import SQLiteStore
from aquarium_postgres.store import PostgresStore


def _fingerprint(store, run_id):
    record = store.get_run(run_id)
    history = store.history(run_id)
    assert len(history["loss"]) == 500
    return (record.name, record.status, record.params, record.tags, record.summaries,
            sorted((a.name, a.sha256, a.size) for a in record.artifacts),
            history)  # MetricSeries compare NaN equal to NaN


def test_sqlite_to_postgres_and_back(pg_url, tmp_path):
    sqlite = SQLiteStore(str(tmp_path / "local"))
    model = tmp_path / "model.bin"
    model.write_bytes(b"\x01\x02" * 500)
    ids = []
    for i in range(3):
        with aquarium.start_run(f"r{i}", params={"lr": 10.0 ** -i, "opt": {"name": "adam"}}, tags={"i": str(i)},
                                store=sqlite, capture_source=False) as run:
            for step in range(500):
                run.log({"loss": 1.0 / (step + 1), "odd": math.nan if step % 7 == 0 else float(step)})
            run.log_model(model, framework="raw")
        ids.append(run.id)
    pg = PostgresStore(pg_url, artifacts=str(tmp_path / "shared"))
    back = SQLiteStore(str(tmp_path / "back"))
    try:
        assert {r.status for r in migrate(sqlite, pg, progress=False)} == {"ok"}
        assert {r.status for r in migrate(sqlite, pg, progress=False)} == {"exists"}  # no duplicates
        assert {r.status for r in migrate(pg, back, "params.lr >= 0.1", progress=False)} == {"ok"}
        for run_id in ids:
            assert _fingerprint(pg, run_id) == _fingerprint(sqlite, run_id)
        assert sorted(r.id for r in back.list_runs()) == sorted(ids[:2])
        for run_id in ids[:2]:
            assert _fingerprint(back, run_id) == _fingerprint(sqlite, run_id)
    finally:
        pg.close()
        sqlite.close()
        back.close()
