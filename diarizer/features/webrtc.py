"""Optional speech detector: the WebRTC voice activity detector (``webrtcvad-wheels``).

The WebRTC VAD (Google's, from the WebRTC project) classifies 10 ms frames of 16-bit PCM with a
small built-in Gaussian model of speech and noise sub-band energies; it needs no download and no
training. It is an optional extra beside the package's own detectors (:mod:`.sad`):
``pip install 'diarizer[webrtc]'``. ``benchmarks/sad_eval.py`` prints all of them side by side;
``sad = model_webrtc`` (speech where the model detector and this one agree) lowered the DER on
the real recordings, not on every synthetic set (see README).

:class:`WebRTCStream` is fed the resampled signal block by block while the MFCCs are computed
(:func:`.stream.audio_features`), so the signal is never whole in memory, and returns one
decision per 10 ms. :func:`to_frames` maps those decisions onto the feature frames: frame ``i``
stands for the time ``[i * hop, (i + 1) * hop)`` (:mod:`.mfcc`) and takes the decision of the
10 ms frame holding its middle.
"""

import numpy as np

from ..exceptions import ConfigError
from .sad import smooth_mask

__all__ = ["WebRTCStream", "to_frames", "webrtc_speech", "RATES", "VAD_FRAME"]

RATES = (8000, 16000, 32000, 48000)
"""Sampling rates (Hz) the WebRTC VAD accepts."""

VAD_FRAME = 0.01
"""Length (s) of the frames the detector classifies (it takes 10, 20 or 30 ms)."""


def _vad(mode):
    try:
        import webrtcvad
    except ImportError:
        raise ConfigError("sad = webrtc and sad = model_webrtc need the webrtcvad-wheels"
                          " package: pip install 'diarizer[webrtc]'") from None
    return webrtcvad.Vad(int(mode))


class WebRTCStream:
    """Per-10-ms speech decisions of a signal fed in blocks.

    Parameters
    ----------
    sample_rate : int
        Rate of the samples fed (one of :data:`RATES`).
    mode : int, default=2
        Aggressiveness 0 (keeps most speech) .. 3 (rejects most non-speech).

    Raises
    ------
    ConfigError
        ``webrtcvad`` is not installed, or the rate or mode is not one it takes.

    Examples
    --------
    >>> s = WebRTCStream(16000)  # doctest: +SKIP
    >>> s.feed(np.zeros(16000, dtype=np.float32)); s.decisions().shape  # doctest: +SKIP
    (100,)
    """

    def __init__(self, sample_rate, mode=2):
        if int(sample_rate) not in RATES:
            raise ConfigError(f"sad = webrtc works at {', '.join(map(str, RATES))} Hz; set"
                              f" sample_rate to one of them (got {sample_rate}).")
        if int(mode) not in (0, 1, 2, 3):
            raise ConfigError(f"webrtc_mode must be 0, 1, 2 or 3. Got {mode} instead.")
        self.sample_rate = int(sample_rate)
        self.frame = int(round(VAD_FRAME * self.sample_rate))
        self._vad = _vad(mode)
        self._carry = np.zeros(0, dtype=np.int16)
        self._out = []

    def feed(self, block):
        """Classify the whole 10 ms frames of ``block`` (floats in [-1, 1]); keep the rest.

        Parameters
        ----------
        block : ndarray of shape (n_samples,)
        """
        pcm = np.clip(np.asarray(block, dtype=np.float32) * 32767.0, -32768, 32767)
        pcm = np.concatenate([self._carry, np.rint(pcm).astype(np.int16)])
        n = pcm.size // self.frame
        data = pcm[:n * self.frame].astype("<i2").tobytes()
        step = 2 * self.frame
        is_speech = self._vad.is_speech
        self._out.append(np.fromiter((is_speech(data[j * step:(j + 1) * step], self.sample_rate)
                                      for j in range(n)), dtype=bool, count=n))
        self._carry = pcm[n * self.frame:]

    def decisions(self):
        """Decisions so far, the last partial frame zero-padded.

        Returns
        -------
        ndarray of shape (ceil(n_samples / frame),), dtype bool
        """
        if self._carry.size:
            last = np.zeros(self.frame, dtype=np.int16)
            last[:self._carry.size] = self._carry
            self._out.append(np.array([self._vad.is_speech(last.astype("<i2").tobytes(),
                                                           self.sample_rate)]))
            self._carry = np.zeros(0, dtype=np.int16)
        return np.concatenate(self._out) if self._out else np.zeros(0, dtype=bool)


def to_frames(decisions, n_frames, hop):
    """Decisions of 10 ms frames mapped onto ``n_frames`` feature frames of period ``hop``.

    Parameters
    ----------
    decisions : ndarray of shape (m,), bool
        One per :data:`VAD_FRAME` seconds from time 0.
    n_frames : int
    hop : float
        Feature frame period (s).

    Returns
    -------
    ndarray of shape (n_frames,), dtype bool
        The decision of the 10 ms frame holding the middle of every feature frame (False past the
        end of the decisions).

    Examples
    --------
    >>> to_frames(np.array([0, 1, 1, 0], bool), 2, 0.02).tolist()
    [True, False]
    """
    d = np.asarray(decisions, dtype=bool)
    j = np.floor((np.arange(int(n_frames)) + 0.5) * hop / VAD_FRAME + 1e-9).astype(np.int64)
    out = np.zeros(int(n_frames), dtype=bool)
    ok = j < d.size
    out[ok] = d[j[ok]]
    return out


def webrtc_speech(decisions, n_frames, hop, *, min_speech, min_silence, model=None):
    """Speech mask of ``sad = webrtc`` (``model=None``) or ``sad = model_webrtc``.

    Parameters
    ----------
    decisions : ndarray of shape (m,), bool
        WebRTC decisions (:meth:`WebRTCStream.decisions`).
    n_frames : int
    hop : float
        Feature frame period (s).
    min_speech, min_silence : float
        Shortest speech run kept and interior silence filled (s), as :func:`.sad.smooth_mask`.
    model : ndarray of shape (n_frames,), bool, optional
        The model detector's mask: the result is then speech where both find it.

    Returns
    -------
    ndarray of shape (n_frames,), dtype bool
        ``to_frames(decisions)`` (and ``model``), smoothed.
    """
    found = to_frames(decisions, n_frames, hop)
    if model is not None:
        found &= np.asarray(model, dtype=bool)
    return smooth_mask(found, int(round(min_speech / hop)), int(round(min_silence / hop)))
