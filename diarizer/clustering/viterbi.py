"""Viterbi resegmentation with a minimum duration, as the ICSI RT-09 system does it.

An ergodic HMM with one state per cluster; the emission of state k at frame t is the cluster GMM's
log-likelihood ``ll[t, k]``; a segment must last at least ``min_duration`` frames (a left-to-right
chain of ``min_duration`` sub-states sharing the emission, then a self-loop). The chain is never
built: with cumulative sums of the emissions the best path is found by a segmental recursion in
``O(n_frames * n_clusters)``::

    V[t, k] = max( V[t-1, k] + ll[t, k],                                   stay in k
                   E[s, k] + sum(ll[s:t+1, k]) )    with s = t - min_duration + 1   enter k at s
    E[s, k] = max over j != k of V[s-1, j] - switch_penalty   (0 at the start of a run)

Speech runs (stretches of speech between pauses on the full timeline) are decoded independently:
a pause is a natural place for the speaker to change, so the minimum duration applies inside a
run; a run shorter than ``min_duration`` gets one label (its best cluster overall)::

    full timeline  s s s s s s s . . . s s s s . . s s s
    runs           [---- run 0 ---]     [run 1 ]   [r2 ]

Two decoders compute the same labels bit for bit (the same floating-point operations in the
same order): a numpy one that steps through all runs at once, offset by offset (used when no run
is longer than :data:`NUMPY_MAX_RUN` frames, as with speech detection, until the process has
spent about 2 s in it, :data:`NUMPY_BUDGET`), and the per-run loop compiled by numba otherwise.
numba is imported only then: importing it and loading even a cached function costs about 0.8 s
of CPU per process, more than the numpy decoder needs for a whole 1-hour meeting. Which decoder
runs never changes the labels.
"""

import numpy as np

__all__ = ["viterbi_min_duration"]


def _decode_run(ll, out, a, b, dmin, penalty):  # pragma: no cover - compiled by numba
    k_n = ll.shape[1]
    n = b - a
    neg = -1e300
    if n < dmin or k_n == 1:
        best, best_k = neg, 0
        for k in range(k_n):
            s = 0.0
            for t in range(a, b):
                s += ll[t, k]
            if s > best:
                best, best_k = s, k
        for t in range(a, b):
            out[t] = best_k
        return
    cum = np.zeros((n + 1, k_n))
    for t in range(n):
        for k in range(k_n):
            cum[t + 1, k] = cum[t, k] + ll[a + t, k]
    v = np.full((n, k_n), neg)
    bp = np.full((n, k_n), -1, dtype=np.int64)  # -1 stay, -2 run start, j >= 0 entered from j
    for t in range(dmin - 1, n):
        s = t - dmin + 1
        # best and second best predecessor at s - 1
        b1, b1k, b2 = neg, -1, neg
        if s > 0:
            for j in range(k_n):
                x = v[s - 1, j]
                if x > b1:
                    b2 = b1
                    b1, b1k = x, j
                elif x > b2:
                    b2 = x
        for k in range(k_n):
            if s == 0:
                enter, src = 0.0, -2
            elif b1k != k:
                enter, src = b1 - penalty, b1k
            else:
                enter, src = b2 - penalty, -3
            best = neg
            arg = -1
            if t > dmin - 1 and v[t - 1, k] > neg:
                best = v[t - 1, k] + ll[a + t, k]
            if enter > neg / 2:
                cand = enter + cum[t + 1, k] - cum[s, k]
                if cand > best:
                    best = cand
                    arg = src
            v[t, k] = best
            bp[t, k] = arg
            if arg == -3:  # entered from the second best: find it again
                bj, bx = -1, neg
                for j in range(k_n):
                    if j != k and v[s - 1, j] > bx:
                        bx, bj = v[s - 1, j], j
                bp[t, k] = bj
    k = 0
    for j in range(k_n):
        if v[n - 1, j] > v[n - 1, k]:
            k = j
    t = n - 1
    while t >= 0:
        src = bp[t, k]
        if src == -1:
            out[a + t] = k
            t -= 1
        else:
            s = t - dmin + 1
            for i in range(s, t + 1):
                out[a + i] = k
            t = s - 1
            k = src if src >= 0 else k


