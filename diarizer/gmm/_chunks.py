"""Diagonal E-step that builds its frame design chunk by chunk, in cache, on every pass.

The diagonal log-densities and statistics are products with the feature-major design
``[X*X ; X ; 1]`` of a chunk of frames (see :mod:`._kernels`). Materialising that design for
all the frames of a fit (``2D+1`` rows: 112 MB for an hour of 19-dimensional float64 frames) and
streaming it from memory on every E-step made the E-step memory-bound. Here the frames are
gathered once per fit, transposed into chunks (``D`` rows: half the size, and no second pass to
centre and square them), and every E-step writes the design of a few chunks at a time into one
small reused buffer (L2-sized), scores them and takes their statistics while they are in cache.

The design written into the buffer has the values and layout of :func:`._kernels.diag_design`
of the centred frames. On numpy the squares, the exponential and the floor run in place
(``out=``); other namespaces run the array-API lines, which give the same values (tested on
array-api-strict). Responsibilities are kept off the subnormal range (:func:`exp_floor`).
"""

import math

import numpy as np

__all__ = ["chunk_frames", "frame_chunks", "diag_estep_frames", "exp_floor", "ESTEP_BUDGET"]

_PIECE = 8
"""Chunks gathered and transposed at once by :func:`chunk_frames` (L2-sized pieces)."""

ESTEP_BUDGET = 1 << 20
"""Values of the design buffer of one block of chunks in :func:`diag_estep_frames` (8 MiB of
float64). 1 MiB kept the block in the L2 cache between its two products, but its many small numpy
calls hold the GIL, so two engine threads barely overlapped: 16 GMMs x 22 500 frames trained in
0.20-0.25 s (float64) against 0.11-0.13 s with 8 MiB blocks; the pipeline is unchanged. The
results do not depend on the block size."""


def _is_numpy(xp):
    return "numpy" in getattr(xp, "__name__", "")


def chunk_frames(X, groups, *, chunk_size, xp):
    """Gather frame groups into feature-major chunks, with the mean of every group.

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
    frames : array of shape (n_chunks, D, cs)
        Group ``i`` on ``ceil(n_i / cs)`` consecutive chunks: its frames minus its shift,
        transposed, in order, then zeros (padding frames).
    shifts : list of arrays of shape (D,)
        Origin of every group: the mean of its frames (summed in float64 chunk by chunk), in
        the dtype of ``X``.
    mask : array of shape (n_chunks, cs)
        1 for a frame, 0 for a padding frame (the constant row of the design).
    """
    cs, piece = int(chunk_size), _PIECE * int(chunk_size)
    D = X.shape[1]
    dtype, f64 = X.dtype, xp.float64
    nch = [max(1, -(-int(g.size) // cs)) for g in groups]
    out = xp.empty((sum(nch), D, cs), dtype=dtype)
    mask = np.ones((sum(nch), cs))
    shifts = []
    c = 0
    for g, k in zip(groups, nch):
        n = int(g.size)
        start = int(g[0])
        run = bool(g[-1] - start == n - 1 and np.all(np.diff(g) == 1))  # a slice of X
        xg = None if run else xp.asarray(g)
        r = n - (k - 1) * cs  # frames in the last chunk
        if r < cs:
            out[c + k - 1, :, r:] = 0.0
            mask[c + k - 1, r:] = 0.0
        sums = []
        for a in range(0, n, piece):
            b = min(a + piece, n)
            v = X[start + a:start + b, ...] if run else xp.take(X, xg[a:b], axis=0)
            j, full = c + a // cs, (b - a) // cs
            if full:
                out[j:j + full, ...] = xp.permute_dims(
                    xp.reshape(v[:full * cs, ...], (full, cs, D)), (0, 2, 1))
            if full * cs < b - a:
                out[j + full, :, :b - a - full * cs] = xp.permute_dims(v[full * cs:, ...], (1, 0))
            # per-chunk sums of the piece while it is in cache (pairwise along the frames)
            sums.append(xp.sum(out[j:c + -(-b // cs), ...], axis=2, dtype=f64))
        total = xp.sum(sums[0] if len(sums) == 1 else xp.concat(sums, axis=0), axis=0)
        shift = xp.astype(total / n, dtype)
        shifts.append(shift)
        out[c:c + k, ...] -= shift[None, :, None]  # centre in place
        if r < cs:
            out[c + k - 1, :, r:] = 0.0
        c += k
    return out, shifts, xp.asarray(mask, dtype=dtype)


def exp_floor(dtype, *, xp):
    """Lower bound put on ``log r - max log r`` before the exponential of the E-step.

    Far components give a frame responsibilities below the smallest normal number: subnormal
    values make the exponential and the statistics product 10-60x slower (measured in float32;
    a few percent of subnormal values suffice). Raising them to ``exp(0.8 * log(tiny))``
    (4.6e-31 in float32, 2.6e-246 in float64) keeps every product normal and changes no sum
    beyond that relative amount.
    """
    return 0.8 * math.log(float(xp.finfo(dtype).smallest_normal))


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
    written as the design ``[x*x ; x ; 1]`` into one buffer, then scored
    (``W @ Z``) and turned into statistics (``R @ Z^T``) while in cache. The work of a chunk
    depends on nothing else, so a GMM's numbers are the same whatever GMMs share the call.

    Parameters
    ----------
    frames : array of shape (n_chunks, D, cs)
        Feature-major chunks of (centred) frames (:func:`chunk_frames`).
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
    f64 = xp.float64
    B = max(1, int(budget or ESTEP_BUDGET) // (K * cs))
    B = min(B, n_chunks)
    fast = _is_numpy(xp)
    floor = exp_floor(frames.dtype, xp=xp)
    buf = xp.empty((B, K, cs), dtype=frames.dtype)
    lls, sts = [], []
    dirty = True  # the buffer's constant row is not known to be all ones
    for a in range(0, n_chunks, B):
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
        Wb = W[0:1, ...] if W.shape[0] == 1 else xp.take(W, owner[a:b], axis=0)
        lp = xp.matmul(Wb, Zb)  # (b-a, M, cs)
        m = xp.max(lp, axis=1, keepdims=True)
        lp -= m
        if fast:  # the same values as the generic line, without temporaries
            np.maximum(lp, floor, out=lp)
            e = np.exp(lp, out=lp)
        else:
            e = xp.exp(xp.clip(lp, min=floor))
        tot = xp.sum(e, axis=1)  # (b-a, cs)
        ll = xp.log(tot) + m[:, 0, :]
        if pad:
            ll = ll * Zb[:, 2 * D, :]  # padding frames: constant row 0
        lls.append(xp.sum(xp.astype(ll, f64, copy=False), axis=1))
        if stats:
            e *= (1.0 / tot)[:, None, :]
            sts.append(xp.astype(xp.matmul(e, xp.permute_dims(Zb, (0, 2, 1))), f64))
    ll = lls[0] if len(lls) == 1 else xp.concat(lls, axis=0)
    if not stats:
        return ll, None
    return ll, (sts[0] if len(sts) == 1 else xp.concat(sts, axis=0))
