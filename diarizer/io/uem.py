"""NIST UEM files: the regions of each recording that are evaluated.

One region per line, whitespace-separated (extra fields are ignored)::

    <uri> <channel> <start s> <end s>
    ES2005a 1 0.000 306.608

The channel (``1``, ``NA``, ...) is ignored. Lines starting with ``;`` or ``#`` and blank lines
are skipped. Regions of one uri are sorted and merged where they overlap or touch::

    file      |---a---|   |--b--|
                   |---c---|          ->   |-------merged------|
"""

import math
import os

from ..exceptions import InputError
from ._atomic import atomic_open
from ._text import parse_time as _parse_time
from ._text import read_lines

__all__ = ["read_uem", "format_uem", "write_uem", "merge_regions"]


def merge_regions(regions):
    """Sort regions and merge those that overlap or touch; drop empty ones.

    Parameters
    ----------
    regions : iterable of (float, float)
        ``(start, end)`` pairs in seconds, ``end >= start``.

    Returns
    -------
    merged : list of (float, float)
        Disjoint, sorted, non-empty regions covering the same time.

    Examples
    --------
    >>> merge_regions([(5.0, 6.0), (0.0, 2.0), (1.0, 3.0), (3.0, 4.0), (7.0, 7.0)])
    [(0.0, 4.0), (5.0, 6.0)]
    """
    merged = []
    for start, end in sorted((float(s), float(e)) for s, e in regions if e > s):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def read_uem(path):
    """Read a UEM file.

    Parameters
    ----------
    path : str or os.PathLike
        UEM file, UTF-8.

    Returns
    -------
    regions : dict of str to list of (float, float)
        For each uri, its evaluated regions in seconds, sorted and merged
        (see :func:`merge_regions`). Zero-length regions are dropped.

    Raises
    ------
    InputError
        The file cannot be read, or a line has fewer than 4 fields, a non-numeric or non-finite
        time, or an end before its start (``"<path>: line N: <problem>"``).

    Examples
    --------
    >>> read_uem("all.uem")  # doctest: +SKIP
    {'ES2005a': [(0.0, 306.608)]}
    """
    lines = read_lines(path, "UEM")
    raw = {}
    for lineno, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields or fields[0].startswith((";", "#")):
            continue
        if len(fields) < 4:
            raise InputError(path, f"line {lineno}: a UEM line needs 4 fields "
                                   f"(uri channel start end), got {len(fields)}")
        start = _parse_time(fields[2], "start time", path, lineno)
        end = _parse_time(fields[3], "end time", path, lineno)
        if end < start:
            raise InputError(path, f"line {lineno}: end time {fields[3]} is before start time "
                                   f"{fields[2]}")
        raw.setdefault(fields[0], []).append((start, end))
    return {uri: merge_regions(regions) for uri, regions in raw.items()}


def format_uem(regions):
    """Format regions as UEM text, ``uri 1 start end`` with ``%.3f`` times.

    Parameters
    ----------
    regions : dict of str to iterable of (float, float)
        Evaluated regions per uri.

    Returns
    -------
    text : str
        Lines sorted by uri, then start.

    Raises
    ------
    ValueError
        A uri is empty or contains whitespace, a time is not finite, or an end is before its start.

    Examples
    --------
    >>> print(format_uem({"m1": [(0.0, 12.5)]}), end="")
    m1 1 0.000 12.500
    """
    lines = []
    for uri in sorted(regions):
        if not isinstance(uri, str) or not uri or any(c.isspace() for c in uri):
            raise ValueError(f"A UEM uri must be a non-empty string without whitespace. "
                             f"Got {uri!r} instead.")
        for start, end in sorted(regions[uri]):
            if not (math.isfinite(start) and math.isfinite(end)) or end < start:
                raise ValueError(f"A UEM region must have finite times with end >= start. "
                                 f"Got ({start!r}, {end!r}) for {uri}.")
            lines.append(f"{uri} 1 {start:.3f} {end:.3f}\n")
    return "".join(lines)


def write_uem(path, regions):
    """Write regions to a UEM file atomically (see :func:`format_uem`).

    Parameters
    ----------
    path : str or os.PathLike
        Output file.
    regions : dict of str to iterable of (float, float)
        Evaluated regions per uri.

    Raises
    ------
    ValueError
        A region cannot be written; nothing is written then.
    InputError
        The output cannot be created.
    """
    text = format_uem(regions)
    with atomic_open(os.fspath(path), "w") as fh:
        fh.write(text)
