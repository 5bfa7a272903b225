"""Time diarizer.features.mfcc against librosa.feature.mfcc on synthetic audio (run by hand).

    python benchmarks/mfcc_speed.py [minutes=60] [repeats=3]

Each timing is the best of ``repeats`` runs (the machine may be shared).

Also times log_energy, and read_audio on a 16 kHz PCM_16 WAV of the same length (written to a
temporary directory), and prints the largest difference between the two MFCC implementations.
"""

import os
import sys
import tempfile
import time

import librosa
import numpy as np
import soundfile as sf

from diarizer.features.mfcc import log_energy, mfcc, n_frames
from diarizer.io.audio import read_audio


def _best(fn, repeats):
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main(minutes=60.0, repeats=3):
    sr = 16000
    n = int(minutes * 60 * sr)
    rng = np.random.default_rng(0)
    t = np.arange(n, dtype=np.float64) / sr
    y = (0.05 * rng.standard_normal(n) + 0.2 * np.sin(2 * np.pi * 220 * t)
         * (np.sin(2 * np.pi * 0.3 * t) > 0)).astype(np.float32)
    del t
    rows = []

    sec, ours = _best(lambda: mfcc(y, sr), repeats)
    rows.append(("diarizer mfcc (19 x ceil(n/hop))", sec))
    rows.append(("diarizer log_energy", _best(lambda: log_energy(y, sr), repeats)[0]))

    nf = n_frames(n, sr, 0.01)
    pad = np.concatenate([np.zeros(16, np.float32), y,
                          np.zeros((nf - 1) * 160 + 512 - 16 - n, np.float32)])
    sec, ref = _best(lambda: librosa.feature.mfcc(
        y=pad, sr=sr, n_mfcc=20, n_fft=512, hop_length=160, win_length=480, window="hann",
        center=False, n_mels=40), repeats)
    rows.append(("librosa.feature.mfcc (center=False)", sec))
    diff = float(np.abs(ref[1:].T - ours).max())
    del ref

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "long.wav")
        sf.write(path, y, sr, subtype="PCM_16")
        sec = _best(lambda: read_audio(path, sr), repeats)[0]
        rows.append(("read_audio 16 kHz PCM_16 (no resampling)", sec))

    print(f"audio: {minutes:g} min synthetic at {sr} Hz, {nf} frames")
    for name, sec in rows:
        print(f"{name:45s} {sec:7.2f} s  ({minutes * 60 / sec:8.0f} x real time)")
    print(f"max |librosa - ours| over c1..c19: {diff:.2e}")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 60.0,
         int(sys.argv[2]) if len(sys.argv) > 2 else 3)
