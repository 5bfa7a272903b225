"""File formats: HTK features, audio, speech/non-speech lists, UEM and RTTM."""

from .htk import HTKFeatures, read_htk, write_htk
from .rttm import RTTMTurn, format_rttm, read_rttm, turns_to_rttm, write_rttm
from .spnsp import mask_to_segments, read_spnsp, segments_to_mask, write_spnsp
from .uem import read_uem, write_uem

__all__ = [
    "HTKFeatures",
    "read_htk",
    "write_htk",
    "RTTMTurn",
    "read_rttm",
    "format_rttm",
    "write_rttm",
    "turns_to_rttm",
    "read_spnsp",
    "write_spnsp",
    "segments_to_mask",
    "mask_to_segments",
    "read_uem",
    "write_uem",
]
