"""Shared parsing helpers of the text formats (RTTM, UEM)."""

import math

from ..exceptions import InputError

__all__ = ["parse_time", "read_lines"]


def parse_time(token, what, path, lineno):
    """Parse a finite number of seconds, or raise :class:`InputError` naming the line.

    Parameters
    ----------
    token : str
        The field.
    what : str
        Its name in the message (e.g. ``"onset"``).
    path : str
        The file.
    lineno : int
        1-based line number.

    Returns
    -------
    float
    """
    try:
        value = float(token)
    except ValueError:
        raise InputError(path, f"line {lineno}: {what} {token!r} is not a number") from None
    if not math.isfinite(value):
        raise InputError(path, f"line {lineno}: {what} {token!r} is not finite")
    return value


def read_lines(path, what):
    """The lines of a UTF-8 text file, or :class:`InputError` naming the file and the problem.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    what : str
        Its format in the message (e.g. ``"RTTM"``).

    Returns
    -------
    list of str
    """
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().splitlines()
    except OSError as exc:
        raise InputError(path, f"cannot read {what} file ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
