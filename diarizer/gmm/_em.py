"""Batched EM of many diagonal GMMs with the same number of components, on their own frames.

The frames of every GMM are gathered once per fit into chunks of the feature-major design
``[X*X ; X ; 1]`` of its centred frames (:func:`._chunks.chunk_design`) and concatenated; every
E-step of all the GMMs runs a few batched matrix products on blocks of those chunks
(:func:`._chunks.diag_estep_design`), instead of a Python loop over GMMs and chunks. A chunk's
work depends only on its own frames and its GMM's parameters, and every GMM sums its chunks in
order: the result of a GMM is the same whatever other GMMs share its unit, so the units can run
on threads, and units are kept small enough (:data:`UNIT_FRAMES`) for their design to stay in
the CPU caches from one E-step to the next.
"""

import itertools

import numpy as np

from .._xp import to_numpy
from ..exceptions import NumericalError
from ._chunks import diag_estep_design
from ._kernels import compute_precision_cholesky, mstep, scoring_params

__all__ = []

UNIT_FRAMES = 24_576
"""Frames of a work unit above which :func:`plan_units` splits it further. A unit's design
(:func:`._chunks.chunk_design`, ``2D+1`` values per frame: 3.7 MB of float32 or 7.4 MB of float64
at D = 19) is then read by every E-step of its EM from the CPU caches rather than from memory,
also with two engine threads sharing the last-level cache. 16 GMMs x 22 500 frames x 5
components, 3 EM iterations, two engine threads, configurations interleaved in one process
(best / median of 12 runs): 68 / 73 ms (float64) and 40 / 44 ms (float32) against 76 / 79 and
41 / 47 ms with 65 536-frame units; smaller E-step blocks instead (:data:`._chunks.ESTEP_BUDGET`
of 256 Ki values) were slower, 82 and 54 ms (more numpy calls holding the GIL). Earlier, one
engine thread: 0.12-0.14 s (float64) with units of 16 384 - 65 536 frames, against 0.20-0.22 s
with the 400 000-frame units of the frames-streaming E-step; with 131 072-frame units the
clustering of a 1-hour meeting spent 2.0 s in ``GMMSet.fit`` instead of 1.6-1.7 s. The
clustering's own fits (at most ``max_cluster_frames`` = 20 000 frames) make two units either
way. A single GMM with more frames is a unit of its own."""


