"""Many distinct synthetic voices for the speaker tests (pulse trains through formant filters)."""

import numpy as np
import soundfile as sf
from scipy.signal import lfilter

SR = 16000


def voice_params(k):
    """Pitch and formants of synthetic voice ``k`` (deterministic, distinct for k < 40)."""
    rng = np.random.default_rng(1000 + k)
    f0 = 90.0 + 230.0 * rng.random()
    f1 = 300.0 + 600.0 * rng.random()
    f2 = 900.0 + 1500.0 * rng.random()
    f3 = 2300.0 + 1200.0 * rng.random()
    return f0, (f1, f2, f3)


def _resonator(f, sr, bw=120.0):
    r = np.exp(-np.pi * bw / sr)
    return [1.0 - r], [1.0, -2.0 * r * np.cos(2 * np.pi * f / sr), r * r]


def speech(n, k, rng, sr=SR):
    """``n`` samples of voice ``k``: vowel-like, with syllable envelope and a drifting formant."""
    f0, formants = voice_params(k)
    t = np.arange(n) / sr
    f = f0 * (1 + 0.06 * np.sin(2 * np.pi * 0.9 * t + rng.uniform(0, 6)))
    src = (np.diff(np.floor(np.cumsum(f / sr)), prepend=0.0) > 0).astype(np.float64)
    src += 0.03 * rng.standard_normal(n)
    y = np.zeros(n)
    for j, fm in enumerate(formants):
        # two vowel variants per voice so that a voice spans more than one spectral shape
        seg = (np.sin(2 * np.pi * 1.3 * t + j) > 0)
        b, a = _resonator(fm, sr)
        b2, a2 = _resonator(fm * 1.15, sr)
        y += np.where(seg, lfilter(b, a, src), lfilter(b2, a2, src))
    y *= 0.6 + 0.4 * np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 6)) ** 2
    return 0.3 * y / (np.abs(y).max() + 1e-9)


def write_solo(path, k, seconds, seed, sr=SR):
    """A recording of voice ``k`` alone (0.3 s of near-silence either side)."""
    rng = np.random.default_rng(seed)
    y = 0.001 * rng.standard_normal(int(seconds * sr))
    a, b = int(0.3 * sr), int((seconds - 0.3) * sr)
    y[a:b] += speech(b - a, k, rng, sr)
    sf.write(str(path), y.astype(np.float32), sr, subtype="PCM_16")
    return path


def write_meeting(path, voices, seconds, seed, sr=SR):
    """Voices taking turns of 3-5 s; returns reference ``[(start_s, end_s, voice), ...]``."""
    rng = np.random.default_rng(seed)
    y = 0.001 * rng.standard_normal(int(seconds * sr))
    t, i, ref = 0.4, 0, []
    while t < seconds - 1.5:
        dur = min(rng.uniform(3.0, 5.0), seconds - 0.4 - t)
        a, b = int(t * sr), int((t + dur) * sr)
        k = voices[i % len(voices)]
        y[a:b] += speech(b - a, k, rng, sr)
        ref.append((a / sr, b / sr, k))
        t += dur + rng.uniform(0.5, 0.8)
        i += 1
    sf.write(str(path), y.astype(np.float32), sr, subtype="PCM_16")
    return ref


def blob_speaker(k, n, rng, d=4):
    """``n`` frames of a Gaussian "speaker" ``k`` in ``d`` dims (means 3 apart, unit variance)."""
    centre = np.random.default_rng(500 + k).normal(0.0, 3.0, size=d)
    return (centre + rng.standard_normal((n, d))).astype(np.float32)


def blob_ubm(n_components=8, d=4, speakers=range(20, 32), n=400, seed=0):
    """A background model trained on blob speakers that the tests never enroll."""
    from diarizer.speakers import train_ubm

    rng = np.random.default_rng(seed)
    return train_ubm([blob_speaker(k, n, rng, d) for k in speakers], n_components=n_components,
                     max_iter=10)[0]
