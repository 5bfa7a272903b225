"""MFCC and frame log-energy features, computed block by block.

Framing (shared by :func:`mfcc`, :func:`log_energy`, :func:`n_frames` and the streamed
:func:`diarizer.features.stream.audio_features`)::

    samples  0        hop      2*hop    3*hop              n
             |--------|--------|--------|--- ... ---|------|
    frame 0  [=========== win ==========)
    frame 1           [=========== win ==========)
    frame i  covers samples [i*hop, i*hop + win)   and stands for time [i*hop, (i+1)*hop)

With ``win = round(window * sample_rate)`` and ``hop = round(hop * sample_rate)`` (480 and 160 at
16 kHz) there are ``n_frames = ceil(n_samples / hop)`` frames: the end of the signal is padded with
zeros so that every hop-long stretch of audio, including the last partial one, has its frame.
Frame ``i`` therefore maps to ``i * hop`` seconds, the same integer-frame clock as
:mod:`diarizer.segments`, and ``n_frames * hop`` is the audio duration rounded up to the hop.
(HTK and ``librosa(center=False)`` instead drop the last ``win - hop`` samples' frames:
``1 + (n - win) // hop``; the frames they do have are the same as ours.)

MFCC recipe, identical to ``librosa.feature.mfcc`` with ``center=False``, ``n_fft`` the next
power of two >= ``win`` (512 at 16 kHz), a periodic Hann window of ``win`` samples, ``power=2``,
the Slaney-style mel filterbank of ``librosa.filters.mel`` and an orthonormal DCT-II, except for the
log: we take ``10 * log10(max(P, 1e-10))`` per band with no ``top_db`` clipping. librosa's
``power_to_db`` clips everything more than 80 dB below the loudest band of the *whole file*, which
makes every frame depend on the global maximum (one click moves all silent frames) and cannot be
done block by block. When the signal's dynamic range is under 80 dB the two are the same.

Speed (issue 10): frames are strided views of the signal, windowed straight into a zero-padded
``(block, n_fft)`` float32 buffer that is reused, transformed with ``scipy.fft.rfft(workers=n)``
(complex64), and the rest is two matrix products around one log: the squared real and imaginary
parts times a filterbank whose rows are repeated for both (so ``re**2 + im**2`` is part of the
product), then ``log`` and a product with the DCT matrix that also holds the ``10 / ln(10)`` of the
dB conversion and keeps only the returned coefficients. The Hann window and the mel matrix are
computed here with numpy (bit-identical to ``scipy.signal.get_window('hann', n, fftbins=True)``
and ``librosa.filters.mel``, which tests check), because importing ``scipy.signal`` (which librosa's
filters module does) costs about a second. The frame energy is a float64 sum of squares over
``gcd(win, hop)``-sample chunks, then over the chunks of each frame, so each sample is squared
once instead of ``win / hop`` times. ``benchmarks/mfcc_speed.py`` measures all of this.
"""

import functools
import logging
import math
import os

import numpy as np
import scipy.fft

from ..framing import frame_samples, n_frames

__all__ = ["mfcc", "log_energy", "n_frames", "frame_samples", "hann_window", "mel_filterbank"]

log = logging.getLogger(__name__)

_BLOCK_FRAMES = 2000  # 20 s at 10 ms; larger blocks fall out of cache and run slower
_LOG_FLOOR_POWER = 1e-10  # floor of the mel power before the log (librosa's amin)
_LOG_FLOOR_ENERGY = 1e-10  # floor of the frame energy before the log


# ----------------------------------------------------------------------------------------------
# Window and filterbank (numpy only: no scipy.signal, no librosa import)


def hann_window(n):
    """Periodic Hann window of ``n`` samples, as ``scipy.signal.get_window('hann', n)``.

    Parameters
    ----------
    n : int
        Window length in samples (>= 1).

    Returns
    -------
    ndarray of shape (n,), dtype float64
        Bit-identical to ``scipy.signal.get_window('hann', n, fftbins=True)``: the symmetric
        window of ``n + 1`` points without its last point.
    """
    if n <= 1:
        return np.ones(n, dtype=np.float64)
    # scipy: general_cosine(n + 1, [0.5, 0.5]) truncated; the k=0 term is 0.5 * cos(0) = 0.5.
    fac = np.linspace(-np.pi, np.pi, n + 1, dtype=np.float64)
    w = np.zeros(n + 1, dtype=np.float64)
    w += 0.5 * np.cos(0 * fac)
    w += 0.5 * np.cos(1 * fac)
    return w[:-1]


