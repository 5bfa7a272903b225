"""Batched diagonal EM of GMMs whose frames are unions of shared blocks (merge candidates).

Every merge step of the clustering trains one candidate model per pair of clusters on the union
of their frames: each cluster's frames belong to ``G - 1`` candidates. Gathering every union
apart (:mod:`._em`) builds the design of ``(G - 1) N`` frames per step and scores each with a
product of ``M_a + M_b`` rows. Here every block (cluster) gets its design once per call
(:func:`._chunks.chunk_design`, centred on the block's mean), and every E-step scores a block
against *all* the GMMs that contain it in one matrix product of ``sum(M_g)`` rows, then turns the
responsibilities into all their statistics with one more product. A GMM's log-likelihood and
statistics are the sums over its blocks, the statistics moved from the block's origin to the
GMM's (the frame-weighted mean of its blocks' origins) in float64:
``S1' = S1 + N d`` and ``S2' = S2 + 2 d S1 + N d^2`` with ``d = origin_block - origin_gmm``.

A GMM's numbers depend only on its own blocks and parameters (products and reductions run per
block, sums over blocks in block order), so the blocks run on threads.
"""

import numpy as np

from .._xp import to_numpy
from ._chunks import _floor_row, _is_numpy, chunk_design, exp_floor
from ._em import diag_precisions
from ._kernels import diag_chunk_size, mstep, scoring_params
from ._threads import _map_gmms

__all__ = []

_BLOCK_BUDGET = 1 << 18
"""Values of the log-density array of one piece of a block (rows x frames): 1 MiB of float32,
so that it stays in the CPU caches between its exponential and its statistics product."""


def screened(rough, k):
    """Indices (sorted) of the ``k`` highest ``rough`` values; ties go to the lower index."""
    return np.sort(np.argsort(-np.asarray(rough), kind="stable")[:int(k)])


def _plan(members, n_components, n_blocks):
    """Per block: the GMMs containing it, ordered by component count (equal counts contiguous)."""
    per_block = [[] for _ in range(n_blocks)]
    for g, ms in enumerate(members):
        for c in ms:
            per_block[c].append(g)
    return [sorted(gs, key=lambda g: (int(n_components[g]), g)) for gs in per_block]


class _Block:
    """One block: its design (:func:`._chunks.chunk_design`), origin, frame count and chunk size."""

    def __init__(self, design, shift, size, cs):
        self.design, self.shift, self.size, self.cs = design, shift, size, cs
        n_chunks = design.shape[0]
        self.padded = np.zeros(n_chunks, dtype=bool)
        self.padded[-1] = size % cs != 0


