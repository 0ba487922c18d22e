"""A hyperparameter sweep, three seeds per setting, compared as groups, exported to MLflow and TensorBoard.

Each learning rate is one ``group``; its three seeds are the group's runs, so
``Comparison.groups()`` gives each setting's mean curve and a confidence interval of its final
value. The model is the MLP of ``train_pytorch.py``. Writes ``sweep-report.html``,
``mlflow.db`` (an MLflow tracking database) and ``tb-logs/`` in the working directory::

    pip install ./aquarium_core ./plugins/aquarium-plotly ./plugins/aquarium-mlflow \
                ./plugins/aquarium-tensorboard torch
    python examples/sweep.py
    mlflow ui --backend-store-uri sqlite:///mlflow.db      # or: tensorboard --logdir tb-logs
"""

from __future__ import annotations

import torch
from train_pytorch import train  # the sibling example (this folder is on sys.path)

import aquarium

LEARNING_RATES = (1e-3, 3e-3, 1e-2)
SEEDS = (0, 1, 2)
EXPERIMENT = "digits-sweep"


def main() -> None:
    torch.set_num_threads(1)
    for lr in LEARNING_RATES:
        for seed in SEEDS:
            params = {"lr": lr, "seed": seed, "hidden": 32, "epochs": 4, "batch_size": 64}
            with aquarium.start_run(name=f"lr={lr:g} seed={seed}", experiment=EXPERIMENT, group=f"lr={lr:g}",
                                    params=params) as run:
                train(run, lr=lr, hidden=32, epochs=4, batch_size=64, seed=seed)

    # Compare the settings: each group's final validation accuracy, mean ± 95 % interval.
    cmp = aquarium.compare(f"experiment = '{EXPERIMENT}'", ["val/acc", "val/loss", "train/loss"])
    groups = cmp.groups("val/acc")
    for name, group in sorted(groups.items(), key=lambda item: -item[1].final.mean):
        final = group.final
        print(f"{name:10} val/acc {final.mean:.3f}  95% CI [{final.low:.3f}, {final.high:.3f}]  "
              f"({final.n} seeds)")
    winner = max(groups.values(), key=lambda group: group.final.mean)
    print(f"best setting: {winner.group}; best single run: {cmp.best('val/acc').run_name}")
    cmp.to_html("sweep-report.html")

    # Export every run of the sweep to both trackers in one call (each run is read once).
    results = aquarium.export(f"experiment = '{EXPERIMENT}'",
                              {"mlflow": "sqlite:///mlflow.db", "tensorboard": "tb-logs"})
    for target in ("mlflow", "tensorboard"):
        ok = [r for r in results if r.target == target and r.status == "ok"]
        print(f"{target}: {len(ok)} of {len(results) // 2} runs exported")


if __name__ == "__main__":
    main()
