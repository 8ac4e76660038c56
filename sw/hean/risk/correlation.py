"""How many independent positions a book of correlated positions amounts to."""

from __future__ import annotations

import numpy as np


def effective_positions(corr: np.ndarray) -> float:
    """``sum(sqrt(eigenvalues))`` of the positions' correlation matrix (the seeds' measure).

    n uncorrelated positions count n; n perfectly correlated ones count ``sqrt(n)``.
    Eigenvalues that rounding makes slightly negative count as 0.

    Raises
    ------
    ValueError
        If ``corr`` is not a square, symmetric matrix with a unit diagonal.
    """
    c = np.asarray(corr, dtype=float)
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise ValueError(f"a correlation matrix is square, got shape {c.shape}")
    if len(c) == 0:
        return 0.0
    if not np.allclose(c, c.T, atol=1e-9) or not np.allclose(np.diag(c), 1.0, atol=1e-9):
        raise ValueError("a correlation matrix is symmetric with ones on its diagonal")
    eig = np.linalg.eigvalsh(c)
    return float(np.sqrt(np.clip(eig, 0.0, None)).sum())


def correlation_of_returns(returns: np.ndarray) -> np.ndarray:
    """Correlation matrix of return series (one column per position); flat series count 0."""
    r = np.asarray(returns, dtype=float)
    if r.ndim != 2 or r.shape[0] < 2:
        raise ValueError("need at least two observations per series")
    sd = r.std(axis=0)
    z = np.where(sd > 0, (r - r.mean(axis=0)) / np.where(sd > 0, sd, 1), 0.0)
    c = z.T @ z / r.shape[0]
    np.fill_diagonal(c, 1.0)
    return c