def _decode_runs(ll, starts, ends, dmin, penalty):  # pragma: no cover - compiled by numba
    out = np.zeros(ll.shape[0], dtype=np.int64)
    for r in range(starts.shape[0]):
        _decode_run(ll, out, starts[r], ends[r], dmin, penalty)
    return out


_NUMBA = []


def _compiled():
    """The numba-compiled :func:`_decode_runs` (compiled or loaded from numba's cache on first use).

    numba costs about 0.8 s of CPU per process to import and to load even a cached function, so
    it is used only for long runs (see :func:`viterbi_min_duration`); without numba the same
    Python code runs, slower.
    """
    if not _NUMBA:
        try:  # numba comes with librosa
            import numba
        except ImportError:  # pragma: no cover
            _NUMBA.append(_decode_runs)
        else:
            # _decode_runs calls the module global _decode_run: compile that one first
            globals()["_decode_run"] = numba.njit(cache=True)(_decode_run)
            _NUMBA.append(numba.njit(cache=True)(_decode_runs))
    return _NUMBA[0]


# Above this many frames in the longest run, the numba decoder is used (the numpy decoder loops
# in Python over the frame offsets of the longest run, some 50 us per offset).
NUMPY_MAX_RUN = 4096
# Once the numpy decoder has looped over this many offsets in the process (about 2 s), numba is
# loaded and used from then on: runs of a few thousand frames decoded tens of times (a long
# meeting without speech detection, many meetings in one batch process) cost less that way.
NUMPY_BUDGET = 40_000
_NUMPY_OFFSETS = [0]
# The numpy decoder keeps about 30 bytes per frame and cluster: runs are decoded in groups of at
# most this many frames (runs are independent, so the grouping does not change the labels).
NUMPY_GROUP_FRAMES = 400_000


def _decode_runs_numpy(ll, starts, ends, dmin, penalty):
    """:func:`_decode_runs` in numpy, runs in groups of about ``NUMPY_GROUP_FRAMES`` frames."""
    out = np.zeros(ll.shape[0], dtype=np.int64)
    lens = ends - starts
    if ll.shape[1] == 1 or lens.size == 0:
        return out
    # Finite emissions of bounded size: every cluster is reachable from offset dmin - 1 on, so
    # the reachability tests of _decode_run always pass and can be skipped (same labels).
    bound = float(np.max(np.abs(ll))) * float(lens.max()) + abs(penalty) if ll.size else 0.0
    fast = bool(np.isfinite(bound)) and bound < 1e290
    group = np.cumsum(lens) // NUMPY_GROUP_FRAMES
    with np.errstate(invalid="ignore", over="ignore"):  # -inf emissions: as _decode_run
        for g in np.unique(group):
            sel = group == g
            _decode_group(ll, starts[sel], lens[sel], dmin, penalty, out, fast)
    return out


