"""Demo runs: a real (tiny) numpy training loop, swept over learning rates and seeds."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable

import numpy as np

from .interfaces import Store
from .tracking import start_run


def _spirals(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    t = np.sqrt(rng.random(n)) * 3 * np.pi
    label = rng.integers(0, 2, n)
    angle = t + np.pi * label
    x = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1) / 10 + rng.normal(0, 0.03, (n, 2))
    return x, label.astype(float)


def _forward(x, w1, b1, w2):
    h = np.tanh(x @ w1 + b1)
    with np.errstate(over="ignore"):
        return h, 1 / (1 + np.exp(-(h @ w2)))


def _log_loss(p, y) -> float:
    return float(-np.mean(y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12)))


def train(run, lr: float, seed: int, steps: int, hidden: int = 32) -> np.ndarray:
    """Full-batch SGD on a two-layer tanh network; logs train and validation loss/accuracy."""
    rng = np.random.default_rng(seed)
    x, y = _spirals(600, rng)
    xv, yv = _spirals(300, rng)
    w1 = rng.normal(0, 1, (2, hidden))
    b1 = np.zeros(hidden)
    w2 = rng.normal(0, 1 / np.sqrt(hidden), hidden)
    for step in range(steps):
        h, p = _forward(x, w1, b1, w2)
        loss = _log_loss(p, y)
        if not np.isfinite(loss) or loss > 5:
            raise FloatingPointError(f"loss diverged to {loss:.3g} at step {step} (lr={lr})")
        g = (p - y) / len(y)
        gh = np.outer(g, w2) * (1 - h**2)
        w2 -= lr * (h.T @ g)
        w1 -= lr * (x.T @ gh)
        b1 -= lr * gh.sum(0)
        if step % 5 == 0:
            _, pv = _forward(xv, w1, b1, w2)
            run.log({"train/loss": loss, "train/acc": np.mean((p > 0.5) == y),
                     "val/loss": _log_loss(pv, yv), "val/acc": np.mean((pv > 0.5) == yv)}, step=step)
    return w1


def run_demo(store: Store | str | None = None, steps: int = 1500,
             progress: Callable[[str], None] | None = None) -> list[str]:
    """Log a learning-rate sweep with two seeds each, and one run that diverges (failed)."""
    ids = []
    plan = [(lr, seed) for lr in (0.3, 1.0, 3.0) for seed in (0, 1)] + [(400.0, 0)]
    for lr, seed in plan:
        name = f"mlp-lr{lr:g}-seed{seed}"
        if progress:
            progress(name)
        try:
            with start_run(name=name, experiment="spirals", group=f"lr={lr:g}", store=store,
                           params={"lr": lr, "seed": seed, "model": {"hidden": 32, "activation": "tanh"},
                                   "steps": steps},
                           tags={"demo": "true"}, notes="Two-layer MLP on noisy spirals (numpy).") as run:
                ids.append(run.id)
                weights = train(run, lr, seed, steps)
                with tempfile.TemporaryDirectory() as tmp:
                    path = os.path.join(tmp, "weights.npy")
                    np.save(path, weights)
                    run.log_model(path, framework="numpy")
        except FloatingPointError:
            pass  # the failed run is part of the demo: its status says why
    return ids
