"""Standard test problems for search quality (all minimised); see ../shared/bench/functions.md.

Each problem is (space, function(**params) -> float, known minimum).
"""

from __future__ import annotations

import math

import numpy as np

from hyperion import Choice, Float, Int


def branin(x1: float, x2: float) -> float:
    a, b, c, r, s, t = 1.0, 5.1 / (4 * math.pi**2), 5 / math.pi, 6.0, 10.0, 1 / (8 * math.pi)
    return a * (x2 - b * x1**2 + c * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s


_H_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H_A = np.array(
    [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
)
_H_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)


def hartmann6(**x: float) -> float:
    v = np.array([x[f"x{i}"] for i in range(6)])
    return float(-np.sum(_H_ALPHA * np.exp(-np.sum(_H_A * (v - _H_P) ** 2, axis=1))))


def rosenbrock4(**x: float) -> float:
    v = [x[f"x{i}"] for i in range(4)]
    return sum(100 * (v[i + 1] - v[i] ** 2) ** 2 + (1 - v[i]) ** 2 for i in range(3))


def ackley5(**x: float) -> float:
    v = np.array([x[f"x{i}"] for i in range(5)])
    d = len(v)
    return float(
        -20 * math.exp(-0.2 * math.sqrt(np.sum(v**2) / d)) - math.exp(np.sum(np.cos(2 * math.pi * v)) / d) + 20 + math.e
    )


def synth_ml(optimizer: str, lr: float, layers: int, dropout: float) -> float:
    base, lr_opt, curv = {"sgd": (0.30, -1.0, 0.25), "adam": (0.00, -3.0, 0.15), "rmsprop": (0.10, -2.5, 0.20)}[
        optimizer
    ]
    d = math.log10(lr) - (lr_opt - 0.15 * (layers - 4))
    return (
        base
        + curv * d**2
        + 0.05 * (1 - math.cos(2 * math.pi * d))
        + 0.02 * (layers - 5) ** 2
        + 0.8 * (dropout - 0.05 * layers) ** 2
    )


PROBLEMS = {
    "branin": ({"x1": Float(-5, 10), "x2": Float(0, 15)}, branin, 0.397887),
    "hartmann6": ({f"x{i}": Float(0, 1) for i in range(6)}, hartmann6, -3.32237),
    "rosenbrock4": ({f"x{i}": Float(-5, 10) for i in range(4)}, rosenbrock4, 0.0),
    "ackley5": ({f"x{i}": Float(-32.768, 32.768) for i in range(5)}, ackley5, 0.0),
    "synth_ml": (
        {
            "optimizer": Choice(["sgd", "adam", "rmsprop"]),
            "lr": Float(1e-5, 1, log=True),
            "layers": Int(1, 8),
            "dropout": Float(0, 0.5),
        },
        synth_ml,
        0.0,
    ),
}
