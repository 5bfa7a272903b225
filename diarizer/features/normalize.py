"""Feature normalisation: mean/variance normalisation and feature warping (Gaussianisation).

Both sliding-window forms use the same window placement: the window of frame ``t`` holds
``W = min(window, n_frames)`` frames starting at ``clip(t - W // 2, 0, n_frames - W)``. It is
centred on ``t`` in the middle of the file and slides no further at the edges, so every frame is
normalised against exactly ``W`` frames::

    frames      0 1 2 3 4 5 6 7 8 9        (window = 4)
    t = 0      [0 1 2 3]                   held at the start
    t = 5            [3 4 5 6]             centred: starts at t - 2
    t = 9              [6 7 8 9]           held at the end

The original system's features were ``*.feat.gauss.htk``: MFCCs Gaussianised per dimension over a
sliding window (Pelecanos & Sridharan, "Feature warping for robust speaker verification", 2001),
which :func:`feature_warping` reproduces with a 3 s (300-frame) window by default.
"""

import numpy as np
import scipy.special

__all__ = ["cmvn", "feature_warping"]

_STD_FLOOR = 1e-10
_WARP_BLOCK = 256


def _check_features(X):
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_frames, n_features). Got shape {X.shape} instead.")
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float64)
    return X


def _check_window(window):
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"window must be an int >= 1 (frames). Got {window!r} instead.")
    return int(window)


def _window_starts(n, w):
    return np.clip(np.arange(n) - w // 2, 0, n - w)


def cmvn(X, window=None):
    """Cepstral mean and variance normalisation, over the whole file or a sliding window.

    Parameters
    ----------
    X : ndarray of shape (n_frames, n_features)
        Features.
    window : int, optional
        Window length in frames (see the module docstring for its placement). ``None`` normalises
        with the statistics of the whole file.

    Returns
    -------
    ndarray of shape (n_frames, n_features)
        ``(X - mean) / std`` per dimension, in the dtype of ``X`` (float64 for integer input). A
        dimension that is constant over a window has ``std`` below 1e-10 and gives 0 there.

    Raises
    ------
    ValueError
        ``X`` is not 2-D or ``window`` is not a positive int.

    Notes
    -----
    The sliding statistics come from cumulative sums in float64 of the mean-removed features, so the
    cost is O(n_frames * n_features) whatever the window.

    Examples
    --------
    >>> import numpy as np
    >>> cmvn(np.array([[1.0], [3.0]])).ravel().tolist()
    [-1.0, 1.0]
    """
    X = _check_features(X)
    if window is not None:
        window = _check_window(window)
    n = X.shape[0]
    if n == 0:
        return X.copy()
    X64 = X.astype(np.float64)
    if window is None or window >= n:
        mean = X64.mean(axis=0)
        std = X64.std(axis=0)
    else:
        Xc = X64 - X64.mean(axis=0)
        zero = np.zeros((1, X.shape[1]))
        c1 = np.concatenate([zero, np.cumsum(Xc, axis=0)])
        c2 = np.concatenate([zero, np.cumsum(Xc * Xc, axis=0)])
        s = _window_starts(n, window)
        mean_c = (c1[s + window] - c1[s]) / window
        var = np.maximum((c2[s + window] - c2[s]) / window - mean_c * mean_c, 0.0)
        mean = mean_c + X64.mean(axis=0)
        std = np.sqrt(var)
    ok = std > _STD_FLOOR
    out = np.where(ok, (X64 - mean) / np.where(ok, std, 1.0), 0.0)
    return out.astype(X.dtype, copy=False)


def feature_warping(X, window=300):
    """Gaussianise each feature dimension over a sliding window (feature warping).

    Each value is replaced by the standard normal quantile of its rank within its window:
    ``norm.ppf((r + 0.5) / W)`` where ``r`` is the 0-based rank of ``X[t, d]`` among the ``W``
    values ``X[s:s + W, d]`` of its window (ties share their mean rank). The output of each window
    is thus as close to N(0, 1) as ``W`` ranks allow, whatever the input distribution.

    Parameters
    ----------
    X : ndarray of shape (n_frames, n_features)
        Features.
    window : int, default=300
        Window length in frames (3 s at 10 ms); a file shorter than this is warped as one window.

    Returns
    -------
    ndarray of shape (n_frames, n_features)
        Warped features, in the dtype of ``X`` (float64 for integer input).

    Raises
    ------
    ValueError
        ``X`` is not 2-D or ``window`` is not a positive int.

    Notes
    -----
    Ranks are counted by comparing each frame with its whole window, in blocks of frames, which
    costs O(n_frames * n_features * window) comparisons: about 2e9 for one hour of 19-dimensional
    features with the default window, about 3 s on one core.

    Examples
    --------
    >>> import numpy as np
    >>> feature_warping(np.array([[5.0], [1.0], [3.0], [3.0]]), window=4).ravel().round(3).tolist()
    [1.15, -1.15, 0.0, 0.0]
    """
    X = _check_features(X)
    window = _check_window(window)
    n, d = X.shape
    if n == 0:
        return X.copy()
    w = min(window, n)
    Xt = np.ascontiguousarray(X.T)  # (d, n): each window is a contiguous run of w values
    windows = np.lib.stride_tricks.sliding_window_view(Xt, w, axis=1)  # (d, n - w + 1, w)
    starts = _window_starts(n, w)
    ranks = np.empty((d, n), dtype=np.float64)
    for b0 in range(0, n, _WARP_BLOCK):
        b1 = min(n, b0 + _WARP_BLOCK)
        s = starts[b0:b1]
        if s[-1] - s[0] == b1 - b0 - 1:  # consecutive windows (the middle of the file): a view
            win = windows[:, s[0]:s[-1] + 1]
        else:  # edge blocks, where the window is held still: gather
            win = windows[:, s]
        x = Xt[:, b0:b1, None]
        less = (win < x).sum(axis=2, dtype=np.int32)
        less_equal = (win <= x).sum(axis=2, dtype=np.int32)
        ranks[:, b0:b1] = 0.5 * (less + less_equal - 1)  # mean 0-based rank of ties
    out = scipy.special.ndtri((ranks.T + 0.5) / w)
    return out.astype(X.dtype, copy=False)
