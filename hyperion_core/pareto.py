"""Several objectives: dominance, non-dominated sorting, crowding distance and hypervolume.

Values are given as rows of a matrix already turned into losses (every objective minimised: a
"max" objective is negated, see `Goal.losses`), so one rule serves every direction.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def nondominated_ranks(loss: np.ndarray) -> np.ndarray:
    """Rank 0 for the Pareto front, 1 for the front without it, ... (fast non-dominated sort)."""
    n = len(loss)
    if n == 0:
        return np.zeros(0, dtype=int)
    le = np.all(loss[:, None, :] <= loss[None, :, :], axis=2)
    lt = np.any(loss[:, None, :] < loss[None, :, :], axis=2)
    dom = le & lt  # dom[i, j]: i dominates j
    count = dom.sum(axis=0)  # how many dominate each
    ranks = np.full(n, -1)
    rank = 0
    current = np.flatnonzero(count == 0)
    while len(current):
        ranks[current] = rank
        count = count - dom[current].sum(axis=0)
        count[ranks >= 0] = -1
        current = np.flatnonzero(count == 0)
        rank += 1
    return ranks


def front_indices(loss: np.ndarray) -> np.ndarray:
    """The indices of the non-dominated rows (duplicates of a front point are on the front too)."""
    return np.flatnonzero(nondominated_ranks(loss) == 0)


def crowding(loss: np.ndarray) -> np.ndarray:
    """NSGA-II crowding distance of each row within its set (inf at the extremes)."""
    n, m = loss.shape
    distance = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for j in range(m):
        order = np.argsort(loss[:, j], kind="stable")
        span = loss[order[-1], j] - loss[order[0], j]
        distance[order[0]] = distance[order[-1]] = np.inf
        if span > 0:
            distance[order[1:-1]] += (loss[order[2:], j] - loss[order[:-2], j]) / span
    return distance


def hypervolume(loss: np.ndarray, reference: Sequence[float] | np.ndarray) -> float:
    """The volume dominated by the rows and bounded by `reference` (losses; 2 or 3 objectives exact,
    by sweeping; more objectives by recursion on the first one)."""
    ref = np.asarray(reference, dtype=float)
    points = loss[np.all(loss < ref, axis=1)]
    if len(points) == 0:
        return 0.0
    points = points[front_indices(points)]
    if points.shape[1] == 1:
        return float(ref[0] - points[:, 0].min())
    if points.shape[1] == 2:
        order = np.argsort(points[:, 0], kind="stable")
        volume, best_y = 0.0, ref[1]
        for x, y in points[order]:
            if y < best_y:
                volume += (ref[0] - x) * (best_y - y)
                best_y = y
        return float(volume)
    # slice along the first objective: between consecutive x values, the rest is a lower-dimensional front
    order = np.argsort(points[:, 0], kind="stable")
    points = points[order]
    volume = 0.0
    for i in range(len(points)):
        upper = points[i + 1, 0] if i + 1 < len(points) else ref[0]
        if upper > points[i, 0]:
            volume += (upper - points[i, 0]) * hypervolume(points[: i + 1, 1:], ref[1:])
    return float(volume)
