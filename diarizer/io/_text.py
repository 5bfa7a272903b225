"""Shared parsing helpers of the text formats (RTTM, UEM)."""

import math

from ..exceptions import InputError

__all__ = ["parse_time"]


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
