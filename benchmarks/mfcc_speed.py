"""Time diarizer.features.mfcc against librosa.feature.mfcc on synthetic audio (run by hand).

    python benchmarks/mfcc_speed.py [minutes=60]

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


def main(minutes=60.0):
    sr = 16000
    n = int(minutes * 60 * sr)
    rng = np.random.default_rng(0)
    t = np.arange(n, dtype=np.float64) / sr
    y = (0.05 * rng.standard_normal(n) + 0.2 * np.sin(2 * np.pi * 220 * t)
         * (np.sin(2 * np.pi * 0.3 * t) > 0)).astype(np.float32)
    del t
    rows = []

    t0 = time.perf_counter()
    ours = mfcc(y, sr)
    rows.append(("diarizer mfcc (19 x ceil(n/hop))", time.perf_counter() - t0))

    t0 = time.perf_counter()
    log_energy(y, sr)
    rows.append(("diarizer log_energy", time.perf_counter() - t0))

    nf = n_frames(n, sr, 0.01)
    t0 = time.perf_counter()
    pad = np.concatenate([np.zeros(16, np.float32), y,
                          np.zeros((nf - 1) * 160 + 512 - 16 - n, np.float32)])
    ref = librosa.feature.mfcc(y=pad, sr=sr, n_mfcc=20, n_fft=512, hop_length=160,
                               win_length=480, window="hann", center=False, n_mels=40)
    rows.append(("librosa.feature.mfcc (center=False)", time.perf_counter() - t0))
    diff = float(np.abs(ref[1:].T - ours).max())
    del ref, pad

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "long.wav")
        sf.write(path, y, sr, subtype="PCM_16")
        t0 = time.perf_counter()
        read_audio(path, sr)
        rows.append(("read_audio 16 kHz PCM_16 (no resampling)", time.perf_counter() - t0))

    print(f"audio: {minutes:g} min synthetic at {sr} Hz, {nf} frames")
    for name, sec in rows:
        print(f"{name:45s} {sec:7.2f} s  ({minutes * 60 / sec:8.0f} x real time)")
    print(f"max |librosa - ours| over c1..c19: {diff:.2e}")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 60.0)
