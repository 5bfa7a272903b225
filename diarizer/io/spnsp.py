"""Speech/non-speech ("spnsp") segment files: the speech regions to diarize.

One speech segment per line; times in seconds. Three layouts are accepted, per line:

* the original's: ``<name> <channel> <start> <end> [...]`` -- 4 or more whitespace-separated
  fields, fields 0-1 ignored, fields 2-3 the start and end (this is what
  :func:`write_spnsp` writes);
* two columns ``<start> <end>``;
* three columns ``<start> <end> <label>`` (VBx ``.lab`` style, e.g. ``0.00 1.23 sp``).

Blank lines and lines starting with ``#`` or ``;;`` are ignored.

Seconds become frames as the original did: ``st = floor(start / frame_period + 0.5)``,
``en = floor(end / frame_period + 0.5)``, and the segment covers frames ``st..en``
**inclusive** (``en - st + 1`` frames). Returned segments are half-open ``[st, en + 1)``::

    line "a 1 0.02 0.05" at frame_period 0.01  ->  st = 2, en = 5  ->  [2, 6)

    seconds  0.00 0.01 0.02 0.03 0.04 0.05 0.06
             |    |    |    |    |    |    |
    frames   | 0  | 1  | 2  | 3  | 4  | 5  | 6
                       [=================)        frames 2, 3, 4, 5 (the end frame included)

When the frame rate ``1 / frame_period`` is an integer (100 at 10 ms) the time is multiplied by
it, exactly as the original's ``100 * start``, so times that fall on half a frame round the same
way as in the original. The original's output mapping then put the labels of segment ``[st,
en]`` at positions ``st + 1 .. en`` (a one-frame shift plus a dropped frame); that is a bug and
is not replicated: a frame read from ``[st, en + 1)`` keeps its own time.

Returned segments are canonical: sorted, disjoint and separated by at least one non-speech
frame. Overlapping or out-of-order lines are sorted and merged with a warning; segments that
merely touch are merged silently (two lines ``0.00 1.00`` and ``1.00 2.00`` share frame 100
because of the inclusive end; the original counted that frame twice).
"""

import logging
import math
import os
import warnings

import numpy as np

from ..exceptions import InputError
from ..segments import seconds_to_frames
from ._atomic import atomic_open

__all__ = ["read_spnsp", "write_spnsp", "segments_to_mask", "mask_to_segments"]

log = logging.getLogger(__name__)

_MAX_FRAME = 2**62  # frame indices are int64


def _check_frame_period(frame_period):
    try:
        fp = float(frame_period)
    except (TypeError, ValueError):
        fp = float("nan")
    if not (math.isfinite(fp) and fp > 0):
        raise ValueError(f"frame_period must be a finite number of seconds > 0."
                         f" Got {frame_period!r} instead.")
    return fp


def _to_frame(seconds, frame_period):
    """``floor(seconds * rate + 0.5)``, multiplying by an integral rate as the original did."""
    return seconds_to_frames(seconds, frame_period)


def _parse_line(path, lineno, fields):
    if len(fields) >= 4:
        raw = fields[2:4]
    elif len(fields) >= 2:
        raw = fields[:2]
    else:
        raise InputError(path, f"line {lineno}: expected 'start end', 'start end label' or"
                               f" 'name channel start end', got {' '.join(fields)!r}")
    times = []
    for what, text in zip(("start", "end"), raw):
        try:
            value = float(text)
        except ValueError:
            raise InputError(path, f"line {lineno}: cannot parse {what} time {text!r} as"
                                   " seconds") from None
        if not math.isfinite(value):
            raise InputError(path, f"line {lineno}: {what} time {text!r} is not a finite"
                                   " number")
        if value < 0:
            raise InputError(path, f"line {lineno}: {what} time {text} is negative")
        times.append(value)
    start, end = times
    if end < start:
        raise InputError(path, f"line {lineno}: segment ends at {end} s, before it starts at"
                               f" {start} s")
    return start, end


def _read_text(path):
    try:
        with open(path, encoding="utf-8-sig") as fh:
            return fh.read()
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, not a speech/non-speech file") from None
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not a UTF-8 text file (byte {exc.start}: {exc.reason})"
                         ) from None
    except OSError as exc:
        raise InputError(path, f"cannot read file ({exc.strerror or exc})") from None


