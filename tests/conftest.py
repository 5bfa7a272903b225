"""Shared pytest fixtures: the array namespace ``xp`` and a seeded ``rng``."""

import numpy as np
import pytest

from diarizer._xp import get_xp


@pytest.fixture(params=["numpy", "array_api_strict", "cupy"])
def xp(request):
    """Array namespace: numpy, array-api-strict, and cupy when it imports (skipped otherwise)."""
    name = request.param
    pytest.importorskip(name)
    try:
        return get_xp(name)
    except ImportError as exc:  # pragma: no cover - depends on the machine
        pytest.skip(str(exc))


@pytest.fixture
def rng():
    """A freshly seeded numpy Generator (same numbers in every test)."""
    return np.random.default_rng(20240611)
