"""Create and track experiments, compare their runs, visualize them, export them.

The scope of the original Aquarium example, on the real API. Runs go to ``AQUARIUM_STORE``
(default ``./.aquarium``); ``report.html`` and ``tb-logs/`` are written to the working
directory. Needs ``aquarium-plotly`` (the report) and ``aquarium-tensorboard`` (the export)::

    pip install ./aquarium_core ./plugins/aquarium-plotly ./plugins/aquarium-tensorboard
    python examples/tracking_example.py
    tensorboard --logdir tb-logs
"""

from __future__ import annotations

import csv

import numpy as np

import aquarium


def fit_line(run: aquarium.Run, lr: float, noise: float, steps: int = 200, seed: int = 0) -> np.ndarray:
    """Gradient descent on y = 3x - 1 + noise; logs train and validation MSE every step."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, 256)
    y = 3 * x - 1 + rng.normal(0, noise, x.size)
    x_train, y_train, x_val, y_val = x[:192], y[:192], x[192:], y[192:]
    w = b = 0.0
    for step in range(steps):
        error = w * x_train + b - y_train
        w -= lr * 2 * np.mean(error * x_train)
        b -= lr * 2 * np.mean(error)
        val_mse = np.mean((w * x_val + b - y_val) ** 2)
        run.log({"train/mse": np.mean(error**2), "val/mse": val_mse, "weights/w": w, "weights/b": b}, step=step)
    return np.array([w, b])


def main() -> None:
    # 1. Track: two experiments, a few runs each, with params, tags, notes and an artifact.
    for experiment, noise in (("line-clean", 0.05), ("line-noisy", 0.5)):
        for lr in (0.01, 0.1, 0.5):
            with aquarium.start_run(name=f"lr={lr}", experiment=experiment, group=f"{experiment}-lr-sweep",
                                    params={"lr": lr, "data": {"noise": noise, "points": 256}},
                                    tags={"model": "linear"}) as run:
                w, b = fit_line(run, lr, noise)
                run.set_notes(f"fitted w={w:.3f}, b={b:.3f} (truth: 3, -1)")
                with open("coefficients.csv", "w", newline="") as f:
                    csv.writer(f).writerows([["w", w], ["b", b]])
                run.log_artifact("coefficients.csv")
            print(f"{experiment:11} {run.name:8} {run.id} {run.status}")

    # 2. Find runs with the query language, and compare them.
    runs = aquarium.search("experiment = 'line-clean' and metrics.val/mse.min < 0.1", order_by=["metrics.val/mse.min"])
    print("clean runs with val/mse < 0.1:", [r.name for r in runs])
    cmp = aquarium.compare("experiment = 'line-clean'", ["train/mse", "val/mse"])
    best = cmp.best("val/mse")
    print(f"best: {best.run_name} val/mse={best.value:.4f} at step {best.step}; params that differ: "
          f"{cmp.params.differing}")

    # 3. Visualize: one standalone HTML report (curves, summary, differing params).
    print("report:", cmp.to_html("report.html"))

    # 4. Export every run of both experiments to TensorBoard event files.
    results = aquarium.export("experiment = 'line-clean' or experiment = 'line-noisy'", "tensorboard", to="tb-logs")
    print(f"exported {sum(r.status == 'ok' for r in results)} of {len(results)} runs to tb-logs/")


if __name__ == "__main__":
    main()
