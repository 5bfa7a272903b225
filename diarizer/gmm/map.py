"""MAP adaptation (Reynolds, Quatieri & Dunn, 2000) of a background GMM to many frame groups.

For every group g and UBM component k, with posteriors ``r_nk`` of the UBM on the group's frames::

    n_k = sum_n r_nk      E_k[x] = sum_n r_nk x_n / n_k      E_k[x x^T] = sum_n r_nk x_n x_n^T / n_k
    alpha_k = n_k / (n_k + relevance_factor)
    mean_k   = alpha_k E_k[x] + (1 - alpha_k) mu_k
    weight_k ~ alpha_k n_k / N_g + (1 - alpha_k) w_k               (renormalised to sum 1)
    cov_k    = alpha_k E_k[x x^T] + (1 - alpha_k) (Sigma_k + mu_k mu_k^T) - mean_k mean_k^T

(diagonal covariances use the diagonals only). Parameters not listed in ``adapt`` are copied.
"""

import numpy as np

from .._xp import get_xp, to_numpy
from ..exceptions import InputError, NumericalError
from ._checks import _check_frames, _check_group_size, _gather, _parse_groups
from ._kernels import compute_precision_cholesky, estep, frame_design, scoring_params
from .model import GMMSet

__all__ = ["map_adapt"]

_ADAPTABLE = ("means", "weights", "covariances")


def map_adapt(ubm, X, groups, *, relevance_factor=16.0, adapt=("means",), xp=None):
    """Adapt a background GMM to each group of frames (one adapted GMM per group).

    Parameters
    ----------
    ubm : GMMSet
        A set holding exactly one GMM (the universal background model).
    X : array of shape (N, D)
    groups : list of int arrays or int array of shape (N,)
        Frame indices of each group, or frame labels in ``[-1, G)``.
    relevance_factor : float, default=16.0
        Reynolds' ``r``; larger values keep the adapted models closer to the UBM.
    adapt : sequence of {'means', 'weights', 'covariances'}, default=('means',)
        Parameters to adapt; the others are copied from the UBM.
    xp : namespace, optional
        Must match ``ubm.xp`` if given (kept for symmetry with the other entry points).

    Returns
    -------
    GMMSet
        G GMMs with the UBM's number of components, covariance type, dtype and floors.

    Raises
    ------
    InputError
        Bad frames or groups, or ``ubm`` holds more than one GMM.
    NumericalError
        An adapted covariance is not positive definite.
    """
    if ubm.n_gmms != 1:
        raise InputError(None, f"map_adapt needs a background set of 1 GMM; got {ubm.n_gmms}")
    bad = sorted(set(adapt) - set(_ADAPTABLE))
    if bad:
        raise ValueError(f"The 'adapt' entries must be among {_ADAPTABLE}. Got {bad} instead.")
    if relevance_factor < 0:
        raise ValueError(f"The 'relevance_factor' must be >= 0. Got {relevance_factor} instead.")
    xp = ubm.xp if xp is None else get_xp(xp)
    ct, dt = ubm.covariance_type, ubm.dtype
    X = _check_frames(X, xp=xp, dtype=dt, n_features=ubm.n_features)
    if isinstance(groups, (list, tuple)) and groups and np.ndim(groups[0]) == 1:
        G = len(groups)
    else:
        lab = np.asarray(to_numpy(groups) if hasattr(groups, "__array_namespace__") else groups)
        G = int(lab.max()) + 1 if lab.size else 0
    idx = _parse_groups(groups, X.shape[0], G)
    f64 = xp.float64
    # all formulas are translation-covariant: work centred on the UBM's mean of means
    shift = xp.mean(ubm.means, axis=0)
    shift64 = xp.astype(shift, f64)
    w0, mu0, cov0 = (xp.astype(a, f64) for a in (ubm.weights, ubm.means, ubm.covariances))
    mu0 = mu0 - shift64
    params = scoring_params(ubm.weights, ubm.means - shift, ubm.precisions_cholesky, ct, xp=xp)
    parts = []
    for g in range(G):
        _check_group_size(g, idx[g].size, 1)
        Z = frame_design(_gather(X, idx[g], xp=xp) - shift, ct, xp=xp)
        _, Nk, S1, S2 = estep(Z, params, ct, xp=xp)
        safe = Nk + 10.0 * xp.finfo(f64).eps
        alpha = Nk / (Nk + relevance_factor) if relevance_factor > 0 else xp.ones_like(Nk)
        a2 = alpha[:, None]
        mu = a2 * (S1 / safe[:, None]) + (1 - a2) * mu0 if "means" in adapt else mu0
        if "weights" in adapt:
            w = alpha * Nk / float(idx[g].size) + (1 - alpha) * w0
            w = w / xp.sum(w)
        else:
            w = w0
        if "covariances" in adapt:
            if ct == "diag":
                cov = (a2 * (S2 / safe[:, None]) + (1 - a2) * (cov0 + mu0 * mu0) - mu * mu)
            else:
                a3 = alpha[:, None, None]
                outer0 = mu0[:, :, None] * mu0[:, None, :]
                cov = (a3 * (S2 / safe[:, None, None]) + (1 - a3) * (cov0 + outer0)
                       - mu[:, :, None] * mu[:, None, :])
        else:
            cov = cov0
        parts.append((w, mu + shift64, cov))
    w, mu, cov = (xp.astype(xp.concat([p[i] for p in parts], axis=0), dt) for i in range(3))
    try:
        pc = compute_precision_cholesky(cov, ct, xp=xp)
    except NumericalError as exc:
        raise NumericalError(f"MAP adaptation: {exc}") from None
    return GMMSet(w, mu, cov, [ubm.n_components[0]] * G, ct, xp=xp, dtype=dt,
                  reg_covar=ubm.reg_covar, var_floor=ubm.var_floor, precisions_cholesky=pc)
