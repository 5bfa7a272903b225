"""High-pass filtering of audio, whole or streamed block by block (FFT convolution).

The WebRTC VAD hears its input high-passed (setting ``webrtc_highpass``, see
:mod:`diarizer.features.webrtc`), and the level it hears is measured the same way
(:mod:`diarizer.io.level`). The filter is a zero-phase FIR filter of +/- :data:`HALF_LENGTH`
seconds with the magnitude response of a Butterworth filter (:func:`highpass_taps`), applied
without delay (each output sample is centred on its input sample) by overlap-save FFT
convolution in batches of segments, with ``scipy.fft`` (which the MFCCs use too; on these
float32 segments its FFTs took about half of ``numpy.fft``'s time, 0.33-0.49 against 0.76-1.02 s per
hour of audio in one process). ``scipy.signal``'s filters would cost about 0.6 s of import time
per process, more than the filtering of an hour of audio.

This module is the package's lowest layer for signals: it imports numpy and scipy.fft only.
"""

import numpy as np
import scipy.fft

__all__ = ["HALF_LENGTH", "ORDER", "highpass_taps", "HighPass", "highpass"]

HALF_LENGTH = 0.025
"""Half-length (s) of the FIR filter: 801 taps at 16 kHz. At a 200 Hz cut-off its response is
then within 0.4 dB of the Butterworth magnitude it samples from 150 Hz up (1.6 dB at 100 Hz, where
both are more than 22 dB down)."""

ORDER = 4
"""Order of the Butterworth magnitude response: -3 dB at the cut-off, -10 dB half an octave and
-24 dB an octave below it. A sharper filter (a windowed sinc with a 110 Hz transition band) took
more of the low voices' power: at 200 Hz the WebRTC VAD then missed 4.6 s more of a synthetic
10-minute meeting and 1.5 s more of the quiet speakers of ``levelspread``."""

_NFFT = 16384  # FFT length of the overlap-save segments (at least 4x the filter); 4096-32768
# take about the same time (0.6 s per hour of audio on a busy machine)


def highpass_taps(cutoff, sample_rate, half_length=HALF_LENGTH, order=ORDER):
    """Taps of the zero-phase FIR high-pass filter.

    The magnitude response is that of a Butterworth high-pass filter of ``order``,
    ``1 / sqrt(1 + (cutoff / f) ** (2 * order))`` (-3 dB at the cut-off), sampled on a fine
    grid, turned into a symmetric impulse response and Blackman-windowed to ``2K + 1`` taps,
    then corrected to remove DC exactly. The phase is zero: what the WebRTC VAD measures is
    sub-band energies, and no delay keeps its decisions on the features' time axis.

    Parameters
    ----------
    cutoff : float
        Cut-off frequency (Hz), between 0 and half the sample rate.
    sample_rate : int
    half_length : float, default=HALF_LENGTH
        Half-length of the filter (s).
    order : int, default=ORDER

    Returns
    -------
    ndarray of shape (2K+1,), float64

    Raises
    ------
    ValueError
        ``cutoff`` is not between 0 and half the sample rate.
    """
    if not 0 < float(cutoff) < sample_rate / 2:
        raise ValueError(f"the cut-off must be between 0 and half the sample rate"
                         f" ({sample_rate / 2:g} Hz). Got {cutoff} instead.")
    K = max(1, int(round(half_length * sample_rate)))
    grid = 1 << int(16 * K).bit_length()  # frequency grid much finer than the filter
    f = np.fft.rfftfreq(grid, 1.0 / sample_rate)
    mag = np.zeros_like(f)
    mag[1:] = 1.0 / np.sqrt(1.0 + (float(cutoff) / f[1:]) ** (2 * order))
    impulse = np.fft.irfft(mag, grid)
    window = np.blackman(2 * K + 1)
    taps = np.concatenate([impulse[-K:], impulse[:K + 1]]) * window
    taps -= window * (taps.sum() / window.sum())
    return taps


