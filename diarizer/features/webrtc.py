"""Second speech detector: the WebRTC voice activity detector (``webrtcvad-wheels``).

The WebRTC VAD (Google's, from the WebRTC project) classifies 10-30 ms frames of 16-bit PCM with
a small built-in Gaussian model of speech and noise sub-band energies; it needs no download and
no training. It backs up the package's own detector (:mod:`.sad`): the default,
``sad = model_webrtc_runs``, keeps each speech run of the model detector whole, or drops it whole
when this detector finds speech in less than ``webrtc_min_share`` of it (:func:`confirmed_runs`),
so the non-speech sounds the model takes for speech go and every other run stays exactly as the
model found it. ``sad = webrtc`` uses it alone and ``sad = model_webrtc`` keeps the speech both
detectors find; ``benchmarks/sad_eval.py`` prints them all side by side (see README).

:class:`WebRTCStream` is fed the resampled signal block by block while the MFCCs are computed
(:func:`.stream.audio_features`), so the signal is never whole in memory, and returns one
decision per 10 ms (or 20 or 30 ms). :func:`to_frames` maps those decisions onto the feature
frames: frame ``i`` stands for the time ``[i * hop, (i + 1) * hop)`` (:mod:`.mfcc`) and takes the
decision of the VAD frame holding its middle.
"""

import numpy as np

from ..exceptions import ConfigError
from ..filters import HighPass
from .sad import mask_to_runs, smooth_mask

__all__ = ["WebRTCStream", "to_frames", "confirmed_runs", "webrtc_speech", "rule_of", "vad_frame",
           "RATES", "VAD_FRAME", "RUNS_FRAME", "HIGHPASS"]

RATES = (8000, 16000, 32000, 48000)
"""Sampling rates (Hz) the WebRTC VAD accepts."""

VAD_FRAME = 0.01
"""Length (s) of the frames the detector classifies by default (it takes 10, 20 or 30 ms)."""

HIGHPASS = 250.0
"""Default cut-off (Hz) of the high-pass filter before the VAD (``webrtc_highpass``). On the
real recordings of the evaluation it stops the VAD confirming 5.9 s of the model detector's
runs, a low rumble in ``dev01`` and a noise in ``sample``, and drops no speech:
``model_webrtc_runs`` 10.7 -> 8.3 % missed + false-alarm speech. The VAD then finds speech in
5-9 % of the rumble's two runs (28 and 34 % at 200 Hz, where one of them stays: 9.9 %; the run
is kept from 30 %), 7-23 % with its input 1 dB quieter or louder, and in 82-92 % of the file's
speech runs. 300 Hz drops the same runs and loses a little quiet speech (8.4 %). On the
``levelspread`` set (speakers up to 19 dB apart) it loses 5.5 s of two quiet speakers' 755 s
(200 Hz: 4.0 s); the masks of every other synthetic and real-voice evaluation meeting are
unchanged."""

RUNS_FRAME = 0.03
"""VAD frame length (s) of ``sad = model_webrtc_runs``: a whole run is judged, so 30 ms frames
lose nothing and take half the time of 10 ms ones (0.56 against 1.15 s per hour of audio)."""


def rule_of(sad):
    """How :func:`webrtc_speech` combines the detectors for the ``sad`` setting.

    ``'runs'`` for ``model_webrtc_runs``, ``'and'`` otherwise (``model_webrtc``; ``webrtc`` passes
    no model mask, so the rule does not matter for it).
    """
    return "runs" if sad == "model_webrtc_runs" else "and"


def vad_frame(rule="and"):
    """VAD frame length (s) that :func:`webrtc_speech` expects for ``rule``.

    :data:`RUNS_FRAME` for ``'runs'``, :data:`VAD_FRAME` otherwise.
    """
    return RUNS_FRAME if rule == "runs" else VAD_FRAME


