"""Pure array-API kernels of the GMM engine: log-likelihoods, sufficient statistics, M-step, floors.

Every function takes the array namespace as the keyword-only ``xp`` and uses only the array API
standard (``xp.matmul``, ``xp.take``, ``xp.where``, ``xp.linalg.cholesky`` ...), so the same code
runs on numpy, cupy and array-api-strict. Nothing here validates its input: the public classes do
that once, at the boundary.

One GMM's parameters are ``weights (M,)``, ``means (M, D)``, ``covariances`` (``(M, D)`` diag or
``(M, D, D)`` full) and ``precisions_cholesky`` of the same shape (``1/sqrt(var)`` for diag, the
upper triangular ``U`` with ``U @ U.T = inv(cov)`` for full, as scikit-learn stores them).

The diagonal log-density is written as one matrix product of the "frame design" ``Z = [X*X, X]``
(shape ``(n, 2D)``) with the "scoring matrix" ``W = [-prec/2 ; mu*prec]^T`` (shape ``(2D, M)``):
``log N(x | k) = Z @ W + c_k``. The same ``Z`` gives both second and first order statistics in one
product ``resp.T @ Z`` in the M-step.
"""

import math

import numpy as np

from ..exceptions import NumericalError
from ._chunks import diag_estep_frames, frame_chunks

__all__ = [
    "LOG_2PI",
    "compute_precision_cholesky",
    "frame_design",
    "scoring_params",
    "component_log_prob",
    "logsumexp_cols",
    "estep",
    "diag_design",
    "DIAG_CHUNK",
    "DIAG_CHUNK_SMALL",
    "diag_chunk_size",
    "mstep",
    "default_chunk_size",
]

LOG_2PI = math.log(2.0 * math.pi)

_CHOLESKY_MESSAGE = (
    "Fitting the mixture model failed because some components have ill-defined empirical "
    "covariance (for instance caused by singleton or collapsed samples). Try to decrease the "
    "number of components, increase reg_covar or the variance floor, or scale the input data."
)


# --------------------------------------------------------------------------------------------
# precisions


def _full_precisions(cov, var_floor, reg_covar, *, xp):
    """Float64 full covariances (M, D, D) and their precision Cholesky factors.

    Factored in float64: a float32 Cholesky fails on covariances that are positive definite but
    ill-conditioned (a component with fewer frames than dimensions, held up by the floor alone),
    which the small clusters of short recordings have. Where even that fails, the eigenvalues are
    raised to the floors (:func:`_clip_eigenvalues`); without floors the error stands.
    """
    try:
        return cov, compute_precision_cholesky(cov, "full", xp=xp)
    except NumericalError:
        floor = (0.0 if var_floor is None else float(xp.min(var_floor))) + float(reg_covar)
        if floor <= 0.0:
            raise
        cov = _clip_eigenvalues(cov, floor, xp=xp)
        return cov, compute_precision_cholesky(cov, "full", xp=xp)


def _clip_eigenvalues(cov, floor, *, xp):
    """Covariances of shape (M, D, D) with every eigenvalue raised to at least ``floor``.

    The statistics of a component with fewer frames than dimensions give a covariance of low rank
    held up by the floor alone, and rounding in the float32 E-step can leave some of its
    eigenvalues slightly below the floor, even negative. The flooring the M-step means to apply
    (``cov + floor * I`` of the exact statistics) is restored in the eigenbasis.
    """
    vals, vecs = xp.linalg.eigh(cov)
    vals = xp.maximum(vals, xp.zeros_like(vals) + floor)
    out = xp.matmul(vecs * vals[:, None, :], xp.permute_dims(vecs, (0, 2, 1)))
    return 0.5 * (out + xp.permute_dims(out, (0, 2, 1)))