def _hz_to_mel(f):
    """Slaney mel scale (librosa ``hz_to_mel(htk=False)``), same operations in the same order."""
    f = np.asanyarray(f)
    f_sp = 200.0 / 3
    mels = (f - 0.0) / f_sp
    min_log_mel = (1000.0 - 0.0) / f_sp
    logstep = np.log(6.4) / 27.0
    if f.ndim:
        log_t = f >= 1000.0
        mels[log_t] = min_log_mel + np.log(f[log_t] / 1000.0) / logstep
    elif f >= 1000.0:
        mels = min_log_mel + np.log(f / 1000.0) / logstep
    return mels


def _mel_to_hz(mels):
    """Inverse of :func:`_hz_to_mel` (librosa ``mel_to_hz(htk=False)``) for a 1-D array."""
    f_sp = 200.0 / 3
    freqs = 0.0 + f_sp * mels
    min_log_mel = (1000.0 - 0.0) / f_sp
    logstep = np.log(6.4) / 27.0
    log_t = mels >= min_log_mel
    freqs[log_t] = 1000.0 * np.exp(logstep * (mels[log_t] - min_log_mel))
    return freqs


def mel_filterbank(sample_rate, n_fft, n_mels=40, fmin=0.0, fmax=None):
    """Slaney mel filterbank, bit-identical to ``librosa.filters.mel`` (its defaults).

    Parameters
    ----------
    sample_rate : int
        Sampling rate (Hz).
    n_fft : int
        FFT length; the filterbank has ``n_fft // 2 + 1`` columns.
    n_mels : int, default=40
        Number of mel bands.
    fmin : float, default=0.0
        Lowest frequency (Hz).
    fmax : float, optional
        Highest frequency (Hz); default ``sample_rate / 2``.

    Returns
    -------
    ndarray of shape (n_mels, n_fft // 2 + 1), dtype float32
        Triangular filters on the Slaney mel scale, each scaled to unit area (``norm='slaney'``).
    """
    if fmax is None:
        fmax = float(sample_rate) / 2
    weights = np.zeros((int(n_mels), int(1 + n_fft // 2)), dtype=np.float32)
    fftfreqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sample_rate)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), int(n_mels) + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    for i in range(int(n_mels)):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2:int(n_mels) + 2] - mel_f[:int(n_mels)])
    weights *= enorm[:, np.newaxis]
    return weights


def _dct_matrix(n_mels, first, last):
    """Orthonormal DCT-II, shape (n_mels, last - first): ``logmel @ D`` = c_first..c_{last-1}."""
    m = np.arange(n_mels, dtype=np.float64)
    k = np.arange(first, last, dtype=np.float64)
    d = np.sqrt(2.0 / n_mels) * np.cos(np.pi * np.outer(2.0 * m + 1.0, k) / (2.0 * n_mels))
    if first == 0:
        d[:, 0] *= np.sqrt(0.5)
    return d


class _Plan:
    """Constants of one MFCC configuration (window, filterbank, DCT), built once and cached."""

    def __init__(self, sample_rate, win_n, hop_n, n_mels, first, last, fmin, fmax):
        self.win_n, self.hop_n = win_n, hop_n
        self.n_fft = 1 << max(0, math.ceil(math.log2(win_n)))
        self.window = hann_window(win_n).astype(np.float32)
        mel = mel_filterbank(sample_rate, self.n_fft, n_mels, fmin, fmax)
        # rows 2j and 2j+1 both hold bin j: (re, im) interleaved squared @ mel2 = |X|^2 @ mel.T
        self.mel2 = np.ascontiguousarray(np.repeat(mel.T, 2, axis=0), dtype=np.float32)
        # 10 * log10(p) = (10 / ln 10) * ln(p): the dB factor rides in the DCT product
        self.dct = np.ascontiguousarray(_dct_matrix(n_mels, first, last) * (10.0 / np.log(10.0)),
                                        dtype=np.float32)
        for a in (self.window, self.mel2, self.dct):
            a.flags.writeable = False


