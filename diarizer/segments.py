"""Speaker turns in integer frames, and the conversion to and from seconds at the I/O edges.

Inside the package time is an integer frame index; seconds appear only when a file is read or
written. A frame period (seconds per frame, e.g. 0.01) converts between the two::

    frames   0   1   2   3   4   5   6
             |---|---|---|---|---|---|
    Turn(2, 5, 'spk00')  covers frames 2, 3, 4 = [0.02 s, 0.05 s) at 10 ms
"""

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Turn", "frames_to_seconds", "seconds_to_frames", "labels_to_turns", "turns_to_labels",
           "label_order", "join_adjacent"]


@dataclass(frozen=True, order=True)
class Turn:
    """One speaker turn: frames ``start`` (inclusive) to ``end`` (exclusive).

    Parameters
    ----------
    start : int
        First frame of the turn.
    end : int
        One past the last frame of the turn (``end > start``).
    label : str
        Speaker label.
    """

    start: int
    end: int
    label: str

    def __post_init__(self):
        if self.end <= self.start:
            raise ValueError(f"A turn must end after it starts. Got [{self.start}, {self.end}).")

    @property
    def duration(self):
        """Number of frames in the turn."""
        return self.end - self.start


def join_adjacent(turns):
    """Join consecutive turns of one label that touch (the first ends where the next starts).

    Parameters
    ----------
    turns : iterable of Turn
        In time order.

    Returns
    -------
    list of Turn

    Examples
    --------
    >>> turns = join_adjacent([Turn(0, 2, "a"), Turn(2, 5, "a"), Turn(6, 8, "a"), Turn(8, 9, "b")])
    >>> [(t.start, t.end, t.label) for t in turns]
    [(0, 5, 'a'), (6, 8, 'a'), (8, 9, 'b')]
    """
    out = []
    for t in turns:
        if out and out[-1].label == t.label and out[-1].end == t.start:
            out[-1] = Turn(out[-1].start, t.end, t.label)
        else:
            out.append(t)
    return out


def frames_to_seconds(frames, frame_period):
    """Convert a frame index (or array of indices) to seconds."""
    if np.ndim(frames):
        return np.asarray(frames, dtype=np.float64) * frame_period
    return frames * frame_period


def seconds_to_frames(seconds, frame_period):
    """Convert seconds to the nearest frame index: ``floor(seconds * rate + 0.5)``.

    When the frame rate ``1 / frame_period`` is an integer (100 at 10 ms) the time is multiplied by
    it, as the original's ``floor(100 * t + 0.5)`` did; dividing by 0.01 instead can round a
    half-frame time (0.235 s) to the other side.
    """
    rate = 1.0 / frame_period
    integral = abs(rate - round(rate)) <= 1e-9 * rate
    if np.ndim(seconds) == 0:  # exact Python arithmetic; OverflowError on inf
        x = float(seconds) * round(rate) if integral else float(seconds) / frame_period
        return math.floor(x + 0.5)
    secs = np.asarray(seconds, dtype=np.float64)
    x = secs * round(rate) if integral else secs / frame_period
    return np.floor(x + 0.5).astype(np.int64)


def labels_to_turns(labels, names=None, offset=0):
    """Turn a per-frame label array into runs.

    Parameters
    ----------
    labels : ndarray of shape (n_frames,)
        Integer label per frame; negative values mean "no speaker" and produce no turn.
    names : sequence of str or callable, optional
        Name of each label (``names[label]``). Defaults to ``str(label)``.
    offset : int, default=0
        Frame index of ``labels[0]``.

    Returns
    -------
    turns : list of Turn
        One turn per run of equal non-negative labels, in time order.
    """
    labels = np.asarray(labels)
    if labels.size == 0:
        return []
    change = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [labels.size]])
    turns = []
    for s, e in zip(starts.tolist(), ends.tolist()):
        lab = int(labels[s])
        if lab < 0:
            continue
        if names is None:
            name = str(lab)
        elif callable(names):
            name = names(lab)
        else:
            name = names[lab]
        turns.append(Turn(s + offset, e + offset, name))
    return turns


def turns_to_labels(turns, n_frames, label_index):
    """Paint turns onto a per-frame label array (-1 elsewhere); inverse of labels_to_turns."""
    out = np.full(n_frames, -1, dtype=np.int64)
    for t in turns:
        out[max(t.start, 0):min(t.end, n_frames)] = label_index[t.label]
    return out


def bridge_gaps(labels, max_gap, allowed=None):
    """Give short unlabelled gaps between two frames of the same label that label.

    A pause inside one speaker's turn is part of the turn in the usual annotation convention
    (AMI, NIST RT): the speech detector cannot tell it from a change of speaker, the cluster labels
    on both sides can.

    Parameters
    ----------
    labels : ndarray of shape (n_frames,)
        Integer label per frame, negative for "no speaker".
    max_gap : int
        Fill runs of negative labels shorter than this many frames (0 fills nothing).
    allowed : ndarray of bool of shape (n_frames,), optional
        Only fill a gap whose frames are all allowed (e.g. inside the UEM).

    Returns
    -------
    ndarray of shape (n_frames,)
        A copy of ``labels`` with the gaps filled.
    """
    labels = np.array(labels, copy=True)
    if max_gap <= 0 or labels.size < 3:
        return labels
    off = labels < 0
    edges = np.diff(off.astype(np.int8))
    starts = np.flatnonzero(edges == 1) + 1  # first frame of each gap after a labelled frame
    ends = np.flatnonzero(edges == -1) + 1  # first labelled frame after each gap
    if starts.size == 0 or ends.size == 0:
        return labels
    ends = ends[ends > starts[0]]
    starts = starts[: ends.size]
    for s, e in zip(starts.tolist(), ends.tolist()):
        if e - s < max_gap and labels[s - 1] == labels[e] and (
                allowed is None or bool(np.all(allowed[s:e]))):
            labels[s:e] = labels[e]
    return labels


def label_order(labels, n_labels):
    """Frame indices sorted by label, frames of a label in time order (a stable argsort).

    Labels in ``[-1, n_labels)`` are sorted as 16-bit integers when they fit: numpy then uses a
    radix sort, 1.5-7x faster than its merge sort of int64 (360 000 frames: 7.2 -> 4.6 ms for
    segment-long runs of labels, 34 -> 5 ms for labels in random order), with the same order.

    Parameters
    ----------
    labels : host int array of shape (n_frames,)
    n_labels : int
        Bound on the labels (values in ``[-1, n_labels)``).

    Returns
    -------
    ndarray of shape (n_frames,), int64
    """
    labels = np.asarray(labels)
    small = np.int16 if n_labels < np.iinfo(np.int16).max else np.int64
    return np.argsort(labels.astype(small, copy=False), kind="stable")
