"""Time reading + MFCC + log-energy of one hour of audio, four ways (run by hand; issue 10).

    python benchmarks/mfcc_speed.py [--wav PATH] [--minutes 60] [--repeats 3] [--rss-wav PATH]

Rows (each best of ``--repeats`` runs, run in turn so that load spikes hit all of them):

* ``previous``: ``read_audio`` + the MFCC and log-energy code before issue 10 (reproduced below:
  scipy.signal Hann window, librosa mel matrix, ``rfft(n=...)`` on 2000-frame blocks,
  ``10 * log10``, ``scipy.fft.dct``, einsum energy over every frame);
* ``read_audio + mfcc + log_energy``: the whole signal in memory, the new kernels;
* ``audio_features`` (streamed): what the pipeline should call;
* ``librosa.feature.mfcc`` on the ``read_audio`` signal (the peer; no energy).

Wall and CPU seconds are printed (CPU is steadier on a shared machine), with the load average
before and after, and the largest difference of each path from ``previous``. BLAS runs on one
thread, as in the pipeline (``blas_threads = 1``); the FFT uses ``diarizer.features.mfcc``'s
workers. The peak resident memory of a whole process that only streams the features of
``--rss-wav`` (default: the cached 4-hour meeting) is measured in a subprocess (``VmHWM`` of
``/proc/self/status``; ``ru_maxrss`` would count the parent's memory: Python starts the child
with vfork, and Linux carries the high-water mark across exec), next to the same for
``read_audio`` + ``mfcc`` + ``log_energy``; so are the import times. Without ``--wav`` and
without the cached meeting, a synthetic file of ``--minutes`` is written to a temporary
directory.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import soundfile as sf

CACHE = "/work/cache/meetings/speed"


# ---------------------------------------------------------------- the code before issue 10
def _previous_mfcc_energy(y, sr=16000, n_mfcc=19, n_mels=40):
    import librosa
    import scipy.fft
    import scipy.signal

    win_n, hop_n, n_fft, block = 480 * sr // 16000, 160 * sr // 16000, 512, 2000
    win = scipy.signal.get_window("hann", win_n, fftbins=True).astype(np.float32)
    mel_t = np.ascontiguousarray(librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels).T)
    total = -(-y.size // hop_n)
    X = np.empty((total, n_mfcc), np.float32)
    E = np.empty(total, np.float32)
    for f0 in range(0, total, block):
        f1 = min(total, f0 + block)
        seg = y[f0 * hop_n:(f1 - 1) * hop_n + win_n]
        if seg.size < (f1 - f0 - 1) * hop_n + win_n:
            seg = np.concatenate([seg, np.zeros((f1 - f0 - 1) * hop_n + win_n - seg.size,
                                                np.float32)])
        frames = np.lib.stride_tricks.sliding_window_view(seg, win_n)[::hop_n]
        spec = scipy.fft.rfft(frames * win, n=n_fft, axis=1, workers=2)
        power = spec.real * spec.real + spec.imag * spec.imag
        melspec = np.maximum(power @ mel_t, 1e-10)
        ceps = scipy.fft.dct(10.0 * np.log10(melspec), type=2, norm="ortho", axis=1, workers=2)
        X[f0:f1] = ceps[:, 1:n_mfcc + 1]
        e = np.einsum("ij,ij->i", frames, frames, dtype=np.float64)
        E[f0:f1] = np.log(np.maximum(e, 1e-10))
    return X, E


# ---------------------------------------------------------------- paths
def _path_previous(path):
    from diarizer.io.audio import read_audio

    y, _ = read_audio(path)
    return _previous_mfcc_energy(y)


def _path_whole(path):
    from diarizer.features.mfcc import log_energy, mfcc
    from diarizer.io.audio import read_audio

    y, _ = read_audio(path)
    return mfcc(y), log_energy(y)


def _path_stream(path):
    from diarizer.features.stream import audio_features

    X, E, _ = audio_features(path)
    return X, E


def _path_librosa(path):
    import librosa

    from diarizer.io.audio import read_audio

    y, _ = read_audio(path)
    # our frames: shift by (n_fft - win) / 2 so librosa's centred window covers y[i*hop : +win]
    nf = -(-y.size // 160)
    pad = np.zeros((nf - 1) * 160 + 512, np.float32)
    pad[16:16 + y.size] = y
    del y
    S = librosa.feature.mfcc(y=pad, sr=16000, n_mfcc=20, n_fft=512, hop_length=160,
                             win_length=480, window="hann", center=False, n_mels=40)
    return S[1:].T, None


PATHS = [("previous: read_audio + old mfcc/energy", _path_previous),
         ("read_audio + mfcc + log_energy (new)", _path_whole),
         ("audio_features (streamed)", _path_stream),
         ("librosa.feature.mfcc (read_audio, no energy)", _path_librosa)]

_RSS_CODE = """
import resource, sys, time
from threadpoolctl import threadpool_limits
threadpool_limits(1, user_api="blas")
t = time.perf_counter()
if sys.argv[2] == "stream":
    from diarizer.features.stream import audio_features
    X, E, info = audio_features(sys.argv[1])
