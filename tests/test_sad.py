import logging

import numpy as np
import pytest

from diarizer.features.mfcc import log_energy
from diarizer.features.sad import energy_sad, energy_threshold, mask_to_runs, smooth_mask


def _m(s):
    return np.array([c == "#" for c in s], dtype=bool)


def _s(mask):
    return "".join("#" if v else "." for v in mask)


def test_mask_to_runs():
    starts, ends, values = mask_to_runs(_m("..###.#"))
    assert starts.tolist() == [0, 2, 5, 6]
    assert ends.tolist() == [2, 5, 6, 7]
    assert values.tolist() == [False, True, False, True]
    assert [a.size for a in mask_to_runs(np.zeros(0, bool))] == [0, 0, 0]


@pytest.mark.parametrize("raw,min_speech,min_silence,expected", [
    # the module docstring's example: fill the 1-frame gap, drop the 2-frame blip
    ("..####.#####......##.......", 3, 2, "..##########..............."),
    # fill first: two 2-frame words joined by a 1-frame gap make a 5-frame run that survives
    ("..##.##....", 4, 2, "..#####...."),
    # a gap of exactly min_silence frames is kept; a run of exactly min_speech frames is kept
    ("###..###", 3, 2, "###..###"),
    # leading and trailing silence are never filled, however short
    (".##.", 1, 5, ".##."),
    # nothing survives
    ("#.#.#", 2, 1, "....."),
    ("", 3, 3, ""),
])
def test_smooth_mask(raw, min_speech, min_silence, expected):
    mask = _m(raw)
    out = smooth_mask(mask, min_speech, min_silence)
    assert _s(out) == expected
    assert _s(mask) == raw  # input untouched


def test_energy_sad_explicit_threshold_exact_mask():
    e = np.array([0, 0, 9, 9, 9, 0, 9, 9, 9, 0, 0, 9, 0], dtype=float)
    out = energy_sad(e, hop=1, min_speech=2, min_silence=2, threshold=4.5)
    assert _s(out) == "..#######...."
    # durations are converted with the hop: 0.02 s at 10 ms = 2 frames, same result
    assert _s(energy_sad(e, hop=0.01, min_speech=0.02, min_silence=0.02, threshold=4.5)) == \
        "..#######...."
    # strictly above the threshold
    assert _s(energy_sad(e, hop=1, min_speech=0, min_silence=0, threshold=9.0)) == "." * 13


def test_threshold_rule_hand_case():
    # 50 frames at -10 and 50 at 0: noise (p5) = -10, speech (p95) = 0 -> -10 + 0.35 * 10
    e = np.r_[np.full(50, -10.0), np.full(50, 0.0), [-10.5]]  # the single minimum is set aside
    assert energy_threshold(e) == pytest.approx(-6.5)
    # frames at the floor (digital silence / padding) do not count
    floor = np.full(400, np.log(1e-10))
    assert energy_threshold(np.r_[e, floor]) == pytest.approx(-6.5)


def test_threshold_minimum_contrast():
    # range 3 nats: 0.35 * 3 = 1.05 < 1.5, so the threshold is noise + 1.5
    e = np.r_[np.full(50, -3.0), np.full(50, 0.0), [-4.0]]
    assert energy_threshold(e) == pytest.approx(-1.5)


def test_mostly_speech_and_mostly_silence():
    e = np.r_[np.full(900, -2.0), np.full(100, -12.0), [-13.0]]
    out = energy_sad(e, hop=0.01, min_speech=0, min_silence=0)
    assert out.sum() == 900 and out[:900].all()
    e = np.r_[np.full(50, -2.0), np.full(950, -12.0), [-13.0]]
    out = energy_sad(e, hop=0.01, min_speech=0, min_silence=0)
    assert out.sum() == 50 and out[:50].all()


def test_no_contrast_marks_everything_as_speech(caplog):
    e = np.r_[np.linspace(-5.0, -4.5, 300)]
    with caplog.at_level(logging.WARNING, logger="diarizer.features.sad"):
        out = energy_sad(e)
    assert out.all()
    assert "marking every frame as speech" in caplog.text


def test_synthetic_tones_with_silences(rng):
    sr = 16000
    # (start, end) of tone bursts in seconds; noise everywhere at -60 dB relative to the tones
    bursts = [(0.5, 1.5), (1.6, 2.5), (3.5, 3.6), (4.0, 5.0)]
    n = 6 * sr
    t = np.arange(n) / sr
    y = 1e-3 * rng.standard_normal(n)
    for a, b in bursts:
        sel = (t >= a) & (t < b)
        y[sel] += 0.5 * np.sin(2 * np.pi * 330 * t[sel])
    mask = energy_sad(log_energy(y.astype(np.float32), sr), hop=0.01)
    # expected: 0.5-2.5 (the 0.1 s gap is filled), the 0.1 s blip dropped, 4.0-5.0
    expected = np.zeros(600, dtype=bool)
    expected[50:250] = True
    expected[400:500] = True
    starts, ends, values = mask_to_runs(mask)
    assert values.tolist() == [False, True, False, True, False]
    # a 30 ms window overlaps a burst up to 2 frames before it starts
    assert 48 <= starts[1] <= 50 and ends[1] == 250
    assert 398 <= starts[3] <= 400 and ends[3] == 500
    assert np.count_nonzero(mask != expected) <= 4


def test_bad_input():
    with pytest.raises(ValueError, match="must be 1-D"):
        energy_sad(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="must be finite"):
        energy_sad(np.array([0.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match="min_speech, min_silence >= 0"):
        energy_sad(np.zeros(10), min_speech=-1)
    with pytest.raises(ValueError, match="hop must be > 0"):
        energy_sad(np.zeros(10), hop=0)
    assert energy_sad(np.zeros(0)).shape == (0,)
