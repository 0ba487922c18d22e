"""A real PyTorch training loop on CPU, tracked with Aquarium: params, metrics, the model.

A small MLP classifies 8×8 digit images: scikit-learn's bundled digits dataset when
scikit-learn is installed (it ships inside the package: nothing is downloaded), otherwise
generated digit-like data. Runs go to ``AQUARIUM_STORE`` (default ``./.aquarium``)::

    pip install ./aquarium_core torch
    python examples/train_pytorch.py --epochs 20 --lr 0.003
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np
import torch
from torch import nn

import aquarium


def load_digits(seed: int) -> tuple[str, np.ndarray, np.ndarray]:
    """(dataset name, features scaled to [0, 1], labels): the real digits if available."""
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError:
        rng = np.random.default_rng(seed)  # ten noisy prototypes, 180 samples each
        prototypes = rng.random((10, 64))
        y = np.repeat(np.arange(10), 180)
        x = np.clip(prototypes[y] + rng.normal(0, 0.7, (y.size, 64)), 0, 1)
        return "generated", x, y
    digits = sklearn_digits()
    return "sklearn-digits", digits.data / 16.0, digits.target


def train(run: aquarium.Run, *, lr: float, hidden: int, epochs: int, batch_size: int, seed: int) -> nn.Module:
    """Train the MLP, logging per-step train loss and per-epoch validation loss and accuracy."""
    torch.manual_seed(seed)
    dataset, x, y = load_digits(seed)
    order = np.random.default_rng(seed).permutation(len(y))
    x_all = torch.tensor(x[order], dtype=torch.float32)
    y_all = torch.tensor(y[order], dtype=torch.long)
    split = int(0.8 * len(y))
    x_train, y_train, x_val, y_val = x_all[:split], y_all[:split], x_all[split:], y_all[split:]
    run.log_params({"data": {"name": dataset, "train": split, "val": len(y) - split}})

    model = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    step = 0
    for epoch in range(epochs):
        model.train()
        for batch in torch.randperm(split).split(batch_size):
            loss = loss_fn(model(x_train[batch]), y_train[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            run.log({"train/loss": loss.item()}, step=step)  # a one-element tensor works too
            step += 1
        model.eval()
        with torch.no_grad():
            logits = model(x_val)
            run.log({"val/loss": loss_fn(logits, y_val).item(),
                     "val/acc": (logits.argmax(1) == y_val).float().mean().item(), "epoch": epoch}, step=step)
    return model


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # a small model: threads cost more than they bring

    params = {"lr": args.lr, "hidden": args.hidden, "epochs": args.epochs, "batch_size": args.batch_size,
              "seed": args.seed, "optimizer": {"name": "adam"}, "torch": torch.__version__}
    with aquarium.start_run(name=f"mlp-h{args.hidden}-lr{args.lr:g}", experiment="digits", params=params,
                            tags={"device": "cpu"}) as run:
        model = train(run, lr=args.lr, hidden=args.hidden, epochs=args.epochs, batch_size=args.batch_size,
                      seed=args.seed)
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "model.pt")
            torch.save(model.state_dict(), path)
            run.log_model(path, framework="torch", metadata={"torch": torch.__version__,
                                                             "architecture": "64-relu-10"})
    summary = run.store.get_run(run.id).summaries["val/acc"]
    print(f"{run.name} {run.id} {run.status}: val/acc last {summary.last:.3f}, best {summary.max:.3f}")
    return run.id


if __name__ == "__main__":
    main()