else:
    from diarizer.features.mfcc import log_energy, mfcc
    from diarizer.io.audio import read_audio
    y, _ = read_audio(sys.argv[1])
    X, E = mfcc(y), log_energy(y)
    del y
sec = time.perf_counter() - t
try:  # this process's own high-water mark: ru_maxrss would include the parent's after vfork+exec
    with open("/proc/self/status") as fh:
        kib = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
except OSError:
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(X.shape[0], sec, kib)
"""


def _rss(path, mode):
    out = subprocess.run([sys.executable, "-c", _RSS_CODE, path, mode], capture_output=True,
                         text=True, check=True).stdout.split()
    return int(out[0]), float(out[1]), int(out[2]) / 1024.0  # frames, seconds, MiB


def _import_seconds(code, repeats):
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        best = min(best, time.perf_counter() - t)
    return best


def _synthetic(path, minutes):
    sr = 16000
    n = int(minutes * 60 * sr)
    rng = np.random.default_rng(0)
    t = np.arange(n, dtype=np.float64) / sr
    y = (0.05 * rng.standard_normal(n) + 0.2 * np.sin(2 * np.pi * 220 * t)
         * (np.sin(2 * np.pi * 0.3 * t) > 0)).astype(np.float32)
    sf.write(path, y, sr, subtype="PCM_16")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wav", help="16 kHz audio to time (default: the cached 1-hour meeting)")
    ap.add_argument("--minutes", type=float, default=60.0, help="synthetic length if no --wav")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rss-wav", help="file for the peak-memory rows (default: cached 4 h)")
    ap.add_argument("--no-rss", action="store_true", help="skip the peak-memory rows")
    args = ap.parse_args(argv)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")
    tmp = tempfile.TemporaryDirectory()
    path = args.wav or os.path.join(CACHE, "speed_1h.wav")
    if not os.path.exists(path):
        path = os.path.join(tmp.name, "synthetic.wav")
        _synthetic(path, args.minutes)
    seconds = sf.info(path).duration
    load0 = os.getloadavg()
    best = {name: [float("inf"), float("inf")] for name, _ in PATHS}
    results = {}
    for _ in range(args.repeats):
        for name, fn in PATHS:
            t, c = time.perf_counter(), time.process_time()
            out = fn(path)
            wall, cpu = time.perf_counter() - t, time.process_time() - c
            best[name] = [min(best[name][0], wall), min(best[name][1], cpu)]
            results[name] = out
            del out
    load1 = os.getloadavg()
    ref_X, ref_E = results[PATHS[0][0]]
    print(f"audio: {path} ({seconds / 60:.1f} min); best of {args.repeats}; 1 BLAS thread;"
          f" load average {load0[0]:.2f} before, {load1[0]:.2f} after (2 cores)")
    print(f"{'path':46s} {'wall s':>7s} {'cpu s':>7s} {'x real time':>12s}"
          f" {'max|dX|':>9s} {'max|dE|':>9s}")
    for name, _ in PATHS:
        X, E = results[name]
        dx = float(np.abs(X - ref_X).max())
        de = "" if E is None else f"{float(np.abs(E - ref_E).max()):9.1e}"
        wall, cpu = best[name]
        print(f"{name:46s} {wall:7.2f} {cpu:7.2f} {seconds / wall:12.0f} {dx:9.1e} {de:>9s}")
    del results, ref_X, ref_E
    imp_new = _import_seconds("import diarizer.features.stream", args.repeats)
    imp_old = _import_seconds("import scipy.fft, scipy.signal, librosa.filters, soundfile",
                              args.repeats)
    print(f"import diarizer.features.stream: {imp_new:.2f} s;"
          f" previous imports (scipy.fft, scipy.signal, librosa.filters): {imp_old:.2f} s")
    if not args.no_rss:
        rss_path = args.rss_wav or os.path.join(CACHE, "speed_4h.wav")
        if os.path.exists(rss_path):
            hours = sf.info(rss_path).duration / 3600
            for mode, label in (("stream", "audio_features"),
                                ("whole", "read_audio + mfcc + log_energy")):
                frames, sec, mib = _rss(rss_path, mode)
                print(f"peak RSS, {hours:.1f} h, {label:32s}: {mib:7.0f} MiB"
                      f" ({frames} frames, {sec:.1f} s)")
        else:
            print(f"peak RSS rows skipped: {rss_path} not found")
    tmp.cleanup()


if __name__ == "__main__":
    main()
