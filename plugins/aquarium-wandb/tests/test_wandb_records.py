"""The ``.wandb`` reader (records.py) on files written by W&B's own client: records split
across blocks, files cut short, corruption, and what each record kind gives back."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from aquarium_wandb import records
from aquarium_wandb.records import find_run_files, iter_records, read_run_file


@pytest.fixture(scope="module")
def big_run(tmp_path_factory, wandb_offline_env) -> Path:
    """A W&B offline run with records far larger than a 32 KiB block, and tricky values."""
    import subprocess
    import sys
    import textwrap

    out = tmp_path_factory.mktemp("big")
    code = textwrap.dedent("""
        import wandb, os
        run = wandb.init(project="big", id="bigrun1", dir=os.environ["OUT"], config={"blob": "x" * 100_000},
                         settings=wandb.Settings(mode="offline", x_disable_stats=True, x_disable_meta=True,
                                                 console="off", silent=True, disable_git=True, save_code=False))
        for s in range(300):
            run.log({f"k{i}": s * 1000 + i + 0.5 for i in range(40)}, step=s)
        run.log({"special": float("nan")}, step=300)
        run.log({"special": float("-inf"), "neg0": -0.0, "big": 1e300, "int": 2**53 + 1}, step=301)
        run.finish()
    """)
    env = {**__import__("os").environ, "OUT": str(out)}
    env.pop("WANDB_SERVICE", None)
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)
    (path,) = find_run_files(out)
    return Path(path)


def test_reads_every_record_across_blocks(big_run):
    kinds = [r.WhichOneof("record_type") for r in iter_records(big_run)]
    assert big_run.stat().st_size > 5 * records.BLOCK
    assert kinds.count("history") == 302
    assert kinds[0] == "header" and "run" in kinds and kinds[-1] in ("exit", "final", "footer", "summary")
    run = read_run_file(str(big_run))
    assert run.run_id == "bigrun1" and run.project == "big"
    assert run.config["blob"] == "x" * 100_000  # one record split over several blocks
    assert run.history["k7"][0] == list(range(300))
    assert run.history["k7"][1] == [s * 1000 + 7.5 for s in range(300)]
    assert run.exit_code == 0


def test_exact_special_values(big_run):
    run = read_run_file(str(big_run))
    assert math.isnan(run.history["special"][1][0]) and run.history["special"][1][1] == -math.inf
    assert math.copysign(1, run.history["neg0"][1][0]) == -1
    assert run.history["big"][1] == [1e300]
    assert run.history["int"][1] == [float(2**53 + 1)]
    assert run.history["special"][0] == [300, 301]


def test_a_file_cut_short_ends_at_its_last_whole_record(big_run, tmp_path):
    whole = list(iter_records(big_run))
    data = big_run.read_bytes()
    for cut in (len(data) - 3, len(data) // 2, records.BLOCK + 5, 20, 7):
        part = tmp_path / "run-cut.wandb"
        part.write_bytes(data[:cut])
        got = list(iter_records(part))
        assert len(got) < len(whole) and (len(got) > 0) == (cut > 100)
        assert [r.SerializeToString() for r in got] == [r.SerializeToString() for r in whole[:len(got)]]


def test_corruption_names_the_file_and_offset(big_run, tmp_path):
    data = bytearray(big_run.read_bytes())
    data[records.BLOCK + 100] ^= 0xFF
    bad = tmp_path / "run-bad.wandb"
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"run-bad\.wandb: bad checksum at byte \d+"):
        list(iter_records(bad))
    not_wandb = tmp_path / "run-x.wandb"
    not_wandb.write_bytes(b"hello world")
    with pytest.raises(ValueError, match="not a W&B run file"):
        list(iter_records(not_wandb))


def test_find_run_files_skips_latest_run_symlink(big_run, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(big_run.parent.parent.parent, root, symlinks=True)
    found = find_run_files(root)
    assert len(found) == 1 and "latest-run" not in found[0]
    assert find_run_files(found[0]) == found
    assert find_run_files(Path(found[0]).parent) == found
    deep = tmp_path / "project" / "logs" / "files" / "tmp"  # folder names W&B uses inside runs
    shutil.copytree(root, deep, symlinks=True)
    assert len(find_run_files(tmp_path / "project")) == 1
    with pytest.raises(FileNotFoundError, match="no such W&B folder"):
        find_run_files(tmp_path / "nope")


def test_number_decoding():
    assert records.number("1") == 1.0 and records.number("-0") == 0.0
    assert math.copysign(1, records.number("-0")) == -1
    assert math.isnan(records.number("NaN")) and records.number("-Infinity") == -math.inf
    assert records.number("true") == 1.0 and records.number("false") == 0.0
    assert records.number('"text"') is None and records.number("[1, 2]") is None
    assert records.number('{"_type": "image-file"}') is None and records.number("null") is None
    assert records.number("1.7957064888839939e+09") == 1795706488.8839939


def test_exit_record_found_from_the_last_blocks(big_run, tmp_path):
    assert records.has_exit_record(big_run)
    data = big_run.read_bytes()
    whole = [r.WhichOneof("record_type") for r in iter_records(big_run)]
    tail = [r.WhichOneof("record_type") for r in iter_records(big_run, from_block=len(data) // records.BLOCK - 1)]
    assert tail and whole[-len(tail):] == tail  # starts cleanly after the pieces of an earlier record
    cut = tmp_path / "run-cut.wandb"
    cut.write_bytes(data[:-40])
    assert not records.has_exit_record(cut)
    assert not records.has_exit_record(tmp_path / "run-none.wandb")


def test_updates_equal_applying_every_update_in_turn():
    from types import SimpleNamespace as Item

    def item(path, value=None):
        return Item(key=path[0] if len(path) == 1 and path[0] != "n" else "", nested_key=list(path),
                    value_json=None if value is None else json.dumps(value))

    steps = [("u", ("a",), {"b": 1, "c": 2}), ("u", ("a", "c"), 5), ("u", ("n",), 1), ("u", ("a",), {"d": 3}),
             ("u", ("a", "e"), 4), ("u", ("x", "y"), 1), ("r", ("a", "d"), None), ("u", ("n",), 2),
             ("r", ("x",), None), ("u", ("z",), [1, 2])]
    tree, expected = records.Updates(), {}
    for kind, path, value in steps:
        if kind == "u":
            tree.update([item(path, value)])
            node = expected
            for part in path[:-1]:
                node = node.setdefault(part, {})
            node[path[-1]] = value
        else:
            tree.remove([item(path)])
            node = expected
            for part in path[:-1]:
                node = node.get(part, {})
            node.pop(path[-1], None)
        assert tree.result() == expected
    assert expected == {"a": {"e": 4}, "n": 2, "z": [1, 2]}
