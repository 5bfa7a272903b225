"""The array-namespace seam: the only module that knows about cupy.

The namespace is chosen once (``get_xp('numpy')``, ``get_xp('cupy')``,
``get_xp('array_api_strict')``) and passed down as a keyword-only ``xp`` argument. Kernels use
only the array API standard, so the same code runs on numpy, cupy and array-api-strict (the
stand-in for a GPU namespace in CI).
"""

import sys

import numpy as np

__all__ = ["get_xp", "is_cupy", "to_numpy", "available_backends"]

_BACKENDS = ("numpy", "cupy", "array_api_strict")


def get_xp(backend="numpy"):
    """Return the array-API-compatible namespace for a backend name.

    Parameters
    ----------
    backend : {'numpy', 'cupy', 'array_api_strict'}, default='numpy'
        Name of the array library.

    Returns
    -------
    xp : module
        The array-api-compat wrapped namespace (``array_api_compat.numpy`` for numpy).

    Raises
    ------
    ImportError
        If the library is not installed (cupy is the optional ``gpu`` extra).
    ValueError
        If the name is not a known backend.
    """
    if not isinstance(backend, str):  # already a namespace
        return backend
    name = backend.replace("-", "_").lower()
    if name == "numpy":
        import array_api_compat.numpy as xp

        return xp
    if name == "cupy":
        try:
            import array_api_compat.cupy as xp  # noqa: F401  (imports cupy)
        except ImportError as exc:
            raise ImportError(
                "The 'cupy' backend needs cupy: install the 'gpu' extra "
                "(pip install 'diarizer[gpu]')."
            ) from exc
        return xp
    if name == "array_api_strict":
        import array_api_strict as xp

        return xp
    raise ValueError(f"The 'backend' setting must be one of {_BACKENDS}. Got {backend!r} instead.")


def is_cupy(x):
    """Return True if ``x`` is a cupy array, without importing cupy."""
    mod = sys.modules.get("cupy")
    return mod is not None and isinstance(x, mod.ndarray)


def to_numpy(x):
    """Copy an array of any supported namespace to a numpy array (no copy for numpy input)."""
    if isinstance(x, np.ndarray):
        return x
    if is_cupy(x):
        return x.get()
    mod = type(x).__module__
    if mod.startswith("array_api_strict"):
        # array-api-strict arrays support the buffer/DLPack protocols on the CPU device.
        return np.asarray(np.from_dlpack(x))
    return np.asarray(x)


def available_backends():
    """Names of the backends whose library imports on this machine."""
    out = []
    for name in _BACKENDS:
        try:
            get_xp(name)
        except ImportError:
            continue
        out.append(name)
    return out
