"""Atomic file output: write a temporary file in the destination folder, then ``os.replace``.

A reader (or a crash) never sees a half-written file at the final path: either the old file (or
none) is there, or the complete new one.
"""

import contextlib
import os
import tempfile

from ..exceptions import InputError

__all__ = ["atomic_write", "atomic_open", "check_writable"]


def check_writable(path):
    """Raise :class:`InputError` unless ``path`` can be created or replaced.

    Parameters
    ----------
    path : str or os.PathLike
        Output file path.

    Raises
    ------
    InputError
        The path is a directory, its folder does not exist, or the folder is not writable.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise InputError(path, "output path is a directory")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InputError(path, f"output directory {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(path, f"output directory {folder} is not writable")


@contextlib.contextmanager
def atomic_open(path, mode="w", encoding="utf-8"):
    """Open a temporary file next to ``path``; on success move it to ``path`` atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Final path.
    mode : {'w', 'wb'}, default='w'
        Text or binary.
    encoding : str, default='utf-8'
        Text encoding (text mode only).

    Yields
    ------
    file
        The open temporary file. If the block raises, the temporary file is removed and
        ``path`` is left untouched.
    """
    path = os.fspath(path)
    check_writable(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".",
                                   suffix=".tmp")
    except OSError as exc:
        raise InputError(path, f"cannot create output file ({exc.strerror})") from None
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": encoding})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write(path, data):
    """Write ``data`` (str or bytes) to ``path`` atomically."""
    with atomic_open(path, "wb" if isinstance(data, (bytes, bytearray)) else "w") as fh:
        fh.write(data)