def read_spnsp(path, frame_period=0.01, n_frames=None):
    """Read speech segments and convert them to half-open frame ranges.

    Parameters
    ----------
    path : str or os.PathLike
        Segment file (see the module docstring for the layouts).
    frame_period : float, default=0.01
        Seconds per feature frame (``HTKFeatures.frame_period``).
    n_frames : int, optional
        Number of feature frames. When given, a segment starting at or after the end of the
        features, or ending more than one frame past it, is an error; one ending exactly one
        frame past (the inclusive-end rule at the last frame) is clipped silently.

    Returns
    -------
    segments : ndarray of shape (n_segments, 2), dtype int64
        ``[start, end)`` frame ranges, sorted, disjoint, non-adjacent. Shape (0, 2) when the
        file has no segments (the caller decides whether that is an error).

    Raises
    ------
    InputError
        The file is missing/unreadable, or a line (numbered in the message) cannot be parsed,
        has a negative or non-finite time, ends before it starts, or lies outside the features.
    ValueError
        ``frame_period`` is not > 0 or ``n_frames`` is negative.

    Warns
    -----
    UserWarning
        Segments overlap or are out of order (they are sorted and merged).

    See Also
    --------
    write_spnsp, segments_to_mask

    Examples
    --------
    >>> read_spnsp("meeting.spch")  # doctest: +SKIP
    array([[  0, 124],
           [150, 301]])
    """
    path = os.fspath(path)
    fp = _check_frame_period(frame_period)
    if n_frames is not None:
        n_frames = int(n_frames)
        if n_frames < 0:
            raise ValueError(f"n_frames must be >= 0. Got {n_frames} instead.")
    text = _read_text(path)
    rows = []  # (start, end, lineno) in half-open frames
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";;")):
            continue
        start_s, end_s = _parse_line(path, lineno, stripped.split())
        try:
            st = _to_frame(start_s, fp)
            en = _to_frame(end_s, fp) + 1  # inclusive end frame -> half-open end
        except OverflowError:
            st = en = _MAX_FRAME + 1
        if en > _MAX_FRAME:
            raise InputError(path, f"line {lineno}: time {end_s} s is too large")
        if n_frames is not None:
            duration = f"{n_frames * fp:.3f} s ({n_frames} frames of {fp:g} s)"
            if st >= n_frames:
                raise InputError(path, f"line {lineno}: segment starts at {start_s} s, at or"
                                       f" after the end of the features, which last {duration}")
            if en > n_frames + 1:
                raise InputError(path, f"line {lineno}: segment ends at {end_s} s, past the end"
                                       f" of the features, which last {duration}")
            en = min(en, n_frames)
        rows.append((st, en, lineno))
    if not rows:
        log.info("%s: no speech segments", path)
        return np.zeros((0, 2), dtype=np.int64)
    if any(a[:2] > b[:2] for a, b in zip(rows, rows[1:])):
        first = next(b for a, b in zip(rows, rows[1:]) if a[:2] > b[:2])
        warnings.warn(f"{path}: segments are not in time order (line {first[2]}); sorting them",
                      UserWarning, stacklevel=2)
    rows.sort()
    merged = [list(rows[0][:2])]
    overlap_line = None
    for st, en, lineno in rows[1:]:
        last = merged[-1]
        if st <= last[1]:
            # last[1] - 1 is the previous segment's inclusive end frame: sharing only that
            # frame is the normal "1.00 / 1.00" boundary, more is a real overlap.
            if st < last[1] - 1 and overlap_line is None:
                overlap_line = lineno
            last[1] = max(last[1], en)
        else:
            merged.append([st, en])
    if overlap_line is not None:
        warnings.warn(f"{path}: overlapping speech segments (line {overlap_line}); merging them",
                      UserWarning, stacklevel=2)
    out = np.array(merged, dtype=np.int64)
    log.debug("%s: %d speech segments, %d frames", path, len(out), int((out[:, 1] - out[:, 0])
                                                                        .sum()))
    return out


def _check_segments(segments, n_frames=None):
    seg = np.asarray(segments)
    if seg.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    if seg.ndim != 2 or seg.shape[1] != 2 or not np.issubdtype(seg.dtype, np.integer):
        raise ValueError("segments must be an integer array of shape (n_segments, 2)."
                         f" Got shape {seg.shape} and dtype {seg.dtype} instead.")
    seg = seg.astype(np.int64)
    bad = np.flatnonzero((seg[:, 1] <= seg[:, 0]) | (seg[:, 0] < 0))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"Each segment must satisfy 0 <= start < end. Segment {i} is"
                         f" [{seg[i, 0]}, {seg[i, 1]}).")
    if n_frames is not None and seg[:, 1].max() > n_frames:
        i = int(np.argmax(seg[:, 1]))
        raise ValueError(f"Segment {i} [{seg[i, 0]}, {seg[i, 1]}) ends after n_frames"
                         f" ({n_frames}).")
    return seg