def _decode_group(ll, starts, lens, dmin, penalty, out, fast=False):
    """Decode the runs ``[starts, starts + lens)`` all at once, frame offset by frame offset.

    The runs are sorted longest first, so the runs still going at offset ``t`` are a prefix,
    and their frames are packed offset-major (offset ``t`` of run ``r`` at ``off[t] + r``): each
    offset is a few vectorised operations on contiguous (runs, clusters) slices, doing exactly
    the floating-point operations of :func:`_decode_run` in the same order, so the labels are
    the same bit for bit. Entering at offset ``t`` depends on the path values at offset
    ``t - dmin`` only, so the entries of ``dmin`` consecutive offsets are computed together
    (one block); only the stays, ``V[t] = max(V[t-1] + ll[t], entry[t])``, go offset by offset.
    Instead of following the back pointers frame by frame, the traceback jumps from a frame to
    the last entry into its cluster (``last``): ``max run / dmin`` steps.
    ``fast``: the emissions are finite and small enough that no path value comes near ``-1e300``
    (the reachability tests are then skipped and ``last`` is filled once per block).
    """
    k_n = ll.shape[1]
    neg = -1e300
    order = np.argsort(-lens, kind="stable")
    a, L = starts[order], lens[order]
    max_len = int(L[0]) if L.size else 0
    if max_len <= 0:
        return
    m_at = np.searchsorted(-L, -np.arange(max_len), side="left")  # runs longer than t
    off = np.concatenate([[0], np.cumsum(m_at)])
    t_of = np.repeat(np.arange(max_len), m_at)  # packed position -> offset, run, frame
    r_of = np.arange(off[-1]) - off[t_of]
    llp = np.take(ll, a[r_of] + t_of, axis=0)
    n_long = int(np.count_nonzero(L >= dmin))
    cum = np.empty_like(llp)  # cum[off[t] + r]: sum of the run's first t + 1 frames, in order
    np.add(np.zeros((m_at[0], k_n)), llp[:m_at[0]], out=cum[:m_at[0]])
    for t in range(1, max_len):
        m = m_at[t]
        np.add(cum[off[t - 1]:off[t - 1] + m], llp[off[t]:off[t] + m], out=cum[off[t]:off[t] + m])
    # offsets before dmin - 1 stay unreachable, as in _decode_run (read only when not fast)
    v = np.empty_like(llp) if fast else np.full_like(llp, neg)
    last = np.empty(llp.shape, dtype=np.int32)  # offset of the last entry into the cluster
    b1k_at = np.zeros(off[-1], dtype=np.int32)  # best predecessor when entering at offset t
    b2k_at = np.zeros(off[-1], dtype=np.int32)  # best other than b1k (entering b1k itself)
    cols = np.arange(k_n)[None, :]
    if dmin - 1 < max_len:  # first entries, at the start of every long run: V = cum
        here = slice(off[dmin - 1], off[dmin - 1] + m_at[dmin - 1])
        zeros = np.zeros((m_at[dmin - 1], k_n))
        cand = zeros + cum[here] - zeros
        take = cand > neg
        v[here] = np.where(take, cand, neg)
        last[here] = np.where(take, dmin - 1, -1)
    first = dmin
    if fast:  # up to offset 2 dmin - 2 every predecessor is unreachable: only stays
        first = min(2 * dmin - 1, max_len)
        for t in range(dmin, first):
            m = m_at[t]
            here, before = slice(off[t], off[t] + m), slice(off[t - 1], off[t - 1] + m)
            np.add(v[before], llp[here], out=v[here])
            last[here] = last[before]
    stay = np.empty((m_at[0], k_n))
    for t0 in range(first, max_len, dmin):
        t1 = min(t0 + dmin, max_len)
        # entries of offsets t0 .. t1-1, from the path values at offsets t0-dmin .. t1-1-dmin
        lo = off[t0 - dmin]
        vp = v[lo:off[t1 - dmin]].copy()
        b1k = np.argmax(vp, axis=1)[:, None]
        b1 = np.take_along_axis(vp, b1k, axis=1)
        np.put_along_axis(vp, b1k, -np.inf, axis=1)
        b2k = np.argmax(vp, axis=1)[:, None]
        b2 = np.maximum(np.take_along_axis(vp, b2k, axis=1), neg)
        enter = np.where(cols == b1k, b2, b1)
        if penalty:
            enter = enter - penalty
        rows = slice(off[t0], off[t1])
        src = off[t_of[rows] - dmin] + r_of[rows]  # same run, offset t - dmin
        enter = enter[src - lo]
        b1k_at[rows] = b1k[src - lo, 0]
        b2k_at[rows] = b2k[src - lo, 0]
        cand = enter + cum[rows] - cum[src]
        base = off[t0]
        if fast:
            for t in range(t0, t1):
                m = m_at[t]
                here, before = slice(off[t], off[t] + m), slice(off[t - 1], off[t - 1] + m)
                st = np.add(v[before], llp[here], out=stay[:m])
                np.maximum(cand[off[t] - base:off[t] - base + m], st, out=v[here])
            # entries of the block, found again (the same sums), and the offset of the last
            # entry carried forward per run and cluster
            prev_rows = off[t_of[rows] - 1] + r_of[rows]
            took = cand > v[prev_rows] + llp[rows]
            mt = m_at[t0]
            fill = np.full((t1 - t0, mt, k_n), -1, dtype=np.int32)
            pos = (t_of[rows] - t0, r_of[rows])
            fill[pos] = np.where(took, t_of[rows][:, None], -1)
            np.maximum(fill[0], last[off[t0 - 1]:off[t0 - 1] + mt], out=fill[0])
            np.maximum.accumulate(fill, axis=0, out=fill)
            last[rows] = fill[pos]
            continue
        ok = enter > neg / 2
        for t in range(t0, t1):
            m = m_at[t]
            here, before = slice(off[t], off[t] + m), slice(off[t - 1], off[t - 1] + m)
            h = slice(off[t] - base, off[t] - base + m)
            vprev = v[before]
            st = np.where(vprev > neg, vprev + llp[here], neg)
            take = ok[h] & (cand[h] > st)
            v[here] = np.where(take, cand[h], st)
            last[here] = np.where(take, t, last[before])
    # runs shorter than dmin: one label, the cluster of highest total (first on ties)
    seg_start, seg_len, seg_lab = [], [], []
    if n_long < L.size:
        short = np.arange(n_long, L.size)
        seg_start.append(a[short])
        seg_len.append(L[short])
        seg_lab.append(np.argmax(cum[off[np.maximum(L[short] - 1, 0)] + short], axis=1))
    # traceback of the long runs, all at once; each step labels [entry - dmin + 1, t] with k
    run = np.arange(n_long)
    t = L[:n_long] - 1
    k = np.argmax(v[off[t] + run], axis=1)
    while run.size:
        e = last[off[t] + run, k].astype(np.int64)
        s = np.maximum(e - dmin + 1, 0)
        seg_start.append(a[run] + s)
        seg_len.append(t - s + 1)
        seg_lab.append(k)
        p = off[np.maximum(e, 0)] + run
        k = np.where(k == b1k_at[p], b2k_at[p], b1k_at[p])
        t = s - 1
        keep = t >= 0
        run, t, k = run[keep], t[keep], k[keep]
    starts_, lens_, labs = (np.concatenate(x) for x in (seg_start, seg_len, seg_lab))
    pos = (np.repeat(starts_ - np.concatenate([[0], np.cumsum(lens_)[:-1]]), lens_)
           + np.arange(lens_.sum()))
    out[pos] = np.repeat(labs, lens_)