def plan_units(sizes, n_components, n_threads, max_frames, chunk_sizes=None):
    """Split GMMs into work units: same component count and chunk size, balanced frame totals.

    Parameters
    ----------
    sizes : sequence of int of length G
        Frames of every GMM (GMMs with 0 frames are left out).
    n_components : sequence of int of length G
    n_threads : int
        Units wanted per component count (at least), so the threads have balanced work.
    max_frames : int
        Frames per unit above which a unit is split further (bounds the design's memory).
    chunk_sizes : sequence of int of length G, optional
        E-step chunk size of every GMM (a unit shares one); default: all equal.

    Returns
    -------
    list of list of int
        GMM indices of every unit, largest first within a unit.
    """
    units = []
    cs = [0] * len(sizes) if chunk_sizes is None else [int(c) for c in chunk_sizes]
    kinds = sorted(set((int(n_components[g]), cs[g]) for g in range(len(sizes)) if sizes[g] > 0))
    for M, c in kinds:
        gmms = sorted((g for g in range(len(sizes))
                       if sizes[g] > 0 and n_components[g] == M and cs[g] == c),
                      key=lambda g: (-sizes[g], g))
        total = sum(sizes[g] for g in gmms)
        k = max(min(n_threads, len(gmms)), -(-total // max(max_frames, 1)))
        k = min(k, len(gmms))
        bins, load = [[] for _ in range(k)], [0] * k
        for g in gmms:  # largest first into the least-loaded unit
            i = min(range(k), key=lambda j: (load[j], j))
            bins[i].append(g)
            load[i] += sizes[g]
        units.extend(sorted(b, key=lambda g: (-sizes[g], g)) for b in bins if b)
    return units


def diag_precisions(cov, gmm_ids, *, xp):
    """Cholesky factors of diagonal precisions of GMMs of equal size, naming a GMM that fails.

    Parameters
    ----------
    cov : array of shape (u*M, D)
        Covariances of ``u`` GMMs of ``M`` components each, concatenated.
    gmm_ids : sequence of u int
        GMM numbers for the error message.
    xp : namespace

    Raises
    ------
    NumericalError
        A covariance is not positive; the message names the first such GMM.
    """
    try:
        return compute_precision_cholesky(cov, "diag", xp=xp)
    except NumericalError as exc:
        bad = ~np.all(to_numpy(cov).reshape(len(gmm_ids), -1) > 0, axis=1)
        g = int(gmm_ids[int(np.flatnonzero(bad)[0])]) if bad.any() else int(gmm_ids[0])
        raise NumericalError(f"GMM {g}: {exc}") from None


def _sum_chunks(values, bounds, gmms, *, xp):
    """Per-GMM ordered sums of per-chunk values over the chunk ranges ``bounds[g]:bounds[g+1]``."""
    if len(gmms) == 1 and int(bounds[gmms[0] + 1] - bounds[gmms[0]]) == values.shape[0]:
        if isinstance(values, np.ndarray):  # what numpy's sum calls, without its dispatch
            return [np.add.reduce(values, axis=0)]
        return [xp.sum(values, axis=0)]
    return [xp.sum(values[int(bounds[g]):int(bounds[g + 1]), ...], axis=0) for g in gmms]


def em_diag_unit(design, sizes, params, eps, max_iter, min_iter, *, xp, dtype, reg_covar,
                 var_floor, gmm_ids, chunk_size, on_iteration=None):
    """EM of u diagonal GMMs of M components each, every one on its own frames.

    Parameters
    ----------
    design : array of shape (n_chunks, 2D+1, chunk_size)
        Design of the u GMMs' frames from :func:`._chunks.chunk_design`, in the coordinates of
        ``params``: GMM ``i`` on ``ceil(sizes[i] / chunk_size)`` consecutive chunks.
    sizes : sequence of u int
        Frames of every GMM.
    params : tuple
        ``(weights (u*M,), means (u*M, D), covariances (u*M, D), precisions_cholesky (u*M, D))``
        concatenated over the GMMs, in the designs' coordinates.
    eps : ndarray of shape (u,)
        Convergence thresholds on the change of total log-likelihood.
    max_iter, min_iter : int
    xp : namespace
    dtype : xp dtype
    reg_covar : float
    var_floor : float64 array of shape (D,) or None
    gmm_ids : sequence of int
        GMM numbers used in error messages and the log.
    chunk_size : int
        Frames per E-step chunk.
    on_iteration : callable, optional
        ``on_iteration(gmm_id, it, L_new, change)`` after every E-step of a GMM (debug log).

    Returns
    -------
    L : ndarray of shape (u,)
        Total log-likelihoods after the final E-step.
    n_iter : ndarray of shape (u,), int
    converged : ndarray of shape (u,), bool
    params : tuple
        Final parameters, concatenated as ``params``.

    Raises
    ------
    NumericalError
        A covariance is not positive; the message names the GMM.
    """
    u = len(sizes)
    w, mu, cov, pc = params
    M = w.shape[0] // u
    K = design.shape[1]
    D = (K - 1) // 2
    nch = [max(1, -(-int(n) // chunk_size)) for n in sizes]
    bounds = np.asarray([0, *itertools.accumulate(nch)], dtype=np.int64)
    owner = xp.asarray(np.repeat(np.arange(u), nch))
    padded = np.zeros(int(bounds[-1]), dtype=bool)  # the last chunk of a GMM not filling it
    padded[bounds[1:] - 1] = np.asarray(sizes) % chunk_size != 0
    top = max(max_iter, min_iter)
    st = [None] * u

    def estep_active(active, w, mu, pc, stats):
        W = xp.reshape(scoring_params(w, mu, pc, "diag", xp=xp)[0], (u, M, K))
        gs = np.flatnonzero(active)
        lls = []
        # contiguous runs of active GMMs -> contiguous chunk ranges
        if gs.size == u:
            runs = [gs]
        else:
            runs = np.split(gs, np.flatnonzero(np.diff(gs) != 1) + 1) if gs.size else []
        for run in runs:
            a, b = int(bounds[run[0]]), int(bounds[run[-1] + 1])
            ll, s = diag_estep_design(design[a:b, ...], W, owner[a:b], xp=xp, stats=stats,
                                      padded=padded[a:b])
            local = bounds - a
            lls.extend(_sum_chunks(ll, local, run, xp=xp))
            if stats:
                for g, v in zip(run, _sum_chunks(s, local, run, xp=xp)):
                    st[g] = v
        if not lls:
            return np.zeros(0)
        if isinstance(lls[0], (np.ndarray, np.generic)):  # numpy scalars: no stacking
            return np.array(lls, dtype=np.float64)
        return to_numpy(xp.stack(lls)).astype(np.float64)

    active = np.ones(u, dtype=bool)
    L = estep_active(active, w, mu, pc, top > 0)
    n_iter = np.zeros(u, dtype=np.int64)
    conv = np.zeros(u, dtype=bool)
    it = 0
    while True:
        # active &= (it < min_iter) | ((it < max_iter) & ~conv), with fewer array operations
        if it >= min_iter:
            if it >= max_iter:
                break
            active &= ~conv
            if not active.any():
                break
        # (u * M, K) float64; stale rows of inactive GMMs are unused
        S = st[0] if u == 1 else xp.reshape(xp.stack(st, axis=0), (u * M, K))
        nw, nmu, ncov, _ = mstep(S[:, 2 * D], S[:, D:2 * D], S[:, :D], mu, "diag", xp=xp,
                                 dtype=dtype, reg_covar=reg_covar, var_floor=var_floor,
                                 n_gmms=u, precisions=False)
        if active.all():
            w, mu, cov = nw, nmu, ncov
        else:
            rows = xp.asarray(np.repeat(active, M))
            w = xp.where(rows, nw, w)
            mu = xp.where(rows[:, None], nmu, mu)
            cov = xp.where(rows[:, None], ncov, cov)
        pc = diag_precisions(cov, gmm_ids, xp=xp)
        it += 1
        n_iter[active] = it
        L_new = estep_active(active, w, mu, pc, it < top)
        change = L_new - L[active]
        conv[active] = np.abs(change) <= eps[active]
        if on_iteration is not None:
            for g, Ln, ch in zip(np.flatnonzero(active), L_new, change):
                on_iteration(int(gmm_ids[g]), it, float(Ln), float(ch))
        L[active] = L_new
    return L, n_iter, conv, (w, mu, cov, pc)