def _vad(mode):
    try:
        import webrtcvad
    except ImportError:
        raise ConfigError("sad = model_webrtc_runs (the default), webrtc and model_webrtc need"
                          " the webrtcvad-wheels package, a dependency of diarizer: pip install"
                          " 'diarizer[webrtc]', or set sad = model") from None
    return webrtcvad.Vad(int(mode))


class WebRTCStream:
    """Speech decisions, one per VAD frame, of a signal fed in blocks.

    Parameters
    ----------
    sample_rate : int
        Rate of the samples fed (one of :data:`RATES`).
    mode : int, default=2
        Aggressiveness 0 (keeps most speech) .. 3 (rejects most non-speech).
    frame : {0.01, 0.02, 0.03}, default=VAD_FRAME
        Length (s) of the frames classified.
    gain : float, default=1.0
        Factor applied to the samples before they are rounded to 16 bits for the VAD, whose
        energy thresholds are absolute (:mod:`diarizer.io.level`).
    highpass : float, default=0.0
        Cut-off (Hz) of the high-pass filter (:class:`diarizer.filters.HighPass`, linear phase,
        no delay) the samples go through before the VAD (0 = none). The VAD's lowest sub-band
        starts at 80 Hz, so a rumble below ~150 Hz (a motor, a table knock, wind) passes for
        speech; voices keep their harmonics above the cut-off (:data:`HIGHPASS`).

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

    def __init__(self, sample_rate, mode=2, frame=VAD_FRAME, gain=1.0, highpass=0.0):
        if int(sample_rate) not in RATES:
            raise ConfigError(f"the WebRTC VAD (sad = model_webrtc_runs, the default, webrtc and"
                              f" model_webrtc) works at {', '.join(map(str, RATES))} Hz; set"
                              f" sample_rate to one of them, or sad = model (got {sample_rate}).")
        if int(mode) not in (0, 1, 2, 3):
            raise ConfigError(f"webrtc_mode must be 0, 1, 2 or 3. Got {mode} instead.")
        if round(frame * 1000) not in (10, 20, 30):
            raise ValueError(f"WebRTC VAD frames last 10, 20 or 30 ms. Got {frame} s instead.")
        self.sample_rate = int(sample_rate)
        self.frame = int(round(frame * 1000)) * self.sample_rate // 1000  # samples per frame
        self._vad = _vad(mode)
        self._scale = np.float32(32767.0 * float(gain))
        self._carry = np.zeros(0, dtype=np.int16)
        self._out = []
        self._highpass = None
        if highpass:
            try:
                self._highpass = HighPass(float(highpass), self.sample_rate)
            except ValueError:  # the cut-off is not below half the sample rate
                raise ConfigError(f"webrtc_highpass must be between 0 and half the sample rate"
                                  f" ({self.sample_rate / 2:g} Hz). Got {highpass} instead.") \
                    from None

    def feed(self, block):
        """Classify the whole VAD frames of ``block`` (floats in [-1, 1]); keep the rest.

        Parameters
        ----------
        block : ndarray of shape (n_samples,)
        """
        block = np.asarray(block, dtype=np.float32)
        if self._highpass is not None:
            block = self._highpass.feed(block)  # the filter returns whole segments only
        self._classify(block)

    def _classify(self, block):
        """Classify the whole VAD frames of ``block`` after the carried samples; keep the rest."""
        pcm = np.clip(block * self._scale, -32768, 32767)
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
        if self._highpass is not None:
            rest = self._highpass.flush()
            self._highpass = None
            self._classify(rest)
        if self._carry.size:
            last = np.zeros(self.frame, dtype=np.int16)
            last[:self._carry.size] = self._carry
            self._out.append(np.array([self._vad.is_speech(last.astype("<i2").tobytes(),
                                                           self.sample_rate)]))
            self._carry = np.zeros(0, dtype=np.int16)
        return np.concatenate(self._out) if self._out else np.zeros(0, dtype=bool)


def to_frames(decisions, n_frames, hop, frame=VAD_FRAME):
    """Decisions of VAD frames mapped onto ``n_frames`` feature frames of period ``hop``.

    Parameters
    ----------
    decisions : ndarray of shape (m,), bool
        One per ``frame`` seconds from time 0.
    n_frames : int
    hop : float
        Feature frame period (s).
    frame : float, default=VAD_FRAME
        VAD frame length (s).

    Returns
    -------
    ndarray of shape (n_frames,), dtype bool
        The decision of the VAD frame holding the middle of every feature frame (False past the
        end of the decisions).

    Examples
    --------
    >>> to_frames(np.array([0, 1, 1, 0], bool), 2, 0.02).tolist()
    [True, False]
    """
    d = np.asarray(decisions, dtype=bool)
    j = np.floor((np.arange(int(n_frames)) + 0.5) * hop / frame + 1e-9).astype(np.int64)
    out = np.zeros(int(n_frames), dtype=bool)
    ok = j < d.size
    out[ok] = d[j[ok]]
    return out


def confirmed_runs(model, found, min_share):
    """The speech runs of ``model`` in which ``found`` marks at least ``min_share`` of the frames.

    Every run is kept whole or dropped whole, so the boundaries and pauses stay those of
    ``model``; only runs the second detector hardly agrees with disappear (on the real
    recordings of the evaluation, 4.7 s of the model's runs, all non-speech in the reference;
    broadband noise, clicks and hum were still taken for speech by WebRTC too).

    Parameters
    ----------
    model : ndarray of shape (n_frames,), bool
        The model detector's (smoothed) speech mask.
    found : ndarray of shape (n_frames,), bool
        The second detector's decisions per frame.
    min_share : float
        Smallest fraction of a run's frames ``found`` must mark for the run to stay.

    Returns
    -------
    ndarray of shape (n_frames,), dtype bool

    Examples
    --------
    >>> m = np.array([1, 1, 1, 1, 0, 1, 1, 1, 1, 0], bool)
    >>> f = np.array([0, 1, 0, 0, 0, 0, 0, 0, 0, 0], bool)
    >>> confirmed_runs(m, f, 0.25).astype(int).tolist()
    [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    """
    out = np.array(model, dtype=bool, copy=True)
    starts, ends, values = mask_to_runs(out)
    hits = np.concatenate([[0], np.cumsum(np.asarray(found, dtype=bool)[:out.size])])
    for a, b in zip(starts[values], ends[values]):
        if hits[b] - hits[a] < min_share * (b - a):
            out[a:b] = False
    return out


def webrtc_speech(decisions, n_frames, hop, *, min_speech, min_silence, model=None, rule="and",
                  min_share=0.3):
    """Speech mask of ``sad = webrtc``, ``model_webrtc`` or ``model_webrtc_runs``.

    Parameters
    ----------
    decisions : ndarray of shape (m,), bool
        WebRTC decisions (:meth:`WebRTCStream.decisions`) on frames of :func:`vad_frame`
        ``(rule)`` seconds.
    n_frames : int
    hop : float
        Feature frame period (s).
    min_speech, min_silence : float
        Shortest speech run kept and interior silence filled (s), as :func:`.sad.smooth_mask`.
    model : ndarray of shape (n_frames,), bool, optional
        The model detector's (smoothed) mask.
    rule : {'and', 'runs'}, default='and'
        With ``model``: speech where both find it, smoothed (``model_webrtc``), or the model's
        runs that WebRTC confirms (:func:`confirmed_runs`, ``model_webrtc_runs``).
    min_share : float, default=0.3
        ``rule='runs'``: fraction of a run WebRTC must find speech in.

    Returns
    -------
    ndarray of shape (n_frames,), dtype bool
        ``to_frames(decisions)`` smoothed; with ``model``, combined by ``rule``.
    """
    found = to_frames(decisions, n_frames, hop, vad_frame(rule))
    if model is not None and rule == "runs":
        return confirmed_runs(model, found, min_share)
    if model is not None:
        found &= np.asarray(model, dtype=bool)
    return smooth_mask(found, int(round(min_speech / hop)), int(round(min_silence / hop)))
