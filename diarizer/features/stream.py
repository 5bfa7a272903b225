"""MFCCs and log-energy streamed from an audio file, without holding the signal (issue 10).

:func:`audio_features` reads the file block by block (:class:`diarizer.io.audio.AudioStream`:
channels averaged, resampled with a streaming soxr), and computes the frames of each block as soon
as their samples are there. The last ``win - hop`` samples (plus the part of a hop not yet
complete) are carried over to the next block::

    block b            |..........................|
    frames of block b  [====)[====)[====)   ...  [====)          (whole windows only)
    carry                                          |~~~~|        (samples of the next frames)
    block b + 1                                    |~~~~|.......................|

At the end the carried samples are zero-padded as :func:`diarizer.features.mfcc.mfcc` pads the
whole signal, so the frame count is ``ceil(n_samples / hop)`` and every frame equals the one
``mfcc(read_audio(path)[0])`` and ``log_energy(...)`` give (same kernels; the matrix products may
round the last float32 digit differently for different block sizes).

Memory: one read block (10 s), one frame block and the outputs; a 4-hour 16 kHz file needs
about 110 MB for 19 MFCCs instead of 0.92 GB for the signal.
"""

import logging
import math
import time

import numpy as np

from ..io.audio import AudioStream
from .mfcc import (
    _BLOCK_FRAMES,
    _chunk_energy,
    _frame_log_energy,
    _mfcc_plan,
    _MfccKernel,
    n_frames,
)

__all__ = ["audio_features"]

log = logging.getLogger(__name__)


class _Outputs:
    """Growable (n_frames, n_out) float32 MFCC rows and optional energies, sized from a hint."""

    def __init__(self, hint, n_out, energy):
        self.X = np.empty((max(hint, 1), n_out), dtype=np.float32)
        self.E = np.empty(max(hint, 1), dtype=np.float32) if energy else None
        self.n = 0

    def reserve(self, m):
        """Return (X rows, E rows) views for the next ``m`` frames, growing the arrays if needed."""
        need = self.n + m
        if need > self.X.shape[0]:
            size = max(need, int(self.X.shape[0] * 1.25) + 1)
            self.X = np.concatenate([self.X[:self.n],
                                     np.empty((size - self.n, self.X.shape[1]), np.float32)])
            if self.E is not None:
                self.E = np.concatenate([self.E[:self.n], np.empty(size - self.n, np.float32)])
        rows = slice(self.n, need)
        self.n = need
        return self.X[rows], (None if self.E is None else self.E[rows])

    def result(self):
        """The filled rows (a copy only when the hint was too large)."""
        X = self.X if self.X.shape[0] == self.n else self.X[:self.n].copy()
        E = None
        if self.E is not None:
            E = self.E if self.E.shape[0] == self.n else self.E[:self.n].copy()
        return X, E


def _compute(seg, m, kernel, out, energy, block_frames):
    """Frames 0..m-1 of ``seg`` (frame i = seg[i*hop : i*hop + win]) into ``out``."""
    plan = kernel.plan
    win_n, hop_n = plan.win_n, plan.hop_n
    g = math.gcd(win_n, hop_n)
    for j0 in range(0, m, block_frames):
        j1 = min(m, j0 + block_frames)
        part = seg[j0 * hop_n:(j1 - 1) * hop_n + win_n]
        frames = np.lib.stride_tricks.sliding_window_view(part, win_n)[::hop_n]
        X, E = out.reserve(j1 - j0)
        kernel(frames, X)
        if energy:
            _frame_log_energy(_chunk_energy(part, g), win_n, hop_n, g, E)


