"""Split an utterance into phrases at its pauses (the rule of ``concat_meeting.py --phrases``).

Energy per 10 ms frame (dBFS) decides what is voiced: a frame is voiced when it is louder than
``max(peak - 35 dB, floor + 10 dB)``, the floor being the 5th percentile of the frame energies
above -90 dBFS (digital silence does not count). Voiced runs are bridged over gaps shorter than
``min_pause`` and runs shorter than ``min_run`` are dropped; each phrase keeps ``pad`` seconds of
audio either side of its voiced span::

    voiced   0 0 1 1 0 1 1 0 0 0 0 1 1 1 0     (min_pause = 3 frames)
    runs         [---------)       [-----)
    phrases    [-------------)   [---------)     (pad of 1 frame)
"""

import numpy as np

__all__ = ["voiced_frames", "voiced_runs", "split_phrases"]

PHRASE_PAUSE = 0.3
MIN_RUN = 0.1
PAD = 0.1


def voiced_frames(y, sample_rate, *, hop=0.01):
    """Voiced flag per frame, relative to the recording's peak and noise floor.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Mono samples.
    sample_rate : int
        Hz.
    hop : float, default=0.01
        Frame length and hop in seconds.

    Returns
    -------
    ndarray of shape (n_samples // hop_samples,) of bool
    """
    step = int(round(hop * sample_rate))
    n = len(y) // step
    if n == 0:
        return np.zeros(0, dtype=bool)
    frames = np.asarray(y[: n * step], dtype=np.float64).reshape(n, step)
    e = 10.0 * np.log10(np.mean(frames ** 2, axis=1) + 1e-12)
    live = e[e > -90.0]
    if live.size == 0:
        return np.zeros(n, dtype=bool)
    return e > max(e.max() - 35.0, np.percentile(live, 5) + 10.0)


def voiced_runs(mask, *, min_pause, min_run, hop=0.01):
    """Runs of voiced frames as ``[start, end)`` frame pairs.

    Parameters
    ----------
    mask : ndarray of shape (n_frames,) of bool
    min_pause : float
        Gaps of at least this many seconds separate runs; shorter gaps are bridged.
    min_run : float
        Runs shorter than this many seconds are dropped.
    hop : float, default=0.01
        Seconds per frame.

    Returns
    -------
    list of (int, int)
    """
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return []
    gap = np.diff(idx) - 1
    cut = np.flatnonzero(gap * hop >= min_pause - 1e-9)
    starts = np.r_[idx[0], idx[cut + 1]]
    ends = np.r_[idx[cut], idx[-1]] + 1
    return [(int(s), int(e)) for s, e in zip(starts, ends)
            if (e - s) * hop >= min_run - 1e-9]


def split_phrases(y, sample_rate, *, min_pause=PHRASE_PAUSE, min_run=MIN_RUN, pad=PAD,
                  hop=0.01):
    """Cut an utterance into phrases at pauses.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Mono samples.
    sample_rate : int
        Hz.
    min_pause : float, default=0.3
        Pauses of at least this many seconds end a phrase.
    min_run : float, default=0.1
        Voiced runs shorter than this (seconds) are ignored.
    pad : float, default=0.1
        Seconds of audio kept either side of each phrase's voiced span.
    hop : float, default=0.01
        Analysis frame in seconds.

    Returns
    -------
    list of (int, int)
        ``[start, end)`` sample spans of the phrases (padded, clipped to the signal), in order.
    """
    step = int(round(hop * sample_rate))
    p = int(round(pad * sample_rate))
    mask = voiced_frames(y, sample_rate, hop=hop)
    out = []
    for s, e in voiced_runs(mask, min_pause=min_pause, min_run=min_run, hop=hop):
        out.append((max(0, s * step - p), min(len(y), e * step + p)))
    return out