def viterbi_min_duration(loglik, min_duration, runs=None, switch_penalty=0.0):
    """Best cluster sequence under a minimum segment duration.

    Parameters
    ----------
    loglik : ndarray of shape (n_frames, n_clusters)
        Frame log-likelihood under each cluster model (host array).
    min_duration : int
        Minimum segment length in frames inside a run (>= 1).
    runs : ndarray of shape (n_runs, 2), optional
        ``[start, end)`` frame ranges decoded independently, covering all frames (default: one
        run).
    switch_penalty : float, default=0.0
        Log-probability cost of changing cluster inside a run.

    Returns
    -------
    ndarray of shape (n_frames,)
        Cluster index per frame.

    Examples
    --------
    >>> ll = np.array([[0., -1.], [0., -1.], [-1., 0.], [0., -1.], [0., -1.], [0., -1.]])
    >>> viterbi_min_duration(ll, 2).tolist()
    [0, 0, 0, 0, 0, 0]
    >>> viterbi_min_duration(ll, 1).tolist()
    [0, 0, 1, 0, 0, 0]
    """
    ll = np.ascontiguousarray(loglik, dtype=np.float64)
    n = ll.shape[0]
    if runs is None:
        runs = np.array([[0, n]], dtype=np.int64)
    runs = np.ascontiguousarray(runs, dtype=np.int64)
    starts, ends = runs[:, 0].copy(), runs[:, 1].copy()
    dmin, penalty = int(max(min_duration, 1)), float(switch_penalty)
    longest = int((ends - starts).max()) if ends.size else 0
    if longest <= NUMPY_MAX_RUN and (_NUMPY_OFFSETS[0] <= NUMPY_BUDGET or not _numba_available()):
        _NUMPY_OFFSETS[0] += longest
        return _decode_runs_numpy(ll, starts, ends, dmin, penalty)
    return _compiled()(ll, starts, ends, dmin, penalty)


def _numba_available():
    import importlib.util

    return bool(_NUMBA) or importlib.util.find_spec("numba") is not None
