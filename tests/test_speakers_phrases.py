"""Tests of diarizer.speakers.phrases (pause splitting as concat_meeting.py --phrases)."""

import numpy as np
import pytest

from diarizer.speakers.phrases import split_phrases, voiced_frames, voiced_runs

SR = 16000


def _bursts(spec, sr=SR):
    """Tone bursts: spec is [(seconds, voiced)], returns samples."""
    parts = []
    for sec, on in spec:
        n = int(round(sec * sr))
        t = np.arange(n) / sr
        parts.append(0.3 * np.sin(2 * np.pi * 200 * t) if on else 1e-4 * np.ones(n))
    return np.concatenate(parts)


def test_runs_bridge_short_gaps_and_drop_short_runs():
    #        0 0 1 1 0 1 1 0 0 0 0 1 1 1 0 0 0 1   (hop 0.1 s, pause 0.3 s, min run 0.2 s)
    mask = np.array([0, 0, 1, 1, 0, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1], dtype=bool)
    assert voiced_runs(mask, min_pause=0.3, min_run=0.2, hop=0.1) == [(2, 7), (11, 14)]
    assert voiced_runs(mask, min_pause=0.4, min_run=0.2, hop=0.1) == [(2, 7), (11, 18)]
    assert voiced_runs(mask, min_pause=0.5, min_run=0.1, hop=0.1) == [(2, 18)]
    assert voiced_runs(np.zeros(5, dtype=bool), min_pause=0.3, min_run=0.1) == []


def test_split_at_long_pauses_only():
    y = _bursts([(0.5, False), (1.0, True), (0.2, False), (0.8, True), (0.6, False),
                 (1.2, True), (0.5, False)])
    spans = split_phrases(y, SR)
    # the 0.2 s pause is bridged, the 0.6 s pause splits; 0.1 s padding either side
    assert len(spans) == 2
    assert spans[0] == (int(0.4 * SR), int(2.6 * SR))
    assert spans[1] == (int(3.0 * SR), int(4.4 * SR))


@pytest.mark.parametrize("y", [np.zeros(SR), np.zeros(50)])
def test_silence_has_no_phrases(y):
    assert split_phrases(y, SR) == []
    assert not voiced_frames(y, SR).any()
