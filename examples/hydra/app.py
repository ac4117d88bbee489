"""A Hydra app swept by Hyperion: `python app.py --multirun` (conf/config.yaml picks hydra/sweeper=hyperion).

The task function returns the value to minimise; it reports as it trains with `hyperion.report` lines, so
the sweeper's early stopping can end a hopeless run at once.
"""

import json
import math

import hydra
from omegaconf import DictConfig


@hydra.main(version_base=None, config_path="conf", config_name="config")
def train(cfg: DictConfig) -> float:
    floor = abs(math.log10(cfg.optim.lr) + 2) * 0.3 + abs(cfg.model.layers - 3) * 0.1
    val_loss = 2.0
    for epoch in range(cfg.epochs):
        val_loss = floor + 2.0 / (epoch + 1)
        print("hyperion.report", json.dumps({"step": epoch, "score": val_loss}), flush=True)
    return val_loss


if __name__ == "__main__":
    train()
