"""A local quadratic model for `gp`: fit a full quadratic to the best trials near the incumbent and
step to its minimum inside a trust region. On smooth valleys (ill-conditioned quadratics, Rosenbrock)
this converges in a few steps where expected improvement keeps exploring; `gp` alternates the two."""

from __future__ import annotations

import numpy as np


def features(x: np.ndarray) -> np.ndarray:
    """1, x_i, and x_i x_j (i <= j) for each row."""
    n, d = x.shape
    iu = np.triu_indices(d)
    quad = (x[:, :, None] * x[:, None, :])[:, iu[0], iu[1]]
    return np.hstack([np.ones((n, 1)), x, quad])


def quadratic_step(x: np.ndarray, y: np.ndarray, best: np.ndarray) -> np.ndarray | None:
    """The minimiser of a quadratic least-squares fit to (x, y), limited to a box around `best` twice
    as wide as the fitted points' spread and to [0, 1]; None when the fit has no minimum (the Hessian
    is not positive definite) or too few points."""
    n, d = x.shape
    terms = 1 + d + d * (d + 1) // 2
    if n < terms + 2 or d == 0:
        return None
    coef, *_ = np.linalg.lstsq(features(x), y, rcond=None)
    g = coef[1 : 1 + d]
    h = np.zeros((d, d))
    iu = np.triu_indices(d)
    h[iu] = coef[1 + d :]
    h = h + h.T  # the diagonal was doubled: d^2/dx_i^2 of c x_i^2 is 2c
    try:
        np.linalg.cholesky(h)
        step = np.linalg.solve(h, -g)
    except np.linalg.LinAlgError:
        return None
    radius = np.maximum(2.0 * (x.max(axis=0) - x.min(axis=0)), 1e-6)
    clipped: np.ndarray = np.clip(np.clip(step, best - radius, best + radius), 0.0, 1.0)
    return clipped
