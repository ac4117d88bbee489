"""A Gaussian process on the unit cube for `gp`: Matern-5/2 kernel with one length scale per dimension
(ARD), hyperparameters by maximum marginal likelihood (L-BFGS-B with analytic gradients, a weak
log-normal prior on the length scales, warm-started from the last fit), and log expected improvement
with its gradient for the acquisition search. numpy and scipy only.
"""

from __future__ import annotations

import math

import numpy as np

_SQRT5 = math.sqrt(5.0)
_LOG_2PI = math.log(2 * math.pi)
LENGTH_BOUNDS = (0.01, 20.0)
NOISE_BOUNDS = (1e-6, 0.2)
SIGNAL_BOUNDS = (0.05, 20.0)
LENGTH_PRIOR = (math.log(0.5), 1.5)  # mean and sd of log length scale (unit cube)


def _matern(sq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Matern-5/2 of squared scaled distances: the kernel, and (1 + sqrt5 r) exp(-sqrt5 r) * 5/3
    (what every derivative needs)."""
    r = np.sqrt(np.maximum(sq, 0.0))
    e = np.exp(-_SQRT5 * r)
    return (1.0 + _SQRT5 * r + 5.0 / 3.0 * sq) * e, 5.0 / 3.0 * (1.0 + _SQRT5 * r) * e


class GP:
    """Fitted to standardised targets y (zero mean, unit variance) at points X in [0, 1]^D."""

    def __init__(self, x: np.ndarray, y: np.ndarray, theta: np.ndarray | None = None, fit: bool = True) -> None:
        self.x, self.y = x, y
        self._pair_sq: np.ndarray | None = None  # filled by the first likelihood evaluation
        d = x.shape[1]
        if theta is None or len(theta) != d + 2:
            theta = np.concatenate([np.full(d, math.log(0.5)), [0.0, math.log(1e-3)]])
        self.theta = self._fit(theta) if fit and len(y) > 1 else theta
        self._factor()

    # -- hyperparameters ------------------------------------------------------------------------------
    def _unpack(self, theta: np.ndarray) -> tuple[np.ndarray, float, float]:
        return np.exp(theta[:-2]), math.exp(theta[-2]), math.exp(theta[-1])

    def _neg_lml(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        from scipy.linalg import cho_factor, cho_solve
        from scipy.linalg.lapack import dpotri

        y = self.y
        n = len(y)
        if self._pair_sq is None:  # (x_i - x_j)^2 per dimension: the same for every theta
            self._pair_sq = ((self.x[:, None, :] - self.x[None, :, :]) ** 2).reshape(n * n, -1)
        length, signal, noise = self._unpack(theta)
        inv_l2 = 1.0 / length**2
        sq = (self._pair_sq @ inv_l2).reshape(n, n)
        k, dk = _matern(sq)
        kmat = signal * k + (noise + 1e-8) * np.eye(n)
        try:
            factor = cho_factor(kmat, lower=True, check_finite=False)
        except np.linalg.LinAlgError:
            return 1e10, np.zeros_like(theta)
        alpha = cho_solve(factor, y, check_finite=False)
        log_det = 2.0 * np.log(np.diag(factor[0])).sum()
        lml = -0.5 * y @ alpha - 0.5 * log_det - 0.5 * n * _LOG_2PI
        inverse, info = dpotri(factor[0], lower=True)  # K^-1 from its Cholesky factor (lower triangle)
        if info != 0:
            return 1e10, np.zeros_like(theta)
        inverse = np.tril(inverse) + np.tril(inverse, -1).T
        w = np.outer(alpha, alpha) - inverse
        grad = np.empty_like(theta)
        # d K / d log l_d = signal * dk * (diff_d)^2 / l_d^2 ; d K / d log signal = signal * k ; d K / d log noise = noise I
        grad[:-2] = 0.5 * signal * ((w * dk).reshape(-1) @ self._pair_sq) * inv_l2
        grad[-2] = 0.5 * signal * float((w * k).sum())
        grad[-1] = 0.5 * noise * float(np.trace(w))
        mu, sd = LENGTH_PRIOR
        z = (theta[:-2] - mu) / sd
        lml -= 0.5 * float(z @ z)
        grad[:-2] -= z / sd
        return -float(lml), -grad

    def _fit(self, start: np.ndarray) -> np.ndarray:
        from scipy.optimize import minimize

        d = self.x.shape[1]
        bounds = [tuple(map(math.log, LENGTH_BOUNDS))] * d + [
            tuple(map(math.log, SIGNAL_BOUNDS)),
            tuple(map(math.log, NOISE_BOUNDS)),
        ]
        start = np.clip(start, [b[0] for b in bounds], [b[1] for b in bounds])
        best = minimize(self._neg_lml, start, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 40})
        return best.x if np.all(np.isfinite(best.x)) else start

    # -- posterior ------------------------------------------------------------------------------------
    def _factor(self) -> None:
        from scipy.linalg import cho_factor, cho_solve, solve_triangular

        self.length, self.signal, self.noise = self._unpack(self.theta)
        n = len(self.y)
        kmat = self.signal * self._kernel(self.x, self.x) + (self.noise + 1e-8) * np.eye(n)
        jitter = 1e-8
        for _ in range(8):  # bounded: a matrix that no jitter mends raises, and the strategy samples instead
            try:
                self.factor = cho_factor(kmat, lower=True, check_finite=True)
                break
            except (np.linalg.LinAlgError, ValueError):
                jitter *= 10
                kmat += jitter * np.eye(n)
        else:
            raise np.linalg.LinAlgError("the kernel matrix is not positive definite")
        self.alpha = cho_solve(self.factor, self.y, check_finite=False)
        lower = np.tril(self.factor[0])
        self.linv = solve_triangular(lower, np.eye(n), lower=True, check_finite=False)  # L^-1: solves as products
        self.scaled = self.x / self.length
        self.scaled_sq = (self.scaled**2).sum(axis=1)

    def _kernel(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        diff = (a[:, None, :] - b[None, :, :]) / self.length
        return _matern((diff**2).sum(axis=2))[0]

    def _sq_to_data(self, x: np.ndarray) -> np.ndarray:
        """Squared scaled distances from each row of x to the data (m x n), by products, not an m x n x D array."""
        scaled = x / self.length
        sq: np.ndarray = (scaled**2).sum(axis=1)[:, None] + self.scaled_sq[None, :] - 2.0 * scaled @ self.scaled.T
        return sq

    def with_points(self, x: np.ndarray, y: np.ndarray) -> GP:
        """The same hyperparameters over more points (the kriging believer's fantasies)."""
        return GP(np.vstack([self.x, x]), np.concatenate([self.y, y]), self.theta, fit=False)

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ks = self.signal * _matern(self._sq_to_data(x))[0]  # m x n
        mean = ks @ self.alpha
        v = ks @ self.linv.T  # rows: L^-1 k(x)
        var = np.maximum(self.signal - (v**2).sum(axis=1), 1e-12)
        return mean, np.sqrt(var)

    def log_ei(self, x: np.ndarray, best: float, grad: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """log EI (minimising) at each row of x, and its gradient with respect to x (m x D; None
        without `grad`: scoring many candidates needs only the values)."""
        if not grad:
            mean, sd = self.predict(x)
            return np.log(sd) + _log_h((best - mean) / sd)[0], None
        diff = x[:, None, :] - self.x[None, :, :]  # m x n x D
        k, dk = _matern(self._sq_to_data(x))
        ks = self.signal * k
        # d k(x, x_j) / d x = -signal * dk * diff / l^2
        dks = -self.signal * dk[:, :, None] * diff / self.length**2  # m x n x D
        mean = ks @ self.alpha
        kinv_ks = (ks @ self.linv.T) @ self.linv  # m x n: K^-1 k(x) per row
        var = np.maximum(self.signal - (ks * kinv_ks).sum(axis=1), 1e-12)
        sd = np.sqrt(var)
        dmean = np.einsum("mnd,n->md", dks, self.alpha)
        dvar = -2.0 * np.einsum("mnd,mn->md", dks, kinv_ks)
        dsd = dvar / (2.0 * sd[:, None])
        z = (best - mean) / sd
        log_h, ratio = _log_h(z)
        value = np.log(sd) + log_h
        dz = (-dmean - z[:, None] * dsd) / sd[:, None]
        gradient = dsd / sd[:, None] + ratio[:, None] * dz
        return value, gradient


def _log_h(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log(z Phi(z) + phi(z)) and its derivative Phi(z) / (z Phi(z) + phi(z)), stable everywhere: direct
    for z >= -1, through the Mills ratio (erfcx) below, and asymptotic (h ~ phi / z^2) below -25."""
    from scipy.special import erfcx, ndtr

    z = np.asarray(z, dtype=float)
    log_phi = -0.5 * z * z - 0.5 * _LOG_2PI
    near = z >= -1.0
    far = z < -25.0
    mid = ~near & ~far
    log_h = np.empty_like(z)
    ratio = np.empty_like(z)
    zn = z[near]
    cdf = ndtr(zn)
    h = zn * cdf + np.exp(log_phi[near])
    log_h[near] = np.log(h)
    ratio[near] = cdf / h
    zm = z[mid]
    mills = math.sqrt(math.pi / 2) * erfcx(-zm / math.sqrt(2))  # Phi(z) / phi(z)
    inner = np.maximum(1.0 + zm * mills, 1e-300)
    log_h[mid] = log_phi[mid] + np.log(inner)
    ratio[mid] = mills / inner
    zf = z[far]
    log_h[far] = log_phi[far] - 2.0 * np.log(-zf)
    ratio[far] = -zf - 2.0 / zf  # the derivative of the asymptotic form above, not only its leading term
    return log_h, ratio