def compute_precision_cholesky(covariances, covariance_type, *, xp):
    """Cholesky factors of the precision matrices, as scikit-learn stores them.

    Parameters
    ----------
    covariances : array of shape (C, D) or (C, D, D)
        Diagonal variances or full covariance matrices.
    covariance_type : {'diag', 'full'}
        Kind of covariance.
    xp : namespace
        Array namespace.

    Returns
    -------
    precisions_cholesky : array of the same shape
        ``1/sqrt(var)`` for 'diag'; the upper triangular ``U = inv(L).T`` with ``cov = L L^T``
        for 'full'.

    Raises
    ------
    NumericalError
        A variance is not positive or a covariance matrix is not positive definite.
    """
    if covariance_type == "diag":
        if not bool(xp.all(covariances > 0)):
            raise NumericalError(_CHOLESKY_MESSAGE)
        return 1.0 / xp.sqrt(covariances)
    try:
        chol = xp.linalg.cholesky(covariances)
    except Exception as exc:  # numpy / array-api-strict raise LinAlgError
        raise NumericalError(_CHOLESKY_MESSAGE) from exc
    if not bool(xp.all(xp.isfinite(chol))):  # cupy returns NaN instead of raising
        raise NumericalError(_CHOLESKY_MESSAGE)
    inv = xp.tril(xp.linalg.inv(chol))
    return xp.permute_dims(inv, (0, 2, 1))


def covariances_from_precision_cholesky(prec_chol, covariance_type, *, xp):
    """Inverse of :func:`compute_precision_cholesky` (used for ``precisions_init``)."""
    if covariance_type == "diag":
        return 1.0 / (prec_chol * prec_chol)
    prec = xp.matmul(prec_chol, xp.permute_dims(prec_chol, (0, 2, 1)))
    return xp.linalg.inv(prec)


# --------------------------------------------------------------------------------------------
# probability estimators


DIAG_CHUNK = 2048
"""Frames per chunk of the diagonal E-step (measured fastest of 1024-8192 for M in 5..128)."""


DIAG_CHUNK_SMALL = 512
"""Frames per chunk of the diagonal E-step of GMMs with few frames (:func:`diag_chunk_size`)."""


def diag_chunk_size(n_frames):
    """E-step chunk size for a GMM of ``n_frames`` frames (depends on nothing else).

    Every GMM is padded to whole chunks: 2048-frame chunks waste 1024 frames per GMM on
    average, 27 % of the work of the clustering's candidate merges (GMMs of a few thousand
    frames). GMMs under 16 384 frames use 512-frame chunks (measured as fast per frame as 2048
    for 5-20 components, where 256 is 15-25 % slower).
    """
    return DIAG_CHUNK_SMALL if int(n_frames) < 8 * DIAG_CHUNK else DIAG_CHUNK


def frame_design(X, covariance_type, *, xp, chunk_size=None):
    """Frame matrix used by the E-step.

    Parameters
    ----------
    X : array of shape (n, D)
    covariance_type : {'diag', 'full'}
    xp : namespace
    chunk_size : int, optional
        Frames per chunk for 'diag' (default :data:`DIAG_CHUNK`).

    Returns
    -------
    Z : tuple or array of shape (n, D)
        'diag': ``(frames, mask)`` of :func:`._chunks.frame_chunks`, the frames transposed into
        feature-major chunks and zero-padded at the end; the E-step writes the design
        ``[X*X ; X ; 1]`` of a few chunks at a time from them (:func:`diag_design` has the
        layout). 'full': ``X`` itself.
    """
    if covariance_type != "diag":
        return X
    return frame_chunks(X, chunk_size=int(chunk_size or DIAG_CHUNK), xp=xp)


