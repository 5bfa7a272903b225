"""NIST RTTM speaker turns: read, format, write.

Only ``SPEAKER`` lines are kept; the other record types md-eval knows (``SPKR-INFO``, ``LEXEME``,
...) and comment lines starting with ``;`` or ``#`` are skipped, as md-eval skips them for
diarization. A line of a type md-eval does not know is an error, as it is in md-eval.
An RTTM ``SPEAKER`` line has 9 or 10 whitespace-separated fields (more are ignored)::

    SPEAKER <uri> <channel> <start s> <duration s> <NA> <NA> <speaker> <NA> [<NA>]
       0      1       2          3          4        5    6      7       8     9

Times are seconds here and only here: :func:`turns_to_rttm` converts the integer-frame
:class:`~diarizer.segments.Turn` of the pipeline. ``<NA>`` stays the string ``"<NA>"`` (it is a
valid uri), never a NaN.
"""

import logging
import math
import os
from dataclasses import dataclass

from ..exceptions import InputError
from ._atomic import atomic_open
from ._text import parse_time as _parse_time
from ._text import read_lines

__all__ = ["RTTMTurn", "read_rttm", "format_rttm", "write_rttm", "turns_to_rttm"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RTTMTurn:
    """One ``SPEAKER`` record of an RTTM file, in seconds.

    Parameters
    ----------
    uri : str
        Recording (file) identifier, field 2 of the line.
    start : float
        Onset in seconds.
    duration : float
        Length in seconds (``>= 0``; zero-length turns only come from :func:`read_rttm` with
        ``keep_empty=True``).
    speaker : str
        Speaker label.
    channel : str, default='1'
        Channel field, kept verbatim.
    """

    uri: str
    start: float
    duration: float
    speaker: str
    channel: str = "1"

    @property
    def end(self):
        """Offset in seconds, ``start + duration``."""
        return self.start + self.duration


RTTM_TYPES = frozenset({"SEGMENT", "NOSCORE", "NO_RT_METADATA", "LEXEME", "NON-LEX", "NON-SPEECH",
                        "FILLER", "EDIT", "IP", "SU", "CB", "A/P", "SPEAKER", "SPKR-INFO"})
"""The record types md-eval-22 knows; a line of another type is an error there and here."""


def read_rttm(path, keep_empty=False):
    """Read the ``SPEAKER`` turns of an RTTM file.

    Parameters
    ----------
    path : str or os.PathLike
        RTTM file, UTF-8.
    keep_empty : bool, default=False
        Keep zero-duration turns. md-eval gives them no speaker time but still lets them stretch
        the default scoring region and place collars; :func:`diarizer.scoring.score_paths` reads
        with ``keep_empty=True`` to mirror that.

    Returns
    -------
    turns : list of RTTMTurn
        The turns in file order.

    Raises
    ------
    InputError
        The file cannot be read or is not UTF-8, a line has a record type md-eval does not know,
        or a ``SPEAKER`` line has fewer than 9 fields, a non-numeric or non-finite time, or a
        negative duration
        (``"<path>: line N: <problem>"``).

    Examples
    --------
    >>> turns = read_rttm("meeting.rttm")  # doctest: +SKIP
    >>> turns[0]  # doctest: +SKIP
    RTTMTurn(uri='meeting', start=0.5, duration=1.25, speaker='spk00', channel='1')
    """
    lines = read_lines(path, "RTTM")
    turns = []
    n_empty = 0
    for lineno, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields or fields[0].startswith((";", "#")):
            continue
        kind = fields[0].upper()
        if kind not in RTTM_TYPES:  # md-eval stops on these too
            raise InputError(path, f"line {lineno}: unknown RTTM record type {fields[0][:40]!r}"
                                   " (not an RTTM file?)")
        if kind != "SPEAKER":
            continue
        if len(fields) < 9:
            raise InputError(path, f"line {lineno}: a SPEAKER line needs at least 9 fields, "
                                   f"got {len(fields)}")
        start = _parse_time(fields[3], "start time", path, lineno)
        duration = _parse_time(fields[4], "duration", path, lineno)
        if duration < 0:
            raise InputError(path, f"line {lineno}: negative duration {fields[4]}")
        if duration == 0 and not keep_empty:
            n_empty += 1
            continue
        turns.append(RTTMTurn(fields[1], start, duration, fields[7], fields[2]))
    if n_empty:
        log.debug("%s: dropped %d zero-duration turns", path, n_empty)
    return turns


def _check_field(value, what):
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        raise ValueError(f"An RTTM {what} must be a non-empty string without whitespace. "
                         f"Got {value!r} instead.")


def format_rttm(turns):
    """Format turns as RTTM text, one 10-field ``SPEAKER`` line per turn.

    Lines are sorted by (uri, start, end, speaker) and times are written with ``%.3f``, so the
    same turns always give the same bytes.

    Parameters
    ----------
    turns : iterable of RTTMTurn
        Turns to write.

    Returns
    -------
    text : str
        The RTTM text, ``""`` for no turns, otherwise ending with a newline.

    Raises
    ------
    ValueError
        A uri, speaker or channel is empty or contains whitespace, or a duration is not
        positive at millisecond precision, or a time is not finite.

    Examples
    --------
    >>> print(format_rttm([RTTMTurn("m1", 0.5, 1.25, "spk00")]), end="")
    SPEAKER m1 1 0.500 1.250 <NA> <NA> spk00 <NA> <NA>
    """
    turns = sorted(turns, key=lambda t: (t.uri, t.start, t.end, t.speaker))
    lines = []
    for t in turns:
        _check_field(t.uri, "uri")
        _check_field(t.speaker, "speaker label")
        _check_field(t.channel, "channel")
        if not (math.isfinite(t.start) and math.isfinite(t.duration)):
            raise ValueError(f"RTTM times must be finite. Got start={t.start!r}, "
                             f"duration={t.duration!r} for {t.uri} {t.speaker}.")
        dur = f"{t.duration:.3f}"
        if float(dur) <= 0:
            raise ValueError(f"An RTTM turn must last at least 0.001 s. Got duration "
                             f"{t.duration!r} for {t.uri} {t.speaker} at {t.start:.3f} s.")
        lines.append(f"SPEAKER {t.uri} {t.channel} {t.start:.3f} {dur} "
                     f"<NA> <NA> {t.speaker} <NA> <NA>\n")
    return "".join(lines)


def write_rttm(path, turns):
    """Write turns to an RTTM file atomically (see :func:`format_rttm`).

    Parameters
    ----------
    path : str or os.PathLike
        Output file; replaced only once the whole text is written. No turns give an empty file.
    turns : iterable of RTTMTurn
        Turns to write.

    Raises
    ------
    ValueError
        A turn cannot be written (see :func:`format_rttm`); nothing is written then.
    InputError
        The output cannot be created.
    """
    text = format_rttm(turns)
    with atomic_open(os.fspath(path), "w") as fh:
        fh.write(text)


def turns_to_rttm(uri, turns, frame_period):
    """Convert frame-based turns of one recording to RTTM turns in seconds.

    Parameters
    ----------
    uri : str
        Recording identifier.
    turns : iterable of diarizer.segments.Turn
        Turns in integer frames, ``[start, end)``.
    frame_period : float
        Seconds per frame (e.g. 0.01).

    Returns
    -------
    rttm_turns : list of RTTMTurn
        ``start = turn.start * frame_period``, ``duration = turn.duration * frame_period``.

    Examples
    --------
    >>> from diarizer.segments import Turn
    >>> turns_to_rttm("m1", [Turn(2, 5, "spk00")], 0.01)
    [RTTMTurn(uri='m1', start=0.02, duration=0.03, speaker='spk00', channel='1')]
    """
    if not (frame_period > 0 and math.isfinite(frame_period)):
        raise ValueError(f"The frame period must be a finite number > 0. Got {frame_period!r} "
                         "instead.")
    return [RTTMTurn(uri, t.start * frame_period, (t.end - t.start) * frame_period, t.label)
            for t in turns]
