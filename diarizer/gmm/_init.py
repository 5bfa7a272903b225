"""Initial parameters of one GMM: the original diarizer's seeding and k-means (k-means++ + Lloyd).

Random numbers are drawn on the host (``np.random.default_rng``) so that every backend starts from
the same point; the Lloyd iterations run on ``xp``.
"""

import numpy as np

from .._xp import to_numpy
from ._kernels import default_chunk_size, mstep

__all__ = ["original_seed", "kmeans_seed", "kmeans_plusplus"]


def original_seed(X, n_components, covariance_type, *, xp, dtype):
    """The original diarizer's seeding of one GMM on its frames.

    Component 0's mean is the mean of the frames, component ``c >= 1``'s mean is frame
    ``c * floor(N / M)``; every covariance is the (unbiased) variance of the frames divided by ``M``
    (the full sample covariance divided by ``M`` for 'full'); weights are ``1/M``.

    Parameters
    ----------
    X : array of shape (N, D)
        The GMM's frames, N >= 2.
    n_components : int
        M.
    covariance_type : {'diag', 'full'}
    xp : namespace
    dtype : dtype

    Returns
    -------
    weights : array of shape (M,)
    means : array of shape (M, D)
    covariances : array of shape (M, D) or (M, D, D)
    """
    n, D = X.shape
    M = int(n_components)
    X64 = xp.astype(X, xp.float64)
    mu = xp.mean(X64, axis=0)
    step = n // M
    idx = xp.asarray(np.arange(1, M, dtype=np.int64) * step)
    rest = xp.take(X64, idx, axis=0)
    means = xp.concat([mu[None, :], rest], axis=0)
    centred = X64 - mu
    if covariance_type == "diag":
        var = xp.sum(centred * centred, axis=0) / (n - 1)
        cov = xp.zeros((M, D), dtype=xp.float64) + var / M
    else:
        S = xp.matmul(xp.permute_dims(centred, (1, 0)), centred) / (n - 1)
        cov = xp.zeros((M, D, D), dtype=xp.float64) + S / M
    weights = xp.zeros((M,), dtype=xp.float64) + 1.0 / M
    return tuple(xp.astype(a, dtype) for a in (weights, means, cov))


def kmeans_plusplus(X, n_clusters, rng):
    """k-means++ centres on the host.

    Parameters
    ----------
    X : ndarray of shape (N, D)
    n_clusters : int
    rng : numpy.random.Generator

    Returns
    -------
    centres : ndarray of shape (n_clusters, D), float64
    """
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    centres = np.empty((n_clusters, X.shape[1]))
    centres[0] = X[rng.integers(n)]
    d2 = np.sum((X - centres[0]) ** 2, axis=1)
    for k in range(1, n_clusters):
        total = d2.sum()
        if total <= 0:
            i = rng.integers(n)
        else:
            i = int(np.searchsorted(np.cumsum(d2), rng.random() * total))
            i = min(i, n - 1)
        centres[k] = X[i]
        d2 = np.minimum(d2, np.sum((X - centres[k]) ** 2, axis=1))
    return centres


def _assign(X, centres, *, xp, chunk_size):
    """Index of the nearest centre for every frame, (N,) int, chunked."""
    cn = xp.sum(centres * centres, axis=1)[:, None]
    out = []
    for s in range(0, X.shape[0], chunk_size):
        Xc = X[s:min(s + chunk_size, X.shape[0]), ...]
        d = cn - 2.0 * xp.matmul(centres, xp.permute_dims(Xc, (1, 0)))  # (M, n)
        out.append(xp.argmin(d, axis=0))
    return xp.concat(out, axis=0)


def kmeans_seed(X, n_components, covariance_type, *, xp, dtype, rng, n_iter=10, reg_covar=0.0,
                var_floor=None):
    """Initial GMM parameters from k-means: k-means++ on the host, Lloyd iterations on ``xp``.

    The final hard assignment is turned into weights, means and covariances by the M-step (so the
    floors apply).

    Parameters
    ----------
    X : array of shape (N, D)
    n_components : int
    covariance_type : {'diag', 'full'}
    xp : namespace
    dtype : dtype
    rng : numpy.random.Generator
    n_iter : int, default=10
        Lloyd iterations.
    reg_covar : float, default=0.0
    var_floor : array of shape (D,) or None

    Returns
    -------
    weights, means, covariances, precisions_cholesky : arrays
    """
    M = int(n_components)
    n, D = X.shape
    X64 = xp.astype(X, xp.float64)
    centres = xp.asarray(kmeans_plusplus(to_numpy(X64), M, rng))
    chunk = default_chunk_size(M * (D if covariance_type == "full" else 1))
    ks = xp.arange(M)
    for _ in range(n_iter):
        lab = _assign(X64, centres, xp=xp, chunk_size=chunk)
        onehot = xp.astype(lab[:, None] == ks[None, :], xp.float64)
        counts = xp.sum(onehot, axis=0)
        sums = xp.matmul(xp.permute_dims(onehot, (1, 0)), X64)
        safe = xp.where(counts > 0, counts, xp.ones_like(counts))
        new = xp.where((counts > 0)[:, None], sums / safe[:, None], centres)
        if bool(xp.all(new == centres)):
            break
        centres = new
    Nk = S1 = S2 = None
    for s in range(0, n, chunk):
        Xc = X64[s:min(s + chunk, n), ...]
        lab = _assign(Xc, centres, xp=xp, chunk_size=chunk)
        onehot = xp.astype(lab[:, None] == ks[None, :], xp.float64)
        oT = xp.permute_dims(onehot, (1, 0))
        nk, s1 = xp.sum(onehot, axis=0), xp.matmul(oT, Xc)
        if covariance_type == "diag":
            s2 = xp.matmul(oT, Xc * Xc)
        else:
            rx = xp.reshape(onehot[:, :, None] * Xc[:, None, :], (Xc.shape[0], M * D))
            s2 = xp.reshape(xp.matmul(xp.permute_dims(rx, (1, 0)), Xc), (M, D, D))
        Nk, S1, S2 = (nk, s1, s2) if Nk is None else (Nk + nk, S1 + s1, S2 + s2)
    return mstep(Nk, S1, S2, centres, covariance_type, xp=xp, dtype=dtype, reg_covar=reg_covar,
                 var_floor=var_floor)
