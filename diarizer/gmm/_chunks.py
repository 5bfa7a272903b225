"""Diagonal E-steps on chunks of the feature-major frame design ``[X*X ; X ; 1]``.

The diagonal log-densities and statistics are products with the feature-major design
``[X*X ; X ; 1]`` of a chunk of frames (see :mod:`._kernels`). Batched training
(:mod:`._em`) gathers the frames of a work unit of GMMs once per fit into that design, centred
on every GMM's mean (:func:`chunk_design`), and every E-step of the fit scores blocks of its
chunks where they lie (:func:`diag_estep_design`). Work units are kept small
(:data:`._em.UNIT_FRAMES`), so a unit's design stays in the CPU caches between its E-steps:
the design of all the frames of a large fit at once (112 MB for an hour of 19-dimensional
float64 frames) made the E-steps memory-bound. :func:`diag_estep_frames` instead writes the
design of a few chunks at a time into one small reused buffer on every pass (the single-GMM
E-step of :func:`._kernels.estep`, whose frames are streamed).

Both give the values of :func:`._kernels.diag_design` of the centred frames. On numpy the
squares, the exponential and the floor run in place (``out=``); other namespaces run the
array-API lines, which give the same values (tested on array-api-strict). Responsibilities are
kept off the subnormal range (:func:`exp_floor`).
"""

import math

import numpy as np

from ._threads import _MAX_THREADED_ITEM, _WORKER, _engine_threads, _map_gmms

__all__ = ["chunk_design", "frame_chunks", "diag_estep_frames", "diag_estep_design", "exp_floor",
           "ESTEP_BUDGET"]

_PIECE = 8
"""Chunks gathered (and centred) at once by :func:`chunk_design` (L2-sized pieces)."""

ESTEP_BUDGET = 1 << 20
"""Values of the design buffer of one block of chunks in :func:`diag_estep_frames` (8 MiB of
float64). 1 MiB kept the block in the L2 cache between its two products, but its many small numpy
calls hold the GIL, so two engine threads barely overlapped: 16 GMMs x 22 500 frames trained in
0.20-0.25 s (float64) against 0.11-0.13 s with 8 MiB blocks; the pipeline is unchanged. The
results do not depend on the block size."""


LOGP_BUDGET = 1 << 19
"""Values of the log-density array of one block of chunks (components x frames) at most: 2 MiB
of float32, so that it stays in the CPU caches between the E-step's passes over it (maximum,
exponential, sums, statistics product). It bounds the blocks of GMMs of many components, which
:data:`ESTEP_BUDGET` alone would make 13.6 MB for 128 components. One EM iteration of a GMM on
360 000 frames (as ``benchmarks/bench_gmm.py``, table 1; best of 7, interleaved, against no such
bound): 128 components (blocks of 2 chunks instead of 13) 0.095 against 0.115 s in float32 and
0.189 against 0.242 s in float64; 32 components (8 chunks instead of 13) 0.039 against 0.042 s
and 0.070 against 0.074 s. Blocks of GMMs of 20 or fewer components are unchanged. The results
do not depend on the block size."""