@functools.lru_cache(maxsize=16)
def _plan(sample_rate, win_n, hop_n, n_mels, first, last, fmin, fmax):
    return _Plan(sample_rate, win_n, hop_n, n_mels, first, last, fmin, fmax)


def _mfcc_plan(sample_rate, n_mfcc, window, hop, n_mels, include_c0, fmin=0.0, fmax=None):
    """Validate the MFCC options and return the cached :class:`_Plan`."""
    if not 1 <= n_mfcc < n_mels:
        raise ValueError(f"n_mfcc must be in [1, n_mels - 1] = [1, {n_mels - 1}]. Got {n_mfcc}.")
    win_n, hop_n = frame_samples(sample_rate, window, hop)
    first = 0 if include_c0 else 1
    return _plan(int(sample_rate), win_n, hop_n, int(n_mels), first, int(n_mfcc) + 1,
                 float(fmin), None if fmax is None else float(fmax))


# ----------------------------------------------------------------------------------------------
# Kernels on blocks of frames


def _workers():
    return max(1, min(os.cpu_count() or 1, 4))


class _MfccKernel:
    """MFCC rows of blocks of frames, reusing one zero-padded FFT input buffer."""

    def __init__(self, plan, block_frames=_BLOCK_FRAMES):
        self.plan = plan
        self.buf = np.zeros((block_frames, plan.n_fft), dtype=np.float32)
        self.workers = _workers()

    def __call__(self, frames, out):
        """Write the MFCCs of ``frames`` (n <= block_frames, win_n) into ``out`` (n, n_out)."""
        p = self.plan
        buf = self.buf[:frames.shape[0]]
        np.multiply(frames, p.window, out=buf[:, :p.win_n])
        spec = scipy.fft.rfft(buf, axis=1, workers=self.workers)  # complex64
        sq = spec.view(np.float32)  # (n, 2 * n_bins): re, im, re, im, ...
        np.square(sq, out=sq)
        melspec = sq @ p.mel2
        np.maximum(melspec, _LOG_FLOOR_POWER, out=melspec)
        np.log(melspec, out=melspec)
        np.matmul(melspec, p.dct, out=out)


def _chunk_energy(seg, g):
    """Float64 sums of squares of consecutive ``g``-sample chunks of ``seg`` (len % g == 0)."""
    c = seg.reshape(-1, g)
    return np.einsum("ij,ij->i", c, c, dtype=np.float64)


def _frame_log_energy(chunk_e, win_n, hop_n, g, out):
    """Log-energy of frames from chunk energies: frame i sums chunks [i*hop/g, (i*hop+win)/g)."""
    k, s = win_n // g, hop_n // g
    e = np.lib.stride_tricks.sliding_window_view(chunk_e, k)[::s][:out.shape[0]].sum(axis=1)
    np.log(np.maximum(e, _LOG_FLOOR_ENERGY), out=out, casting="same_kind")


def _check_signal(y):
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be a 1-D signal. Got an array of shape {y.shape} instead.")
    if y.size == 0:
        raise ValueError("y must have at least one sample. Got an empty array instead.")
    return y.astype(np.float32, copy=False)


def _frame_blocks(y, win_n, hop_n, block_frames=_BLOCK_FRAMES):
    """Yield ``(start_frame, frames, seg)``, ``frames`` a strided view of shape (n_block, win_n).

    ``seg`` is the stretch of signal the frames cover, ``(n_block - 1) * hop_n + win_n``
    samples. The signal is zero-padded at the end to ``(n_frames - 1) * hop_n + win_n``
    samples, one block at a time (only the last block is copied).
    """
    total = n_frames(y.size, 1, hop_n)  # sample_rate=1, hop in samples
    for f0 in range(0, total, block_frames):
        f1 = min(total, f0 + block_frames)
        s0 = f0 * hop_n
        s1 = (f1 - 1) * hop_n + win_n
        seg = y[s0:s1]
        if seg.size < s1 - s0:
            seg = np.concatenate([seg, np.zeros(s1 - s0 - seg.size, dtype=y.dtype)])
        frames = np.lib.stride_tricks.sliding_window_view(seg, win_n)[::hop_n]
        yield f0, frames, seg


