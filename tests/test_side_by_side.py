"""Cross-distribution: runs logged natively with MLflow, W&B and TensorBoard are imported into one
store and compared side by side; the comparison becomes a report from the command line."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import aquarium

LOSS = {name: (1.0 + offset) / (np.arange(50) + 1) for name, offset in (("mlflow", 0.2), ("wandb", 0.1),
                                                                            ("tensorboard", 0.0))}


@pytest.fixture
def env(tmp_path, monkeypatch):
    home = tmp_path / "wandb-home"
    for key, value in {"WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_DISABLE_GIT": "true",
                       "WANDB_DISABLE_CODE": "true", "WANDB_CONSOLE": "off", "WANDB_DIR": str(home),
                       "WANDB_CACHE_DIR": str(home / ".cache"), "WANDB_CONFIG_DIR": str(home / ".config"),
                       "WANDB_DATA_DIR": str(home / ".data"), "MLFLOW_DISABLE_TELEMETRY": "true",
                       "DO_NOT_TRACK": "true", "AQUARIUM_STORE": str(tmp_path / "store")}.items():
        monkeypatch.setenv(key, value)
    return tmp_path


def native(code: str, cwd) -> None:
    """Log the way each tool's own users do, in a fresh process."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=os.environ.copy())
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_mlflow_wandb_and_tensorboard_runs_compare_side_by_side(env):
    native(f"""
        from mlflow.tracking import MlflowClient
        from mlflow.entities import Metric
        import time
        c = MlflowClient(tracking_uri="sqlite:///{env}/mlflow.db")
        run = c.create_run(c.create_experiment("cmp"), run_name="from-mlflow")
        now = int(time.time() * 1000)
        values = {LOSS["mlflow"].tolist()}
        c.log_batch(run.info.run_id, metrics=[Metric("loss", v, now + i, i) for i, v in enumerate(values)])
        c.set_terminated(run.info.run_id)
    """, env)
    native(f"""
        import wandb
        run = wandb.init(project="cmp", name="from-wandb", dir={str(env)!r})
        for i, v in enumerate({LOSS["wandb"].tolist()}):
            run.log({{"loss": v}}, step=i)
        run.finish()
    """, env)
    native(f"""
        from tensorboardX import SummaryWriter
        w = SummaryWriter({str(env / "tb" / "from-tensorboard")!r})
        for i, v in enumerate({LOSS["tensorboard"].tolist()}):
            w.add_scalar("loss", v, i)
        w.close()
    """, env)
    for kind, source in (("mlflow", f"sqlite:///{env}/mlflow.db"), ("wandb", str(env / "wandb")),
                         ("tensorboard", str(env / "tb"))):
        results = aquarium.import_runs(kind, source, experiment="side-by-side")
        assert [r.status for r in results] == ["ok"], results
    comparison = aquarium.compare('experiment = "side-by-side"', ["loss"])
    assert len(comparison.runs) == 3
    for stats in comparison.summary.metric("loss"):
        kind = next(k for k in LOSS if k in stats.run_name)
        assert stats.count == 50 and stats.best_step == 49
        assert stats.best == pytest.approx(LOSS[kind][-1], rel=1e-6)  # TensorBoard keeps float32
    assert "tensorboard" in comparison.best("loss").run_name
    report = env / "report.html"
    cli = subprocess.run([sys.executable, "-m", "aquarium", "compare", "-q", 'experiment = "side-by-side"',
                          "--html", str(report)], capture_output=True, text=True, timeout=300, env=os.environ.copy())
    assert cli.returncode == 0, cli.stderr
    text = report.read_text()
    assert all(name in text for name in ("from-mlflow", "from-wandb", "from-tensorboard"))
    assert 'src="http' not in text
