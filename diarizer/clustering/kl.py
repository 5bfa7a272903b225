"""Symmetric KL divergence between GMMs by the unscented transform, and ``KL_ntop`` pair selection.

For GMMs f (weights w_i, means mu_i, covariances S_i) and g, the unscented approximation
(Goldberger & Aronowitz, 2005) evaluates ``ln f - ln g`` at 2D sigma points per component of f,
``mu_i +/- sqrt(D) * L_i[:, k]`` with ``L_i L_i^T = S_i`` (for diagonal covariances
``mu_i +/- sqrt(D) * sigma_ik * e_k``)::

    KL(f || g) ~= 1/(2D) * sum_i w_i sum_k sum_+- (ln f - ln g)(sigma point)

and the symmetric divergence is ``KL(f || g) + KL(g || f)``. The original hard-coded sqrt(19)
(correct only for D = 19) and flipped the sign of the Gaussian normalising constant inside this
routine; we use sqrt(D) and the correct log-density (the engine's own). All pairs are computed from
one engine call: every sigma point of every GMM scored under every GMM.
"""

import numpy as np

from .._xp import to_numpy

__all__ = ["sigma_points", "symmetric_kl", "closest_pairs"]


def sigma_points(gmms):
    """Sigma points of every component of every GMM.

    Parameters
    ----------
    gmms : GMMSet

    Returns
    -------
    points : ndarray of shape (n_total_components * 2 * n_features, n_features)
        Points ``mu +/- sqrt(D) * L[:, k]`` grouped by component.
    weights : ndarray of shape (n_total_components * 2 * n_features,)
        Weight of the point's component in its GMM, divided by 2D.
    owner : ndarray of shape (n_total_components * 2 * n_features,)
        GMM index of each point.
    """
    p = gmms.to_numpy()
    means = np.asarray(p["means"], dtype=np.float64)
    cov = np.asarray(p["covariances"], dtype=np.float64)
    n_comp, d = means.shape
    if p["covariance_type"] == "diag":
        spread = np.sqrt(d) * np.sqrt(cov)[:, None, :] * np.eye(d)[None, :, :]  # (C, D, D)
    else:
        chol = np.linalg.cholesky(cov)  # columns L[:, k]
        spread = np.sqrt(d) * np.transpose(chol, (0, 2, 1))  # row k = L[:, k]
    pts = np.concatenate([means[:, None, :] + spread, means[:, None, :] - spread], axis=1)
    owner = np.repeat(np.repeat(np.arange(len(p["n_components"])), p["n_components"]), 2 * d)
    weights = np.repeat(np.asarray(p["weights"], dtype=np.float64), 2 * d) / (2 * d)
    return pts.reshape(n_comp * 2 * d, d), weights, owner


def symmetric_kl(gmms):
    """Symmetric KL divergence between every pair of GMMs of a set.

    Parameters
    ----------
    gmms : GMMSet
        G GMMs.

    Returns
    -------
    ndarray of shape (G, G)
        Symmetric matrix, zero diagonal.
    """
    pts, w, owner = sigma_points(gmms)
    xp = gmms.xp
    ll = np.asarray(to_numpy(gmms.log_likelihood(xp.asarray(pts, dtype=gmms.dtype))),
                    dtype=np.float64)  # (P, G)
    g = gmms.n_gmms
    own = ll[np.arange(owner.size), owner]  # ln f at f's points
    # kl[f, h] = sum over f's points of w * (ln f - ln h)
    contrib = w[:, None] * (own[:, None] - ll)
    kl = np.zeros((g, g))
    np.add.at(kl, owner, contrib)
    sym = kl + kl.T
    np.fill_diagonal(sym, 0.0)
    return sym


def closest_pairs(gmms, n_top, allowed=None, forbidden=None):
    """The ``n_top`` pairs of GMMs with the smallest symmetric KL divergence.

    Parameters
    ----------
    gmms : GMMSet
    n_top : int
        Number of pairs (all pairs if ``n_top`` exceeds their number).
    allowed : ndarray of shape (G,) of bool, optional
        GMMs that may take part (default: all).
    forbidden : ndarray of shape (G, G) of bool, optional
        Pairs that may not merge (``forbidden[a, b]`` for ``a < b`` is read).

    Returns
    -------
    list of tuple of int
        Pairs ``(a, b)`` with ``a < b``, closest first (ties by index).
    """
    kl = symmetric_kl(gmms)
    g = gmms.n_gmms
    a, b = np.triu_indices(g, k=1)
    keep = np.ones(a.size, dtype=bool) if allowed is None else allowed[a] & allowed[b]
    if forbidden is not None:
        keep &= ~np.asarray(forbidden, dtype=bool)[a, b]
    a, b, d = a[keep], b[keep], kl[a[keep], b[keep]]
    order = np.lexsort((b, a, d))[:n_top]
    return [(int(a[i]), int(b[i])) for i in order]