def _block_chunks(budget, K, M, cs, n_chunks):
    """Chunks per E-step block: within :data:`ESTEP_BUDGET` (design) and :data:`LOGP_BUDGET`."""
    B = min(int(budget or ESTEP_BUDGET) // (K * cs), LOGP_BUDGET // (int(M) * cs))
    return max(1, min(B, n_chunks))


def _is_numpy(xp):
    return "numpy" in getattr(xp, "__name__", "")


def chunk_design(X, groups, *, chunk_size, xp):
    """Gather frame groups into the feature-major design of their centred frames, chunk by chunk.

    Every group is centred on the mean of its frames (float32 accuracy: ``E[x^2] - mu^2``
    then cancels far less). The design is the one :func:`diag_estep_frames` writes into its
    block buffer on every E-step (and :func:`._kernels.diag_design` of the centred frames), made
    once per fit: the E-steps of the fit then only read it (:func:`diag_estep_design`).

    Parameters
    ----------
    X : array of shape (N, D)
        All frames.
    groups : list of host int arrays
        Frame indices of every group (non-empty).
    chunk_size : int
        Frames per chunk ``cs``.
    xp : namespace

    Returns
    -------
    design : array of shape (n_chunks, 2D+1, cs)
        Group ``i`` on ``ceil(n_i / cs)`` consecutive chunks, rows ``[x*x ; x ; 1]`` of its
        centred frames in order, then padding frames (all rows 0).
    shifts : list of arrays of shape (D,)
        Origin of every group: the mean of its frames (summed in float64 chunk by chunk), in
        the dtype of ``X``.
    """
    cs, piece = int(chunk_size), _PIECE * int(chunk_size)
    D = X.shape[1]
    dtype, f64 = X.dtype, xp.float64
    fast = _is_numpy(xp)
    nch = [max(1, -(-int(g.size) // cs)) for g in groups]
    out = xp.empty((sum(nch), 2 * D + 1, cs), dtype=dtype)
    shifts = []
    c = 0
    for g, k in zip(groups, nch):
        n = int(g.size)
        start = int(g[0])
        run = bool(g[-1] - start == n - 1 and np.all(np.diff(g) == 1))  # a slice of X
        xg = None if run else xp.asarray(g)
        r = n - (k - 1) * cs  # frames in the last chunk
        if r < cs:
            out[c + k - 1, D:2 * D, r:] = 0.0
        sums = []
        for a in range(0, n, piece):
            b = min(a + piece, n)
            v = X[start + a:start + b, ...] if run else xp.take(X, xg[a:b], axis=0)
            j = c + a // cs
            # the piece's whole chunks in one (f, cs, D) -> (f, D, cs) transposition, in cache
            # (numpy releases the GIL for it, not for a single chunk's: two engine threads then
            # build their designs side by side), then the last, partly filled chunk
            f = (b - a) // cs
            if f:
                out[j:j + f, D:2 * D, :] = xp.permute_dims(
                    xp.reshape(v[:f * cs, ...], (f, cs, D)), (0, 2, 1))
            if f * cs < b - a:
                out[j + f, D:2 * D, :b - a - f * cs] = xp.permute_dims(v[f * cs:, ...], (1, 0))
            # per-chunk sums of the piece while it is in cache (pairwise along the frames)
            sums.append(xp.sum(out[j:c + -(-b // cs), D:2 * D, :], axis=2, dtype=f64))
        total = xp.sum(sums[0] if len(sums) == 1 else xp.concat(sums, axis=0), axis=0)
        shift = xp.astype(total / n, dtype)
        shifts.append(shift)
        # centre, square and the constant row, a piece of chunks at a time (in cache)
        for a in range(c, c + k, _PIECE):
            b = min(a + _PIECE, c + k)
            x = out[a:b, D:2 * D, :]
            if fast:  # the same values as the generic lines, without temporaries
                np.subtract(x, shift[:, None], out=x)
                np.multiply(x, x, out=out[a:b, :D, :])
            else:
                out[a:b, D:2 * D, :] = x - shift[None, :, None]
                x = out[a:b, D:2 * D, :]
                out[a:b, :D, :] = x * x
            out[a:b, 2 * D, :] = 1.0
        if r < cs:  # padding frames: every row 0
            out[c + k - 1, :, r:] = 0.0
        c += k
    return out, shifts


def exp_floor(dtype, *, xp):
    """Lower bound put on ``log r - max log r`` before the exponential of the E-step.

    Far components give a frame responsibilities below the smallest normal number: subnormal
    values make the exponential and the statistics product 10-60x slower (measured in float32;
    a few percent of subnormal values suffice). Raising them to ``exp(0.8 * log(tiny))``
    (4.6e-31 in float32, 2.6e-246 in float64) keeps every product normal and changes no sum
    beyond that relative amount.
    """
    return 0.8 * math.log(float(xp.finfo(dtype).smallest_normal))


def _floor_row(floor, a):
    """``floor`` as an array of ``a``'s dtype broadcasting along ``a``'s last axis.

    numpy's ``maximum`` of an array and a scalar runs 2.5x slower than against a broadcast row
    of the same value (numpy 2.4, float32 blocks of 5 x 22 528 values: 42 against 16 us); the
    values are the same. The rows are kept (read-only) per value, dtype and length: a few
    kilobytes.
    """
    key = (float(floor), a.dtype.str, int(a.shape[-1]))
    row = _FLOOR_ROWS.get(key)
    if row is None:
        row = np.full(key[2], floor, dtype=a.dtype)
        row.flags.writeable = False
        _FLOOR_ROWS[key] = row
    return row


_FLOOR_ROWS = {}


def frame_chunks(X, *, chunk_size, xp):
    """Frames transposed into feature-major chunks, as they are (no centring).

    Parameters
    ----------
    X : array of shape (n, D)
    chunk_size : int
        Frames per chunk ``cs``.
    xp : namespace

    Returns
    -------
    frames : array of shape (max(1, ceil(n / cs)), D, cs)
        The frames in order, then zeros.
    mask : array of shape (max(1, ceil(n / cs)), cs)
        1 for a frame, 0 for a padding frame.
    """
    cs = int(chunk_size)
    n, D = int(X.shape[0]), X.shape[1]
    k, full = max(1, -(-n // cs)), n // cs
    out = xp.empty((k, D, cs), dtype=X.dtype)
    mask = np.ones((k, cs))
    for a in range(0, full, _PIECE):
        b = min(a + _PIECE, full)
        out[a:b, ...] = xp.permute_dims(xp.reshape(X[a * cs:b * cs, ...], (b - a, cs, D)),
                                        (0, 2, 1))
    if full < k:  # the last, partly filled chunk
        r = n - full * cs
        out[full, :, r:] = 0.0
        mask[full, r:] = 0.0
        if r:
            out[full, :, :r] = xp.permute_dims(X[full * cs:, ...], (1, 0))
    return out, xp.asarray(mask, dtype=X.dtype)


def diag_estep_frames(frames, mask, W, owner, *, xp, stats=True, budget=None, padded=None):
    """Diagonal E-step of many GMMs (equal component count) on their own chunks of frames.

    Chunk ``j`` belongs to GMM ``owner[j]`` and is scored only against it. Blocks of chunks are
    written as the design ``[x*x ; x ; 1]`` into a buffer, then scored
    (``W @ Z``) and turned into statistics (``R @ Z^T``) while in cache. The work of a chunk
    depends on nothing else, so a GMM's numbers are the same whatever GMMs share the call, and
    the blocks run on the engine threads (:func:`._threads._map_gmms`: contiguous parts, one
    buffer each, joined in order; the same numbers as one pass). One EM iteration of a GMM of 5
    components on 360 000 frames: 0.012 s (float32) on two threads against 0.027 s in one pass
    with two BLAS threads, whose skinny products lose to a single BLAS thread (0.020 s).

    Parameters
    ----------
    frames : array of shape (n_chunks, D, cs)
        Feature-major chunks of frames (:func:`frame_chunks`).
    mask : array of shape (n_chunks, cs)
        1 for a frame, 0 for a padding frame.
    W : array of shape (G, M, 2D+1)
        Scoring matrices (:func:`._kernels.scoring_params`) of the GMMs.
    owner : xp int array of shape (n_chunks,)
        GMM of every chunk.
    xp : namespace
    stats : bool, default=True
        Whether to compute the statistics.
    budget : int, optional
        Values of the block buffer (default :data:`ESTEP_BUDGET`); at least one chunk.
    padded : host bool array of shape (n_chunks,), optional
        Chunks that hold padding frames (default: any may). Blocks without them skip writing
        and applying the mask (multiplying by 1 changes nothing).

    Returns
    -------
    loglik : float64 array of shape (n_chunks,)
        Log-likelihood of every chunk's frames (padding frames count 0).
    st : float64 array of shape (n_chunks, M, 2D+1) or None
        ``sum_n r_nk [x_n**2, x_n, 1]`` per chunk (centred frames): second order, first order
        statistics and soft counts.
    """
    n_chunks, D, cs = frames.shape
    K = 2 * D + 1
    B = _block_chunks(budget, K, W.shape[1], cs, n_chunks)
    lls, sts = _blocks_in_parts(
        list(range(0, n_chunks, B)), B * cs,
        lambda starts: _frames_blocks(frames, mask, W, owner, starts, B, xp=xp, stats=stats,
                                      padded=padded), xp=xp)
    return _joined(lls, sts, stats, xp=xp)


def _blocks_in_parts(starts, block_frames, run, *, xp):
    """``run`` on contiguous parts of the E-step blocks at ``starts``, on the engine threads.

    Every part has its own buffers and computes every block as a single pass would; the parts
    are joined in order, so the result does not depend on the threads. Inside a worker of an
    outer call (a work unit of a batched fit, already on a thread) there is one part, called
    directly. Otherwise one part per engine thread, and parts of at most
    :data:`._threads._MAX_THREADED_ITEM` frames (a 4-hour GMM): the blocks' buffers are bounded
    by the budgets, so parts that large need no guard against their memory.

    Parameters
    ----------
    starts : list of int
        First chunk of every block.
    block_frames : int
        Frames of a block (for the threads' balance).
    run : callable
        ``run(starts_of_a_part) -> (lls, sts)``, lists of per-block arrays.

    Returns
    -------
    lls, sts : lists
        The parts' lists joined in order.
    """
    if getattr(_WORKER, "active", False):
        parts = 1
    else:
        parts = min(len(starts), max(_engine_threads(),
                                     -(-len(starts) * block_frames // _MAX_THREADED_ITEM)))
    if parts <= 1:
        return run(starts)
    cuts = [len(starts) * p // parts for p in range(parts + 1)]
    sizes = [(cuts[p + 1] - cuts[p]) * block_frames for p in range(parts)]  # frames, about
    lls, sts = [], []
    for ll_p, st_p in _map_gmms(lambda p: run(starts[cuts[p]:cuts[p + 1]]), parts, xp, sizes):
        lls.extend(ll_p)
        sts.extend(st_p)
    return lls, sts


def _frames_blocks(frames, mask, W, owner, starts, B, *, xp, stats, padded):
    """Log-likelihoods (and statistics) of the blocks of ``B`` chunks at ``starts``, one buffer."""
    n_chunks, D, cs = frames.shape
    K = 2 * D + 1
    fast = _is_numpy(xp)
    floor = exp_floor(frames.dtype, xp=xp)
    buf = xp.empty((B, K, cs), dtype=frames.dtype)
    scratch = _scratch_for(W, B, K, cs, frames.dtype, xp=xp, stats=stats)
    lls, sts = [], []
    dirty = True  # the buffer's constant row is not known to be all ones
    for a in starts:
        b = min(a + B, n_chunks)
        k = b - a
        x = frames[a:b, ...]
        buf[:k, D:2 * D, :] = x
        if fast:  # the same values as the generic line, without a temporary
            np.multiply(x, x, out=buf[:k, :D, :])
        else:
            buf[:k, :D, :] = x * x
        pad = padded is None or bool(np.any(padded[a:b]))
        if pad or dirty:  # the constant row: the mask, or ones left from the last block
            buf[:k, 2 * D, :] = mask[a:b, ...]
            dirty = pad
        Zb = buf if k == B else buf[:k, ...]
        _score_block(Zb, W, owner[a:b], lls, sts, xp=xp, floor=floor, pad=pad, stats=stats,
                     scratch=scratch)
    return lls, sts


def diag_estep_design(design, W, owner, *, xp, stats=True, budget=None, padded=None):
    """Diagonal E-step of many GMMs (equal component count) on the design of their frames.

    :func:`diag_estep_frames` on a design made once per fit (:func:`chunk_design`): blocks of
    its chunks are scored and turned into statistics where they lie, without being written
    again. Measured 25-35 % faster per E-step than writing them on every pass when the design
    of a work unit stays in the CPU caches between its passes (units of 30 000 - 120 000 frames,
    5-20 components); the same numbers, bit for bit.

    Parameters
    ----------
    design : array of shape (n_chunks, 2D+1, cs)
        Chunks of the design ``[x*x ; x ; 1]`` (padding frames all 0).
    W : array of shape (G, M, 2D+1)
        Scoring matrices (:func:`._kernels.scoring_params`) of the GMMs.
    owner : xp int array of shape (n_chunks,)
        GMM of every chunk.
    xp : namespace
    stats : bool, default=True
        Whether to compute the statistics.
    budget : int, optional
        Values of the design in one block (default :data:`ESTEP_BUDGET`); at least one chunk.
    padded : host bool array of shape (n_chunks,), optional
        Chunks that hold padding frames (default: any may). Blocks without them skip applying
        the mask (multiplying by 1 changes nothing).

    Returns
    -------
    loglik : float64 array of shape (n_chunks,)
        Log-likelihood of every chunk's frames (padding frames count 0).
    st : float64 array of shape (n_chunks, M, 2D+1) or None
        ``sum_n r_nk [x_n**2, x_n, 1]`` per chunk.
    """
    n_chunks, K, cs = design.shape
    B = _block_chunks(budget, K, W.shape[1], cs, n_chunks)
    floor = exp_floor(design.dtype, xp=xp)

    # As in :func:`diag_estep_frames`, the blocks run in parts on the engine threads: that
    # matters for a GMM trained alone (a UBM); a work unit of a batched fit is one part.
    def part(starts):
        scratch = _scratch_for(W, B, K, cs, design.dtype, xp=xp, stats=stats)
        lls, sts = [], []
        for a in starts:
            b = min(a + B, n_chunks)
            pad = padded is None or bool(padded[a:b].any())
            _score_block(design[a:b, ...], W, owner[a:b], lls, sts, xp=xp, floor=floor,
                         pad=pad, stats=stats, scratch=scratch)
        return lls, sts

    lls, sts = _blocks_in_parts(list(range(0, n_chunks, B)), B * cs, part, xp=xp)
    return _joined(lls, sts, stats, xp=xp)


def _score_block(Zb, W, owner, lls, sts, *, xp, floor, pad, stats, scratch=None):
    """Log-likelihoods (and statistics) of one block of design chunks, appended to the lists."""
    if _is_numpy(xp):
        return _score_block_numpy(Zb, W, owner, lls, sts, floor=floor, pad=pad, stats=stats,
                                  scratch=scratch)
    K = Zb.shape[1]
    Wb = W[0:1, ...] if W.shape[0] == 1 else xp.take(W, owner, axis=0)
    lp = xp.matmul(Wb, Zb)  # (k, M, cs)
    m = xp.max(lp, axis=1, keepdims=True)
    lp -= m
    e = xp.exp(xp.clip(lp, min=floor))
    tot = xp.sum(e, axis=1)  # (k, cs)
    ll = xp.log(tot) + m[:, 0, :]
    if pad:
        ll = ll * Zb[:, K - 1, :]  # padding frames: constant row 0
    lls.append(xp.sum(xp.astype(ll, xp.float64, copy=False), axis=1))
    if stats:
        e *= (1.0 / tot)[:, None, :]
        sts.append(xp.astype(xp.matmul(e, xp.permute_dims(Zb, (0, 2, 1))), xp.float64))


def _score_block_numpy(Zb, W, owner, lls, sts, *, floor, pad, stats, scratch):
    """:func:`_score_block` on numpy: the same values, in place, with numpy's own functions.

    The generic lines go through array-api-compat's wrappers and numpy's Python-level reduction
    functions, a few microseconds each under the GIL, which the other engine thread then waits
    for; here every step is one call of a ufunc (or of its ``reduce``).
    """
    K = Zb.shape[1]
    Wb = W[0:1, ...] if W.shape[0] == 1 else np.take(W, owner, axis=0)
    lp = np.matmul(Wb, Zb)  # (k, M, cs)
    m = np.maximum.reduce(lp, axis=1, keepdims=True)
    np.subtract(lp, m, out=lp)
    np.maximum(lp, _floor_row(floor, lp), out=lp)
    e = np.exp(lp, out=lp)
    tot = np.add.reduce(e, axis=1)  # (k, cs)
    ll = np.log(tot)
    np.add(ll, m[:, 0, :], out=ll)
    if pad:
        np.multiply(ll, Zb[:, K - 1, :], out=ll)  # padding frames: constant row 0
    lls.append(np.add.reduce(ll.astype(np.float64, copy=False), axis=1))
    if stats:
        inv = np.divide(1.0, tot)[:, None, :]
        if scratch is not None:
            # more components than design rows (:func:`_scratch_for`): dividing the
            # (k, 2D+1, cs) design costs less than dividing the (k, M, cs) exponentials (the
            # design is read again: a copy)
            Zb = np.multiply(Zb, inv, out=scratch[:Zb.shape[0], ...])
        else:
            np.multiply(e, inv, out=e)
        sts.append(np.matmul(e, Zb.transpose(0, 2, 1)).astype(np.float64))


def _scratch_for(W, B, K, cs, dtype, *, xp, stats):
    """Buffer for the divided design of :func:`_score_block_numpy`, or None where it is not used.

    Only on numpy (``out=``), with statistics, and for GMMs of more components than design rows
    ``2D+1``. One EM iteration of a GMM of 128 components on 360 000 float32 frames
    (``benchmarks/bench_gmm.py``, table 1): 0.108-0.122 s against 0.138 s before; the statistics
    agree to rounding (the same RTTMs on the evaluation sets checked).
    """
    if not (stats and _is_numpy(xp) and W.shape[1] > K):
        return None
    return np.empty((B, K, cs), dtype=dtype)


def _joined(lls, sts, stats, *, xp):
    ll = lls[0] if len(lls) == 1 else xp.concat(lls, axis=0)
    if not stats:
        return ll, None
    return ll, (sts[0] if len(sts) == 1 else xp.concat(sts, axis=0))
