"""diarizer: fast ICSI-style speaker diarization with a batched GMM engine.

Given meeting audio (or HTK features) it answers "who spoke when" and writes NIST RTTM.
Optional extras (cupy, dask, matplotlib) are imported only by the functions that need them.
"""

import logging
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("diarizer")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

from .config import Settings, read_config  # noqa: E402
from .exceptions import (  # noqa: E402
    ConfigError,
    ConvergenceWarning,
    DiarizerError,
    InputError,
    NumericalError,
)
from .segments import Turn  # noqa: E402

__all__ = [
    "__version__",
    "Settings",
    "read_config",
    "Turn",
    "DiarizerError",
    "ConfigError",
    "InputError",
    "NumericalError",
    "ConvergenceWarning",
]