def _block_estep(blk, gmms, rows_w, M_of, *, xp, stats, floor):
    """Log-likelihood (and float64 statistics, in the block's coordinates) of every GMM on a block.

    Parameters
    ----------
    blk : _Block
    gmms : list of int
        Active GMMs containing the block, equal component counts contiguous.
    rows_w : array of shape (R, 2D+1)
        Their scoring matrices (in the block's coordinates), concatenated in ``gmms`` order.
    M_of : dict
        Component count of every GMM.

    Returns
    -------
    ll : float64 array of shape (len(gmms),)
    st : float64 array of shape (R, 2D+1) or None
    """
    design = blk.design
    n_chunks, K, cs = design.shape
    R = rows_w.shape[0]  # rows of all the GMMs
    runs = []  # (first row, number of GMMs, M) of equal component counts
    r = i = 0
    while i < len(gmms):
        M = M_of[gmms[i]]
        j = i
        while j < len(gmms) and M_of[gmms[j]] == M:
            j += 1
        runs.append((r, j - i, M))
        r += (j - i) * M
        i = j
    step = max(1, min(n_chunks, _BLOCK_BUDGET // max(R * cs, 1)))
    fast = _is_numpy(xp)
    lls, sts = [], []
    for a in range(0, n_chunks, step):
        b = min(a + step, n_chunks)
        k = b - a
        Zb = design[a:b, ...]
        lp = xp.matmul(rows_w, Zb)  # (k, R, cs)
        pad = bool(np.any(blk.padded[a:b]))
        ll_parts, e_parts = [], []
        for r0, n_g, M in runs:
            seg = xp.reshape(lp[:, r0:r0 + n_g * M, :], (k, n_g, M, cs))
            m = xp.max(seg, axis=2, keepdims=True)
            if fast:  # the values of the generic lines, without temporaries
                seg = np.subtract(seg, m, out=seg)
                np.maximum(seg, _floor_row(floor, seg), out=seg)
                e = np.exp(seg, out=seg)
            else:
                e = xp.exp(xp.clip(seg - m, min=floor))
            tot = xp.sum(e, axis=2)  # (k, n_g, cs)
            ll = xp.log(tot) + m[:, :, 0, :]
            if pad:  # padding frames: constant row 0
                ll = ll * xp.reshape(Zb[:, K - 1, :], (k, 1, cs))
            ll_parts.append(xp.sum(xp.astype(ll, xp.float64, copy=False), axis=2))  # (k, n_g)
            if stats:
                inv = xp.reshape(1.0 / tot, (k, n_g, 1, cs))
                if fast:  # in place: lp now holds this run's responsibilities
                    np.multiply(e, inv, out=e)
                else:
                    e_parts.append(xp.reshape(e * inv, (k, n_g * M, cs)))
        lls.append(xp.concat(ll_parts, axis=1) if len(ll_parts) > 1 else ll_parts[0])
        if stats:
            # numpy: the runs' responsibilities were written into lp in place, in row order
            E = lp if fast else (xp.concat(e_parts, axis=1) if len(e_parts) > 1 else e_parts[0])
            sts.append(xp.astype(xp.matmul(E, xp.permute_dims(Zb, (0, 2, 1))), xp.float64))
    ll = xp.sum(xp.concat(lls, axis=0) if len(lls) > 1 else lls[0], axis=0)
    if not stats:
        return ll, None
    st = xp.sum(xp.concat(sts, axis=0) if len(sts) > 1 else sts[0], axis=0)
    return ll, st


def em_diag_unions(X, blocks, members, params, n_components, eps, max_iter, min_iter, *, xp,
                   dtype, reg_covar, var_floor, screen=None, gmm_ids=None, chunk_size=None):
    """EM of diagonal GMMs, GMM ``g`` on the frames of the blocks ``members[g]``.

    Parameters
    ----------
    X : array of shape (N, D)
    blocks : list of host int arrays
        Disjoint frame indices of every block (non-empty).
    members : list of sequence of int
        Blocks of every GMM (at least one each, no repeats).
    params : tuple
        ``(weights (C,), means (C, D), covariances (C, D), precisions_cholesky (C, D))`` of the
        GMMs, concatenated in GMM order, in the frames' coordinates.
    n_components : ndarray of shape (G,), int
    eps : ndarray of shape (G,)
        Convergence thresholds on the change of total log-likelihood.
    max_iter, min_iter : int
    xp : namespace
    dtype : xp dtype
    reg_covar : float
    var_floor : float64 array of shape (D,) or None
    screen : tuple (k, baseline), optional
        After the first EM iteration keep training only the ``k`` GMMs of highest
        ``L - baseline`` (ties: lower index first), each for at least one more iteration when
        ``max_iter >= 2``; the others stop with their one-iteration parameters.
    gmm_ids : sequence of int, optional
        GMM numbers used in error messages (default ``range(G)``).
    chunk_size : int, optional
        Frames per E-step chunk (default :func:`._kernels.diag_chunk_size` of each block).

    Returns
    -------
    L : ndarray of shape (G,)
        Total log-likelihoods after the final E-step.
    n_iter : ndarray of shape (G,), int
    converged : ndarray of shape (G,), bool
    kept : ndarray of shape (G,), bool
        GMMs trained past the screening (all when ``screen`` is None).
    params : tuple
        Final parameters, concatenated as ``params``, in the frames' coordinates.
    """
    G = len(members)
    gmm_ids = list(range(G)) if gmm_ids is None else list(gmm_ids)
    f64 = xp.float64
    Ms = [int(m) for m in n_components]
    off = np.concatenate([[0], np.cumsum(Ms)]).astype(np.int64)
    sizes = np.asarray([b.size for b in blocks], dtype=np.int64)
    blks = []
    for idx in blocks:
        cs = int(chunk_size) if chunk_size else diag_chunk_size(idx.size)
        design, (shift,) = chunk_design(X, [idx], chunk_size=cs, xp=xp)
        blks.append(_Block(design, xp.astype(shift, f64), int(idx.size), cs))
    per_block = _plan(members, Ms, len(blocks))
    # origin of every GMM: the frame-weighted mean of its blocks' origins (float64)
    origin = []
    for ms in members:
        n = float(sum(int(sizes[c]) for c in ms))
        origin.append(sum(blks[c].shift * (float(sizes[c]) / n) for c in ms))
    rows_origin = xp.concat([xp.broadcast_to(origin[g][None, :], (Ms[g], origin[g].shape[0]))
                             for g in range(G)], axis=0)
    w, mu, cov, pc = params
    mu = xp.astype(xp.astype(mu, f64) - rows_origin, dtype)  # GMM coordinates
    D = mu.shape[1]
    floor = exp_floor(dtype, xp=xp)
    M_of = dict(enumerate(Ms))
    comp = [np.arange(off[g], off[g + 1]) for g in range(G)]

    def estep(active, w, mu, pc, stats):
        act = set(np.flatnonzero(active).tolist())

        def one(c):
            gs = [g for g in per_block[c] if g in act]
            if not gs:
                return gs, None, None
            ci = xp.asarray(np.concatenate([comp[g] for g in gs]))
            # (R, D) GMM origin - block origin, row by row (the same values as per GMM)
            d = xp.take(rows_origin, ci, axis=0) - blks[c].shift[None, :]
            mu_c = xp.astype(xp.astype(xp.take(mu, ci, axis=0), f64) + d, dtype)
            W = scoring_params(xp.take(w, ci, axis=0), mu_c, xp.take(pc, ci, axis=0), "diag",
                               xp=xp)[0]
            ll, st = _block_estep(blks[c], gs, W, M_of, xp=xp, stats=stats, floor=floor)
            if st is not None:  # to the GMMs' coordinates: x - o_g = (x - o_c) - d
                S2, S1, N = st[:, :D], st[:, D:2 * D], st[:, 2 * D:]
                S2 = S2 - 2.0 * d * S1 + N * d * d
                S1 = S1 - N * d
                st = xp.concat([S2, S1, N], axis=1)
            return gs, ll, st

        outs = _map_gmms(one, len(blks), xp, [int(s) for s in sizes])
        L = {}
        S = {}
        for gs, ll, st in outs:  # blocks in order: every GMM sums its blocks in order
            if not gs:
                continue
            llh = to_numpy(ll)
            r = 0
            for i, g in enumerate(gs):
                L[g] = L.get(g, 0.0) + float(llh[i])
                if st is not None:
                    part = st[r:r + Ms[g], ...]
                    S[g] = part if g not in S else S[g] + part
                r += Ms[g]
        gs = sorted(act)
        return np.asarray([L[g] for g in gs]), S

    active = np.ones(G, dtype=bool)
    top = max(max_iter, min_iter)
    L, S = estep(active, w, mu, pc, top > 0)
    n_iter = np.zeros(G, dtype=np.int64)
    conv = np.zeros(G, dtype=bool)
    kept = np.ones(G, dtype=bool)
    it = 0
    while True:
        active &= (it < min_iter) | ((it < max_iter) & ~conv)
        if not active.any():
            break
        gs = np.flatnonzero(active)
        new = {}
        for M in sorted(set(Ms[g] for g in gs)):
            grp = [int(g) for g in gs if Ms[g] == M]
            St = xp.concat([S[g] for g in grp], axis=0)  # (n*M, K)
            ci = xp.asarray(np.concatenate([comp[g] for g in grp]))
            nw, nmu, ncov, _ = mstep(St[:, 2 * D], St[:, D:2 * D], St[:, :D],
                                     xp.take(mu, ci, axis=0), "diag", xp=xp, dtype=dtype,
                                     reg_covar=reg_covar, var_floor=var_floor, n_gmms=len(grp),
                                     precisions=False)
            npc = diag_precisions(ncov, [gmm_ids[g] for g in grp], xp=xp)
            for j, g in enumerate(grp):
                sl = slice(j * M, (j + 1) * M)
                new[g] = (nw[sl], nmu[sl, ...], ncov[sl, ...], npc[sl, ...])
        pieces = [new[g] if g in new else (w[off[g]:off[g + 1]], mu[off[g]:off[g + 1], ...],
                                           cov[off[g]:off[g + 1], ...],
                                           pc[off[g]:off[g + 1], ...]) for g in range(G)]
        w, mu, cov, pc = (xp.concat([p[i] for p in pieces], axis=0) for i in range(4))
        it += 1
        n_iter[active] = it
        screening = it == 1 and screen is not None and screen[0] < G
        # the screening E-step needs no statistics: only the kept GMMs go on
        L_new, S = estep(active, w, mu, pc, it < top and not screening)
        change = L_new - L[active]
        conv[active] = np.abs(change) <= eps[active]
        L[active] = L_new
        if screening:
            rough = L - np.asarray(screen[1], dtype=np.float64)
            keep = screened(rough, screen[0])
            kept[:] = False
            kept[keep] = True
            active &= kept
            conv[kept] = False  # each kept GMM trains at least one more iteration
            if it < top:  # statistics of the kept GMMs (their log-likelihoods are in L)
                S = estep(active, w, mu, pc, True)[1]
    mu = xp.astype(xp.astype(mu, f64) + rows_origin, dtype)
    return L, n_iter, conv, kept, (w, mu, cov, pc)