class HighPass:
    """A high-pass filter fed a signal in blocks; returns the filtered signal as it comes.

    Output sample ``i`` is the filtered input sample ``i`` (no delay): it needs the input up to
    ``i + K``, so each :meth:`feed` returns what can be computed so far and :meth:`flush`
    returns the rest, the signal taken as zero before its start and after its end. The output
    is the same however the signal is cut into blocks.

    Parameters
    ----------
    cutoff : float
        Cut-off frequency (Hz).
    sample_rate : int

    Examples
    --------
    >>> f = HighPass(200.0, 16000)
    >>> y = np.ones(16000, dtype=np.float32)
    >>> out = np.concatenate([f.feed(y[:5000]), f.feed(y[5000:]), f.flush()])
    >>> out.shape, bool(abs(out[400:-400]).max() < 1e-6)  # DC removed, away from the ends
    ((16000,), True)
    """

    def __init__(self, cutoff, sample_rate):
        taps = highpass_taps(cutoff, sample_rate)
        self.half = (taps.size - 1) // 2
        self.nfft = max(_NFFT, 1 << int(4 * taps.size - 1).bit_length())
        self.step = self.nfft - taps.size + 1  # outputs per segment
        self._spectrum = scipy.fft.rfft(taps.astype(np.float32), self.nfft)
        self._pending = np.zeros(self.half, dtype=np.float32)  # zeros before the start

    def _valid(self, u, n_out):
        """The first ``n_out`` samples of the valid convolution of ``u`` with the taps."""
        n_seg = -(-n_out // self.step)
        need = (n_seg - 1) * self.step + self.nfft
        if u.size < need:
            u = np.concatenate([u, np.zeros(need - u.size, dtype=np.float32)])
        segs = np.lib.stride_tricks.sliding_window_view(u, self.nfft)[::self.step][:n_seg]
        spec = scipy.fft.rfft(segs, axis=1)
        spec *= self._spectrum
        y = scipy.fft.irfft(spec, self.nfft, axis=1)
        return y[:, self.nfft - self.step:].reshape(-1)[:n_out].astype(np.float32, copy=False)

    def feed(self, block):
        """Filter the next block of samples.

        Parameters
        ----------
        block : ndarray of shape (n,)

        Returns
        -------
        ndarray of shape (m,), float32
            The filtered samples that follow the ones returned so far (whole segments only,
            so ``m`` may be 0).
        """
        u = np.concatenate([self._pending, np.asarray(block, dtype=np.float32)])
        n_seg = (u.size - (self.nfft - self.step)) // self.step
        if n_seg <= 0:
            self._pending = u
            return np.zeros(0, dtype=np.float32)
        out = self._valid(u, n_seg * self.step)
        self._pending = u[n_seg * self.step:]
        return out

    def flush(self):
        """The filtered samples not returned yet, the input taken as zero after its end.

        Returns
        -------
        ndarray of shape (m,), float32
        """
        u = np.concatenate([self._pending, np.zeros(self.half, dtype=np.float32)])
        n_out = u.size - 2 * self.half
        self._pending = np.zeros(0, dtype=np.float32)
        return self._valid(u, n_out) if n_out > 0 else np.zeros(0, dtype=np.float32)


def highpass(x, cutoff, sample_rate, edges=True):
    """High-pass filter a whole signal.

    Parameters
    ----------
    x : ndarray of shape (n,)
    cutoff : float
        Cut-off frequency (Hz).
    sample_rate : int
    edges : bool, default=True
        Return all ``n`` samples, the signal taken as zero outside it; ``False`` leaves out the
        ``K`` samples at each end whose filter reaches past the signal (``n - 2K`` samples, none
        if ``n <= 2K``).

    Returns
    -------
    ndarray, float32
    """
    f = HighPass(cutoff, sample_rate)
    y = np.concatenate([f.feed(x), f.flush()])
    return y if edges else y[f.half:max(f.half, y.size - f.half)]
