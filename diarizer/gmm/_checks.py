"""Input checks shared by the GMM engine's public entry points (validate once, at the boundary)."""

import numpy as np

from .._xp import to_numpy
from ..exceptions import InputError
from ..segments import label_order

__all__ = ["Frames", "prepare_frames"]


def _resolve_dtype(xp, dtype, default):
    if dtype is None:
        dtype = default
    if isinstance(dtype, str) or isinstance(dtype, type) or isinstance(dtype, np.dtype):
        name = np.dtype(dtype).name
        if name not in ("float32", "float64"):
            raise ValueError(f"The 'dtype' must be 'float32' or 'float64'. Got {dtype!r} instead.")
        return getattr(xp, name)
    return dtype


def _dtype_name(dtype):
    return "float32" if "32" in str(dtype) else "float64"


class Frames:
    """Frames checked once (shape, dtype, finite values), reusable by every GMM engine call.

    Made by :func:`prepare_frames`. Every entry point that takes ``X`` also takes a ``Frames``
    of the same backend and dtype and then skips the conversion and the check for NaN and
    infinite values (a pass over all frames per call). The frames must not be modified in
    place afterwards.

    Attributes
    ----------
    array : xp array of shape (n_frames, n_features)
        The checked frames, in ``dtype``.
    xp : namespace
    dtype : xp dtype
    """

    __slots__ = ("array", "xp", "dtype")

    def __init__(self, array, xp, dtype):
        self.array, self.xp, self.dtype = array, xp, dtype

    @property
    def shape(self):
        """``(n_frames, n_features)``."""
        return tuple(self.array.shape)

    def __repr__(self):
        return f"Frames(shape={self.shape}, dtype={_dtype_name(self.dtype)})"


def prepare_frames(X, *, xp="numpy", dtype=None):
    """Check and convert frames once, for many GMM engine calls on the same frames.

    Parameters
    ----------
    X : array of shape (n_frames, n_features)
        Frames (numpy or xp array).
    xp : namespace or str, default='numpy'
        Array namespace (or backend name) of the GMMs the frames are for.
    dtype : {'float32', 'float64'} or xp dtype, optional
        Dtype of those GMMs (default float64).

    Returns
    -------
    Frames

    Raises
    ------
    InputError
        ``X`` is not 2-D or holds NaN or infinite values.

    Examples
    --------
    >>> import numpy as np
    >>> prepare_frames(np.zeros((4, 2)), dtype="float32")
    Frames(shape=(4, 2), dtype=float32)
    """
    from .._xp import get_xp

    xp = get_xp(xp)
    dtype = _resolve_dtype(xp, dtype, "float64")
    return Frames(_check_frames(X, xp=xp, dtype=dtype, n_features=None), xp, dtype)


def _check_frames(X, *, xp, dtype, n_features):
    """Frames as an xp array of ``dtype``; raise InputError on wrong shape or non-finite values."""
    if isinstance(X, Frames):
        if X.xp is xp and X.dtype == dtype:
            if n_features is not None and X.array.shape[1] != n_features:
                raise InputError(None, f"X has {X.array.shape[1]} features per frame but the "
                                       f"GMMs have {n_features} (X shape {X.shape})")
            return X.array
        X = X.array if X.xp is xp else to_numpy(X.array)
    if isinstance(X, np.ndarray) or not hasattr(X, "__array_namespace__"):
        # C order once here: numpy's take copies a strided source (e.g. X[::10]) whole on
        # every call, and the engine gathers rows many times per call.
        X = xp.asarray(np.ascontiguousarray(X))
    if X.ndim != 2:
        raise InputError(None, f"X must have shape (n_frames, n_features); got {tuple(X.shape)}")
    if n_features is not None and X.shape[1] != n_features:
        raise InputError(None, f"X has {X.shape[1]} features per frame but the GMMs have "
                               f"{n_features} (X shape {tuple(X.shape)})")
    if X.dtype != dtype:
        X = xp.astype(X, dtype)
    # One sum (NaN and inf propagate) instead of a per-value check: 3x faster; a sum that
    # overflows on finite values is told apart by the exact check.
    if X.size and not bool(xp.isfinite(xp.sum(X))):
        finite = xp.all(xp.isfinite(X), axis=1)
        if not bool(xp.all(finite)):
            bad = np.flatnonzero(~to_numpy(finite))
            raise InputError(None, f"X contains NaN or infinite values in {bad.size} frame(s), "
                                   f"the first at frame {int(bad[0])}")
    return X


def _parse_groups(groups, n_frames, n_gmms):
    """Frame index arrays (host int64), one per GMM."""
    if isinstance(groups, (list, tuple)) and (len(groups) == 0 or np.ndim(groups[0]) == 1):
        if len(groups) != n_gmms:
            raise InputError(None, f"got {len(groups)} frame groups for {n_gmms} GMMs")
        out = []
        for g, ix in enumerate(groups):
            ix = np.asarray(to_numpy(ix) if hasattr(ix, "__array_namespace__") else ix)
            if ix.size and (not np.issubdtype(ix.dtype, np.integer) or ix.min() < 0
                            or ix.max() >= n_frames):
                raise InputError(None, f"frame group of GMM {g} has indices outside "
                                       f"[0, {n_frames})")
            out.append(ix.astype(np.int64).reshape(-1))
        return out
    lab = np.asarray(to_numpy(groups) if hasattr(groups, "__array_namespace__") else groups)
    if lab.shape != (n_frames,) or (lab.size and not np.issubdtype(lab.dtype, np.integer)):
        raise InputError(None, f"frame labels must be an int array of shape ({n_frames},); got "
                               f"{lab.dtype} {lab.shape}")
    if lab.size and (lab.min() < -1 or lab.max() >= n_gmms):
        raise InputError(None, f"frame labels must lie in [-1, {n_gmms}); got "
                               f"[{lab.min()}, {lab.max()}]")
    order = label_order(lab, n_gmms)
    bounds = np.searchsorted(lab[order], np.arange(-1, n_gmms + 1))
    return [order[bounds[g + 1]:bounds[g + 2]] for g in range(n_gmms)]


def _gather(X, idx, *, xp):
    if idx.size == X.shape[0] and idx.size and idx[0] == 0 and np.all(np.diff(idx) == 1):
        return X
    if idx.size and np.all(np.diff(idx) == 1):
        return X[int(idx[0]):int(idx[-1]) + 1, ...]
    return xp.take(X, xp.asarray(idx), axis=0)


def _check_group_size(g, n, M, minimum=1):
    if n == 0:
        raise InputError(None, f"GMM {g} has no frames to train on")
    if n < max(M, minimum):
        raise InputError(None, f"GMM {g} has {n} frames for {M} components; it needs at least "
                               f"{max(M, minimum)} frames")
