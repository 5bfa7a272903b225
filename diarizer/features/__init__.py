"""Features: MFCCs and frame log-energy, speech activity detection, normalisation."""

from .mfcc import log_energy, mfcc
from .normalize import cmvn, feature_warping
from .sad import energy_sad

__all__ = ["mfcc", "log_energy", "energy_sad", "cmvn", "feature_warping"]