def mfcc(y, sample_rate=16000, n_mfcc=19, window=0.03, hop=0.01, n_mels=40, include_c0=False,
         fmin=0.0, fmax=None):
    """Mel-frequency cepstral coefficients, one row per 10 ms frame (ICSI-style 19 MFCCs).

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Mono signal (any float dtype; computed in float32).
    sample_rate : int, default=16000
        Sampling rate of ``y`` (Hz).
    n_mfcc : int, default=19
        Number of cepstral coefficients c1..c{n_mfcc}; c0 (overall level) is dropped unless
        ``include_c0``.
    window : float, default=0.03
        Analysis window length (s); a periodic Hann window of ``round(window * sample_rate)``
        samples, zero-padded to the next power of two for the FFT.
    hop : float, default=0.01
        Frame hop (s).
    n_mels : int, default=40
        Mel bands (Slaney mel scale and area normalisation, as ``librosa.filters.mel``). Must be
        greater than ``n_mfcc``.
    include_c0 : bool, default=False
        Prepend c0 as the first column (then there are ``n_mfcc + 1`` columns).
    fmin : float, default=0.0
        Lowest filterbank frequency (Hz).
    fmax : float, optional
        Highest filterbank frequency (Hz); default ``sample_rate / 2``.

    Returns
    -------
    ndarray of shape (n_frames, n_features), dtype float32
        ``n_frames = ceil(n_samples / hop_samples)`` (see the module docstring for the framing);
        ``n_features = n_mfcc + include_c0``.

    Raises
    ------
    ValueError
        ``y`` is not a non-empty 1-D array, ``n_mfcc >= n_mels``, or window/hop are invalid.

    See Also
    --------
    log_energy : frame log-energy on the same frames.
    diarizer.features.stream.audio_features : the same features streamed from an audio file.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    >>> mfcc(y).shape
    (100, 19)
    """
    y = _check_signal(y)
    plan = _mfcc_plan(sample_rate, n_mfcc, window, hop, n_mels, include_c0, fmin, fmax)
    kernel = _MfccKernel(plan)
    out = np.empty((n_frames(y.size, 1, plan.hop_n), plan.dct.shape[1]), dtype=np.float32)
    for f0, frames, _ in _frame_blocks(y, plan.win_n, plan.hop_n):
        kernel(frames, out[f0:f0 + frames.shape[0]])
    return out


def log_energy(y, sample_rate=16000, window=0.03, hop=0.01):
    """Natural log of each frame's energy, on the frames of :func:`mfcc`.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Mono signal.
    sample_rate : int, default=16000
        Sampling rate (Hz).
    window : float, default=0.03
        Frame length (s); no window function is applied (HTK's raw energy).
    hop : float, default=0.01
        Frame hop (s).

    Returns
    -------
    ndarray of shape (n_frames,), dtype float32
        ``log(max(sum(frame ** 2), 1e-10))``, summed in float64; an all-zero frame gives
        ``log(1e-10) = -23.03``.

    Raises
    ------
    ValueError
        ``y`` is not a non-empty 1-D array, or window/hop are invalid.

    Examples
    --------
    >>> import numpy as np
    >>> np.round(log_energy(np.ones(480, dtype=np.float32)).astype(float), 3).tolist()
    [6.174, 5.768, 5.075]
    """
    y = _check_signal(y)
    win_n, hop_n = frame_samples(sample_rate, window, hop)
    g = math.gcd(win_n, hop_n)
    out = np.empty(n_frames(y.size, 1, hop_n), dtype=np.float32)
    for f0, frames, seg in _frame_blocks(y, win_n, hop_n):
        _frame_log_energy(_chunk_energy(seg, g), win_n, hop_n, g, out[f0:f0 + frames.shape[0]])
    return out
