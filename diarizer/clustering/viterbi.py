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


try:  # numba comes with librosa; the pure-Python fallback is the same code, slower
    import numba

    _decode_run = numba.njit(cache=True)(_decode_run)
    _decode_runs = numba.njit(cache=True)(_decode_runs)
except ImportError:  # pragma: no cover
    pass


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
    return _decode_runs(ll, runs[:, 0].copy(), runs[:, 1].copy(), int(max(min_duration, 1)),
                        float(switch_penalty))