def write_spnsp(path, segments, frame_period=0.01, basename=""):
    """Write frame segments in the original's ``<name> 1 <start> <end>`` layout, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Output file.
    segments : array_like of shape (n_segments, 2), int
        Half-open ``[start, end)`` frame ranges. Written sorted by (start, end).
    frame_period : float, default=0.01
        Seconds per frame.
    basename : str, default=''
        Written as field 0 (``<NA>`` when empty); must not contain whitespace.

    Raises
    ------
    ValueError
        Bad segments (``start < 0``, ``end <= start``), bad ``frame_period``, or whitespace in
        ``basename``.
    InputError
        The output cannot be written.

    See Also
    --------
    read_spnsp : Reads the file back to the same frame ranges (for canonical segments).

    Notes
    -----
    Each line holds the inclusive end frame's time, ``(end - 1) * frame_period``, so that the
    reader's inclusive-end rule gives back ``end``. Times are printed with 3 decimals (6 when
    ``frame_period <= 2 ms``), which keeps them well inside half a frame of the exact value.

    Examples
    --------
    >>> write_spnsp("a.spch", [[0, 124], [150, 301]], basename="IS1008a")  # doctest: +SKIP

    gives::

        IS1008a 1 0.000 1.230
        IS1008a 1 1.500 3.000
    """
    fp = _check_frame_period(frame_period)
    seg = _check_segments(segments)
    name = str(basename) or "<NA>"
    if len(name.split()) != 1 or name != name.strip():
        raise ValueError(f"basename must not contain whitespace. Got {basename!r} instead.")
    decimals = 3 if fp > 0.002 else 6
    order = np.lexsort((seg[:, 1], seg[:, 0]))
    lines = [f"{name} 1 {s * fp:.{decimals}f} {(e - 1) * fp:.{decimals}f}\n"
             for s, e in seg[order].tolist()]
    with atomic_open(path, "w") as fh:
        fh.writelines(lines)


def segments_to_mask(segments, n_frames):
    """Paint half-open frame segments onto a boolean per-frame mask.

    Parameters
    ----------
    segments : array_like of shape (n_segments, 2), int
        ``[start, end)`` ranges with ``0 <= start < end <= n_frames``; may overlap.
    n_frames : int
        Length of the mask.

    Returns
    -------
    mask : ndarray of shape (n_frames,), dtype bool
        True on frames inside any segment.

    Raises
    ------
    ValueError
        Malformed segments or a segment ending after ``n_frames``.

    See Also
    --------
    mask_to_segments : The inverse (for canonical segments).

    Examples
    --------
    >>> segments_to_mask([[1, 3], [4, 5]], 6)
    array([False,  True,  True, False,  True, False])
    """
    n_frames = int(n_frames)
    if n_frames < 0:
        raise ValueError(f"n_frames must be >= 0. Got {n_frames} instead.")
    seg = _check_segments(segments, n_frames)
    delta = np.zeros(n_frames + 1, dtype=np.int64)
    np.add.at(delta, seg[:, 0], 1)
    np.add.at(delta, seg[:, 1], -1)
    return np.cumsum(delta[:-1]) > 0


def mask_to_segments(mask):
    """Find the runs of True in a per-frame mask, as half-open frame segments.

    Parameters
    ----------
    mask : array_like of shape (n_frames,), bool
        Per-frame speech flags.

    Returns
    -------
    segments : ndarray of shape (n_segments, 2), dtype int64
        ``[start, end)`` of each run of True, in order.

    Raises
    ------
    ValueError
        ``mask`` is not one-dimensional.

    See Also
    --------
    segments_to_mask : The inverse.

    Examples
    --------
    >>> mask_to_segments([False, True, True, False, True, False])
    array([[1, 3],
           [4, 5]])
    """
    m = np.asarray(mask)
    if m.ndim != 1:
        raise ValueError(f"mask must be one-dimensional. Got shape {m.shape} instead.")
    padded = np.concatenate([[0], m.astype(bool).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(padded))
    return edges.reshape(-1, 2).astype(np.int64)
