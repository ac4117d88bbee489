"""A real training task on CPU, the same code for every library: a one-hidden-layer numpy MLP trained
by minibatch SGD with momentum on a generated 6-class problem (scikit-learn's make_classification,
40 features, 12,000 training / 3,000 validation / 3,000 test rows). Hyperparameters: `lr` (1e-4..1,
log) and `momentum` (0..0.99). One epoch costs about 30 ms on one core.

`Model` is the whole training state (weights, velocities, epoch): what a checkpoint holds.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

EPOCHS = 24
HIDDEN = 64
BATCH = 64


@functools.lru_cache(maxsize=1)
def data() -> tuple[np.ndarray, ...]:
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=18_000, n_features=40, n_informative=24, n_redundant=8, n_classes=6, class_sep=0.8, random_state=0
    )
    x = ((x - x.mean(0)) / x.std(0)).astype(np.float32)
    return x[:12_000], y[:12_000], x[12_000:15_000], y[12_000:15_000], x[15_000:], y[15_000:]


@dataclass
class Model:
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    velocity: list[np.ndarray] = field(default_factory=list)
    epoch: int = -1

    @classmethod
    def new(cls, seed: int = 0) -> Model:
        rng = np.random.default_rng(seed)
        w1 = (rng.standard_normal((40, HIDDEN)) * np.sqrt(2 / 40)).astype(np.float32)
        w2 = (rng.standard_normal((HIDDEN, 6)) * np.sqrt(2 / HIDDEN)).astype(np.float32)
        model = cls(w1, np.zeros(HIDDEN, np.float32), w2, np.zeros(6, np.float32))
        model.velocity = [np.zeros_like(p) for p in model.params]
        return model

    @property
    def params(self) -> list[np.ndarray]:
        return [self.w1, self.b1, self.w2, self.b2]

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h = np.maximum(x @ self.w1 + self.b1, 0)
        z = h @ self.w2 + self.b2
        z -= z.max(1, keepdims=True)
        p = np.exp(z)
        return h, p / p.sum(1, keepdims=True)

    def train_epoch(self, lr: float, momentum: float) -> None:
        x, y = data()[:2]
        rng = np.random.default_rng(self.epoch + 1)  # the same batches for every library
        order = rng.permutation(len(x))
        for start in range(0, len(x), BATCH):
            idx = order[start : start + BATCH]
            xb, yb = x[idx], y[idx]
            h, p = self.forward(xb)
            p[np.arange(len(idx)), yb] -= 1
            dz = p / len(idx)
            dh = (dz @ self.w2.T) * (h > 0)
            grads = [xb.T @ dh, dh.sum(0), h.T @ dz, dz.sum(0)]
            for param, vel, grad in zip(self.params, self.velocity, grads):
                vel *= momentum
                vel -= lr * np.clip(grad, -5, 5)
                param += vel
        self.epoch += 1

    def accuracy(self, split: str = "val") -> float:
        x, y = data()[2:4] if split == "val" else data()[4:6]
        _, p = self.forward(x)
        acc = float((p.argmax(1) == y).mean())
        return acc if np.isfinite(self.w1).all() else 0.0