def audio_features(path, *, sample_rate=16000, n_mfcc=19, window=0.03, hop=0.01, n_mels=40,
                   include_c0=False, energy=True, fmin=0.0, fmax=None, min_duration=0.03,
                   block_seconds=10.0, timings=None, on_block=None, gain=1.0):
    """MFCCs and frame log-energy of an audio file, read and computed block by block.

    The result equals ``mfcc(y, ...)`` and ``log_energy(y, ...)`` of
    ``y = read_audio(path, sample_rate, min_duration)[0]`` (to float32 rounding), with the same
    checks and messages, but the signal is never held whole.

    Parameters
    ----------
    path : str or os.PathLike
        Audio file in any format libsndfile reads; channels are averaged.
    sample_rate : int, default=16000
        Analysis rate (Hz); the file is resampled (soxr 'HQ', as ``read_audio``) when it differs.
    n_mfcc : int, default=19
        Cepstral coefficients c1..c{n_mfcc} (see :func:`diarizer.features.mfcc.mfcc`).
    window : float, default=0.03
        Analysis window (s).
    hop : float, default=0.01
        Frame hop (s).
    n_mels : int, default=40
        Mel bands.
    include_c0 : bool, default=False
        Prepend c0 as the first column.
    energy : bool, default=True
        Also compute :func:`diarizer.features.mfcc.log_energy` on the same frames; ``False``
        returns ``None`` in its place and skips the work.
    fmin : float, default=0.0
        Lowest filterbank frequency (Hz).
    fmax : float, optional
        Highest filterbank frequency (Hz); default ``sample_rate / 2``.
    min_duration : float, default=0.03
        Shortest accepted duration (s), as in ``read_audio``.
    block_seconds : float, default=10.0
        Seconds of the file read per block.
    timings : dict, optional
        When given, ``timings["read"]`` and ``timings["mfcc"]`` are set to the wall seconds
        spent decoding + resampling and computing the features (they interleave, so this is
        the only way to split them).
    gain : float, default=1.0
        Factor applied to the samples as they are decoded (see
        :class:`diarizer.io.audio.AudioStream`); ``read_audio`` then takes the same ``gain``.
    on_block : callable, optional
        Called with every block of the resampled signal (float32 array at ``sample_rate``), in
        order, e.g. to run another detector on the same samples
        (:class:`diarizer.features.webrtc.WebRTCStream`); its time counts in ``timings["mfcc"]``.

    Returns
    -------
    X : ndarray of shape (n_frames, n_mfcc + include_c0), dtype float32
        ``n_frames = ceil(info.n_samples / round(hop * sample_rate))``.
    energy : ndarray of shape (n_frames,), dtype float32, or None
        Natural-log frame energy, or ``None`` when ``energy=False``.
    info : diarizer.io.audio.AudioInfo
        ``file_rate``, ``channels``, ``n_samples`` (at ``sample_rate``) and ``duration`` (s).

    Raises
    ------
    InputError
        The messages of :func:`diarizer.io.audio.read_audio`: missing or unreadable file, no
        samples, shorter than ``min_duration``, non-finite samples, digital silence.
    ValueError
        Invalid ``sample_rate``, ``n_mfcc``/``n_mels`` or ``window``/``hop``.

    See Also
    --------
    diarizer.features.mfcc.mfcc, diarizer.features.mfcc.log_energy, diarizer.io.audio.read_audio

    Examples
    --------
    >>> X, energy, info = audio_features("examples/dev00.wav")  # doctest: +SKIP
    >>> X.shape, energy.shape, info.file_rate  # doctest: +SKIP
    ((3000, 19), (3000,), 16000)
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive int. Got {sample_rate} instead.")
    plan = _mfcc_plan(sample_rate, n_mfcc, window, hop, n_mels, include_c0, fmin, fmax)
    win_n, hop_n = plan.win_n, plan.hop_n
    stream = AudioStream(path, sample_rate, min_duration, block_seconds, gain=gain)
    block_frames = _BLOCK_FRAMES
    kernel = _MfccKernel(plan, block_frames)
    out = _Outputs(n_frames(stream.expected_samples(), 1, hop_n), plan.dct.shape[1], energy)
    carry = np.zeros(0, dtype=np.float32)
    t_read = t_feat = 0.0
    clock = time.perf_counter()
    for block in stream:
        t0 = time.perf_counter()
        t_read += t0 - clock
        if on_block is not None:
            on_block(block)
        buf = np.concatenate([carry, block]) if carry.size else block
        m = (buf.size - win_n) // hop_n + 1 if buf.size >= win_n else 0
        if m:
            _compute(buf, m, kernel, out, energy, block_frames)
        carry = buf[m * hop_n:]
        clock = time.perf_counter()
        t_feat += clock - t0
    t_read += time.perf_counter() - clock
    t0 = time.perf_counter()
    info = stream.info
    remaining = n_frames(info.n_samples, 1, hop_n) - out.n
    if remaining > 0:
        seg = np.zeros((remaining - 1) * hop_n + win_n, dtype=np.float32)
        seg[:carry.size] = carry
        _compute(seg, remaining, kernel, out, energy, block_frames)
    X, E = out.result()
    if timings is not None:
        timings["read"] = t_read
        timings["mfcc"] = t_feat + time.perf_counter() - t0
    log.debug("%s: %d frames of %d features streamed", info.path, X.shape[0], X.shape[1])
    return X, E, info