def diag_design(blocks, *, chunk_size, xp, shifts=None):
    """Diagonal frame design of several frame blocks, each zero-padded to whole chunks.

    Parameters
    ----------
    blocks : list of arrays of shape (n_i, D)
        Frames of every block (e.g. every GMM).
    chunk_size : int
        Frames per chunk ``cs``.
    xp : namespace
    shifts : list of arrays of shape (D,), optional
        Subtracted from the frames of every block while the design is written (the design of
        ``blocks[i] - shifts[i]``, with the same values, without a centred copy of the block).

    Returns
    -------
    design : array of shape (n_chunks, 2D+1, cs)
        Block ``i`` occupies ``max(1, ceil(n_i / cs))`` consecutive chunks.
    """
    cs = int(chunk_size)
    D = blocks[0].shape[1]
    dtype = blocks[0].dtype
    nch = [max(1, -(-int(X.shape[0]) // cs)) for X in blocks]
    # One buffer written block by block and chunk group by chunk group: the transposes and
    # squares run on cache-sized pieces, and no block-sized temporary (centred copy,
    # concatenation, full-size square) is ever allocated.
    out = xp.empty((sum(nch), 2 * D + 1, cs), dtype=dtype)
    c = 0
    for i, X in enumerate(blocks):
        n, k = int(X.shape[0]), nch[i]
        s = None if shifts is None else xp.reshape(shifts[i], (1, D, 1))
        full = n // cs
        for a in range(0, full, _DESIGN_PIECE):
            b = min(a + _DESIGN_PIECE, full)
            v = xp.permute_dims(xp.reshape(X[a * cs:b * cs, ...], (b - a, cs, D)), (0, 2, 1))
            out[c + a:c + b, D:2 * D, :] = v if s is None else v - s
            v = out[c + a:c + b, D:2 * D, :]
            out[c + a:c + b, :D, :] = v * v
            out[c + a:c + b, 2 * D, :] = 1.0
        if full < k:  # the last, partly filled chunk
            r, t = n - full * cs, c + full
            out[t, :, r:] = 0.0
            if r:
                v = xp.permute_dims(X[full * cs:, ...], (1, 0))
                out[t, D:2 * D, :r] = v if s is None else v - s[0, ...]
                v = out[t, D:2 * D, :r]
                out[t, :D, :r] = v * v
                out[t, 2 * D, :r] = 1.0
        c += k
    return out


_DESIGN_PIECE = 8
"""Chunks transposed and squared at once by :func:`diag_design` (8 x 2048 frames: L2-sized)."""


def scoring_params(weights, means, prec_chol, covariance_type, *, xp):
    """Precompute the matrices that turn frames into weighted component log-densities.

    Parameters
    ----------
    weights : array of shape (M,)
    means : array of shape (M, D)
    prec_chol : array of shape (M, D) or (M, D, D)
    covariance_type : {'diag', 'full'}
    xp : namespace

    Returns
    -------
    params : tuple
        ``(W, b, c)``: for 'diag' ``W`` is (M, 2D+1) (its last column is ``c``, matching the
        constant row of the design) and ``b`` is None; for 'full' ``W`` is
        (M*D, D) and ``b`` (M*D,). ``c`` (M,) holds the normalising constant plus the log-weight.
    """
    M, D = means.shape
    tiny = xp.finfo(weights.dtype).smallest_normal
    logw = xp.log(xp.maximum(weights, xp.asarray(tiny, dtype=weights.dtype)))
    if covariance_type == "diag":
        prec = prec_chol * prec_chol
        c = (-0.5 * (D * LOG_2PI + xp.sum(means * means * prec, axis=1))
             + xp.sum(xp.log(prec_chol), axis=1) + logw)
        W = xp.concat([-0.5 * prec, means * prec, c[:, None]], axis=1)
        return W, None, c
    # row k*D + e of W is column e of U_k, so (W @ x)[k*D + e] = (x @ U_k)[e]
    W = xp.reshape(xp.permute_dims(prec_chol, (0, 2, 1)), (M * D, D))
    b = xp.reshape(xp.matmul(means[:, None, :], prec_chol)[:, 0, :], (M * D,))
    logdet = xp.sum(xp.log(xp.linalg.diagonal(prec_chol)), axis=1)
    c = -0.5 * D * LOG_2PI + logdet + logw
    return W, b, c


def component_log_prob(Z, params, covariance_type, *, xp):
    """Weighted component log-densities ``log w_k + log N(x_n | k)`` of a block of frames.

    The result is component-major, (M, n): reductions over components then run over the long
    contiguous frame axis, which is 5-20x faster in numpy than reducing a short last axis.

    Parameters
    ----------
    Z : array of shape (n_chunks, 2D+1, cs) or (n, D)
        Frame design from :func:`frame_design`.
    params : tuple
        From :func:`scoring_params`.
    covariance_type : {'diag', 'full'}
    xp : namespace

    Returns
    -------
    log_prob : array of shape (M, n) or, for 'diag', (M, n_chunks * cs)
        For 'diag' the columns of the padding frames at the end are to be dropped by the caller.
    """
    W, b, c = params
    if covariance_type == "diag":
        lp = xp.matmul(W, Z)  # (n_chunks, M, cs)
        n_chunks, M, cs = lp.shape
        if n_chunks == 1:
            return lp[0, ...]
        lp = xp.permute_dims(lp, (1, 0, 2))
        return xp.reshape(xp.reshape(lp, (-1,)), (M, n_chunks * cs))
    ZT = xp.permute_dims(Z, (1, 0))
    n = Z.shape[0]
    M = c.shape[0]
    y = xp.matmul(W, ZT) - b[:, None]
    y = xp.reshape(y * y, (M, -1, n))
    return -0.5 * xp.sum(y, axis=1) + c[:, None]


def logsumexp_cols(a, *, xp):
    """Column-wise ``log(sum(exp(a), axis=0))`` with max subtraction (all ``-inf`` -> ``-inf``)."""
    m = xp.max(a, axis=0, keepdims=True)
    m = xp.where(xp.isfinite(m), m, xp.zeros_like(m))
    return xp.log(xp.sum(xp.exp(a - m), axis=0)) + m[0, :]


def default_chunk_size(width, budget=1 << 17):
    """Rows per E-step chunk so that a chunk's (rows, width) temporaries hold ~``budget`` values.

    The budget (1 MiB of float64) keeps the chunk's log-densities and posteriors in the L2 cache:
    measured 1.2-1.6x faster than whole-group chunks for 10 components and 60 000 frames.
    Between 1024 and 8192 rows.
    """
    return int(min(8192, max(1024, budget // max(int(width), 1))))


# --------------------------------------------------------------------------------------------
# E-step: sufficient statistics


def estep(Z, params, covariance_type, *, xp, chunk_size=None, stats=True):
    """One pass over the frames of one GMM: total log-likelihood and sufficient statistics.

    Parameters
    ----------
    Z : tuple or array of shape (n, D)
        Frame design of the GMM's frames (:func:`frame_design`).
    params : tuple
        From :func:`scoring_params`.
    covariance_type : {'diag', 'full'}
    xp : namespace
    chunk_size : int, optional
        Frames per chunk for 'full' (the largest temporary is (M*D, chunk_size)); 'diag' uses
        the chunks of its design.
    stats : bool, default=True
        Whether to accumulate statistics (False: log-likelihood only).

    Returns
    -------
    loglik : float
        Total log-likelihood of the frames (accumulated in float64).
    Nk : float64 array of shape (M,)
        Soft counts.
    S1 : float64 array of shape (M, D)
        ``sum_n r_nk x_n``.
    S2 : float64 array of shape (M, D) or (M, D, D)
        ``sum_n r_nk x_n**2`` (diag) or ``sum_n r_nk x_n x_n^T`` (full).
    """
    if covariance_type == "diag":
        W = params[0]
        frames, mask = Z
        n_chunks = frames.shape[0]
        owner = xp.zeros((n_chunks,), dtype=xp.int64)
        padded = np.arange(n_chunks) == n_chunks - 1  # only the last chunk can hold padding
        ll, st = diag_estep_frames(frames, mask, W[None, ...], owner, xp=xp, stats=stats,
                                   padded=padded)
        total = float(xp.sum(ll))
        if not stats:
            return total, None, None, None
        st = xp.sum(st, axis=0)
        D = frames.shape[1]
        return total, st[:, 2 * D], st[:, D:2 * D], st[:, :D]
    n = Z.shape[0]
    M = params[2].shape[0]
    D = Z.shape[1]
    if chunk_size is None:
        chunk_size = default_chunk_size(M * (D if covariance_type == "full" else 2))
    f64 = xp.float64
    total = xp.zeros((), dtype=f64)
    Nk = S1 = S2 = None
    for start in range(0, n, chunk_size):
        Zc = Z[start:min(start + chunk_size, n), ...]
        lp = component_log_prob(Zc, params, covariance_type, xp=xp)
        norm = logsumexp_cols(lp, xp=xp)
        total = total + xp.sum(xp.astype(norm, f64))
        if not stats:
            continue
        resp = xp.exp(lp - norm[None, :])  # (M, n), C-contiguous: resp @ Zc is a plain GEMM
        nk = xp.sum(xp.astype(resp, f64), axis=1)
        s = xp.astype(xp.matmul(resp, Zc), f64)
        if covariance_type == "diag":
            s2, s1 = s[:, :D], s[:, D:]
        else:
            s1 = s
            ZcT = xp.permute_dims(Zc, (1, 0))
            rx = xp.reshape(resp[:, None, :] * ZcT[None, :, :], (M * D, Zc.shape[0]))
            s2 = xp.reshape(xp.astype(xp.matmul(rx, Zc), f64), (M, D, D))
        if Nk is None:
            Nk, S1, S2 = nk, s1, s2
        else:
            Nk, S1, S2 = Nk + nk, S1 + s1, S2 + s2
    return float(total), Nk, S1, S2


# --------------------------------------------------------------------------------------------
# M-step


def mstep(Nk, S1, S2, old_means, covariance_type, *, xp, dtype, reg_covar=0.0, var_floor=None,
          n_gmms=1, precisions=True):
    """Maximisation step from float64 statistics, with the floors.

    Follows scikit-learn (``nk = N_k + 10 eps``, weights normalised to sum 1, ``reg_covar`` added to
    every diagonal) and the original diarizer (``var_floor`` added to every diagonal after every
    M-step; a component with ``N_k < 1`` keeps its mean and gets covariance ``var_floor`` only).

    Parameters
    ----------
    Nk : float64 array of shape (M,)
    S1 : float64 array of shape (M, D)
    S2 : float64 array of shape (M, D) or (M, D, D)
    old_means : array of shape (M, D)
        Means before the step (kept for components that lost their data when ``var_floor`` is set).
    covariance_type : {'diag', 'full'}
    xp : namespace
    dtype : dtype
        Dtype of the returned parameters.
    reg_covar : float, default=0.0
    var_floor : float64 array of shape (D,) or None
    n_gmms : int, default=1
        The M components are those of ``n_gmms`` GMMs of ``M / n_gmms`` components each,
        concatenated; the weights are normalised within each GMM.
    precisions : bool, default=True
        Whether to compute the precision Cholesky factors (else None is returned for them).

    Returns
    -------
    weights, means, covariances, precisions_cholesky : arrays in ``dtype``

    Raises
    ------
    NumericalError
        A covariance is not positive definite after flooring.
    """
    f64 = xp.float64
    M, D = S1.shape
    nk = Nk + 10.0 * xp.finfo(f64).eps
    means = S1 / nk[:, None]
    if covariance_type == "diag":
        cov = xp.maximum(S2 / nk[:, None] - means * means, xp.zeros_like(means)) + reg_covar
        if var_floor is not None:
            cov = cov + var_floor
    else:
        cov = S2 / nk[:, None, None] - means[:, :, None] * means[:, None, :]
        cov = 0.5 * (cov + xp.permute_dims(cov, (0, 2, 1)))
        eye = xp.eye(D, dtype=f64)
        cov = cov + reg_covar * eye
        if var_floor is not None:
            cov = cov + var_floor * eye
    if var_floor is not None:
        empty = Nk < 1.0
        old = xp.astype(old_means, f64)
        means = xp.where(empty[:, None], old, means)
        if covariance_type == "diag":
            floor_cov = xp.zeros_like(cov) + (var_floor + reg_covar)
            cov = xp.where(empty[:, None], floor_cov, cov)
        else:
            floor_cov = xp.zeros_like(cov) + (var_floor + reg_covar) * eye
            cov = xp.where(empty[:, None, None], floor_cov, cov)
    if n_gmms == 1:
        weights = nk / xp.sum(nk)
    else:
        nk2 = xp.reshape(nk, (n_gmms, -1))
        weights = xp.reshape(nk2 / xp.sum(nk2, axis=1, keepdims=True), (-1,))
    if precisions and covariance_type == "full":
        cov, prec_chol = _full_precisions(cov, var_floor, reg_covar, xp=xp)  # float64
    weights, means, cov = (xp.astype(a, dtype) for a in (weights, means, cov))
    if not precisions:
        return weights, means, cov, None
    if covariance_type == "diag":
        prec_chol = compute_precision_cholesky(cov, "diag", xp=xp)
    return weights, means, cov, xp.astype(prec_chol, dtype, copy=False)
