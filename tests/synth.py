"""Small synthetic meetings for tests: vowel-like voices (pulse trains through formant filters).

Each "speaker" has its own pitch and formants, so MFCC GMMs separate them, like real voices but
cheap to make. Turns alternate with short silences; the exact reference is returned.
"""

import numpy as np
import soundfile as sf
from scipy.signal import lfilter

VOICES = [  # (f0 Hz, formants Hz)
    (110.0, (700.0, 1200.0, 2600.0)),
    (220.0, (400.0, 2200.0, 3000.0)),
    (160.0, (550.0, 900.0, 2400.0)),
    (300.0, (850.0, 1600.0, 3300.0)),
]


def _resonator(f, sr, bw=120.0):
    r = np.exp(-np.pi * bw / sr)
    return [1.0 - r], [1.0, -2.0 * r * np.cos(2 * np.pi * f / sr), r * r]


def voice(n, speaker, sr, rng):
    """``n`` samples of speaker ``speaker``'s voice."""
    f0, formants = VOICES[speaker % len(VOICES)]
    t = np.arange(n) / sr
    f = f0 * (1 + 0.05 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6)))
    phase = np.cumsum(f / sr)
    src = (np.diff(np.floor(phase), prepend=0.0) > 0).astype(np.float64)
    src += 0.02 * rng.standard_normal(n)
    y = np.zeros(n)
    for fm in formants:
        b, a = _resonator(fm, sr)
        y += lfilter(b, a, src)
    env = 0.6 + 0.4 * np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 6)) ** 2  # syllables
    y *= env
    return 0.3 * y / (np.abs(y).max() + 1e-9)


def make_meeting(path, seconds=30.0, n_speakers=2, seed=0, sr=16000, uri=None):
    """Write a meeting WAV and return its reference turns ``[(start_s, end_s, speaker), ...]``."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    y = 0.001 * rng.standard_normal(n)
    t = 0.5
    ref = []
    spk = 0
    while t < seconds - 1.0:
        dur = min(rng.uniform(2.5, 5.0), seconds - 0.5 - t)
        a, b = int(t * sr), int((t + dur) * sr)
        y[a:b] += voice(b - a, spk, sr, rng)
        ref.append((round(a / sr, 3), round(b / sr, 3), f"s{spk}"))
        t += dur + rng.uniform(0.4, 0.8)
        spk = (spk + 1 + int(rng.integers(0, max(n_speakers - 1, 1)))) % n_speakers
    sf.write(str(path), y.astype(np.float32), sr, subtype="PCM_16")
    return ref


def write_ref(path, uri, ref):
    """Write reference turns as RTTM."""
    with open(path, "w") as fh:
        for a, b, s in ref:
            fh.write(f"SPEAKER {uri} 1 {a:.3f} {b - a:.3f} <NA> <NA> {s} <NA> <NA>\n")
