"""The speech level of an audio file, and the gains that make the diarizer level-invariant.

Recordings come at any level: a meeting recorder with a lot of headroom leaves speech 50-60 dB
below full scale, a close-talk headset 10-20 dB below. Two stages of the diarizer are not level
invariant:

- the WebRTC VAD works on 16-bit samples with fixed energy thresholds. Scaling the ten real
  recordings of the evaluation down by 24 dB took their Forgiving DER from 23 % to 67 % (the VAD
  no longer confirmed their speech), and louder input makes it confirm more noises;
- the MFCC and log-energy floors (``1e-10``, librosa's ``amin``) flatten quiet frames: the model
  speech detector alone went from 26 % to 33 % on the same recordings 24 dB down.

So the pipeline measures the file's speech level (:func:`speech_level`) and

- feeds the WebRTC VAD the audio at exactly the target level (setting ``audio_level``);
- raises quiet audio (more than 3 dB below the target) by ``2**k`` before the features, to
  within 3 dB of the target. A power of two scales every float sample exactly: the MFCCs then
  differ from the unscaled ones only where a floor applies, and in c0 and the log-energy by a
  constant, which the detectors and the clustering do not use as an absolute. Louder audio is
  not lowered: that would only change the rounding of its features.

The default target, -32 dBFS, is the middle of the real meeting recordings' levels (-27 to
-37 dBFS): on them and on every synthetic and real-voice set the results stay those of the
recorded levels, while the same recordings 24 or 60 dB quieter now give them too. A lower target
made WebRTC drop more of the noise runs of the real recordings (-41: Forgiving DER 17.97 against
24.08 over seeds 0-3) but also the runs of quiet participants of meetings whose speakers' levels
differ by up to 24 dB (``levelspread`` set: 28.26 against 21.09, missed speech 15.2 % against
9.3 %).

The speech level is the 95th percentile of the power of 10 ms frames (digital silence left
out), in dB relative to full scale (a full-scale square wave is 0 dBFS, a full-scale sine
-3 dBFS). It is measured on 64 one-second excerpts spread evenly over the file (the whole file
when it is shorter than 128 s), read by seeking, so it costs milliseconds for an hour of audio
and does not need a second pass over the file (one that cannot seek is read once, in blocks).
On an hour of synthetic meeting the excerpts gave the whole file's percentile to 0.02 dB.
"""

import logging
import math

import numpy as np
import soundfile as sf

from .. import filters
from ..exceptions import InputError
from .audio import _mono, _open_info, _short_reason

__all__ = ["speech_level", "level_gain", "file_gains"]

log = logging.getLogger(__name__)

EXCERPTS = 64
"""One-second excerpts the level is measured on."""

PERCENTILE = 95.0
"""Percentile of the 10 ms frame power taken as the speech level."""

_STEP_DB = 20.0 * math.log10(2.0)  # 6.02 dB per power of two
_MAX_SHIFT = 30  # at most 2**30 (180 dB) either way


def speech_level(path, *, excerpts=EXCERPTS, percentile=PERCENTILE, highpass=0.0):
    """Speech level of an audio file in dBFS: a high percentile of its 10 ms frame power.

    Parameters
    ----------
    path : str or os.PathLike
        Audio file in any format libsndfile reads; channels are averaged.
    excerpts : int, default=64
        One-second excerpts read, evenly spread; a file shorter than ``2 * excerpts`` seconds is
        read whole.
    percentile : float, default=95
        Percentile of the frame power (frames of exactly zero power are left out).
    highpass : float, default=0.0
        Cut-off (Hz) of the WebRTC VAD's high-pass filter (``webrtc_highpass``): the level of
        the audio the VAD hears, each excerpt filtered on its own (0 = unfiltered).

    Returns
    -------
    float or None
        ``10 * log10(P)`` with ``P`` the percentile of the mean square of the frames (full
        scale 1.0), or ``None`` when no frame with finite, non-zero samples was read.

    Raises
    ------
    InputError
        The file is missing or unreadable.
    """
    return _speech_levels(path, (highpass,), excerpts, percentile)[0]


def _speech_levels(path, highpasses, excerpts=EXCERPTS, percentile=PERCENTILE):
    """:func:`speech_level` for each cut-off of ``highpasses``, the excerpts read once."""
    info = _open_info(path)
    rate, total = int(info.samplerate), int(info.frames)
    frame = max(1, rate // 100)
    try:
        powers = None
        if total > 2 * excerpts * rate:
            starts = [int((total - rate) * (i + 0.5) / excerpts) for i in range(excerpts)]
            try:
                powers = _excerpt_powers(path, frame, starts, rate, highpasses)
            except (sf.SoundFileError, RuntimeError) as exc:  # cannot seek: read it all
                log.debug("%s: level from one pass (%s)", path, _short_reason(exc))
        if powers is None:
            powers = _excerpt_powers(path, frame, [0], -1, highpasses)
    except (sf.SoundFileError, RuntimeError) as exc:
        raise InputError(path, f"not a readable audio file ({_short_reason(exc)})") from None
    levels = []
    for ps in powers:
        p = np.concatenate(ps) if ps else np.zeros(0)
        levels.append(None if p.size == 0
                      else 10.0 * math.log10(float(np.percentile(p, percentile))))
    return levels


def _excerpt_powers(path, frame, starts, length, highpasses=(0.0,)):
    """Mean squares of the whole ``frame``-sample frames of excerpts of a file.

    For every cut-off of ``highpasses`` (Hz, 0 = unfiltered), of the excerpts high-passed as
    the WebRTC VAD's input (:func:`diarizer.filters.highpass`), each block leaving out the 25 ms
    at either end whose filter reaches past it.

    ``length`` samples are read from each of ``starts`` (``-1``: to the end), in blocks of 1000
    frames, so memory stays bounded whatever the length.

    Returns
    -------
    list (one per cut-off) of lists of float64 arrays
        Finite, non-zero frame powers of every block read.

    Raises
    ------
    soundfile.SoundFileError, RuntimeError
        The file cannot be read or cannot seek (``starts`` other than ``[0]``).
    """
    out = [[] for _ in highpasses]
    block = frame * 1000  # 10 s at 10 ms frames
    with sf.SoundFile(path) as fh:
        cuts = [hp if hp and 0 < hp < fh.samplerate / 2 else 0 for hp in highpasses]
        if starts != [0] and not fh.seekable():
            raise sf.SoundFileError("the file cannot seek")
        for start in starts:
            if start:
                fh.seek(start)
            left = length
            while left != 0:
                data = fh.read(block if left < 0 else min(block, left), dtype="float32",
                               always_2d=True)
                if data.shape[0] == 0:
                    break
                if left > 0:
                    left -= data.shape[0]
                mono = _mono(data)
                for cut, powers in zip(cuts, out):
                    # with a cut-off, the block's samples whose filter lies within it
                    x = filters.highpass(mono, cut, fh.samplerate, edges=False) if cut else mono
                    n = x.size // frame * frame
                    if n:
                        c = x[:n].reshape(-1, frame)
                        p = np.einsum("ij,ij->i", c, c, dtype=np.float64) / frame
                        powers.append(p[np.isfinite(p) & (p > 0)])
    return out


def level_gain(level, target, exact=False, amplify_only=False):
    """The power-of-two gain that brings ``level`` (dBFS) within 3 dB of ``target`` (dBFS).

    Parameters
    ----------
    level : float or None
        Measured speech level (:func:`speech_level`); ``None`` gives 1.0.
    target : float
        Wanted speech level.
    exact : bool, default=False
        Return the gain that brings ``level`` to ``target`` exactly (for the WebRTC VAD, whose
        input is rounded to 16 bits anyway) instead of a power of two.
    amplify_only : bool, default=False
        Never return less than 1.0 (the features only need quiet audio raised above their
        floors).

    Returns
    -------
    float
        ``2.0 ** k`` with ``k = round((target - level) / 6.02)``, ``|k| <= 30``; with
        ``exact``, ``10 ** ((target - level) / 20)`` within the same bounds.
    """
    if level is None:
        return 1.0
    if exact:
        db = max(-_MAX_SHIFT * _STEP_DB, min(_MAX_SHIFT * _STEP_DB, float(target) - float(level)))
        gain = 10.0 ** (db / 20.0)
    else:
        k = int(round((float(target) - float(level)) / _STEP_DB))
        gain = 2.0 ** max(-_MAX_SHIFT, min(_MAX_SHIFT, k))
    return max(gain, 1.0) if amplify_only else gain


def file_gains(path, target, highpass=0.0):
    """The gains the pipeline applies to an audio file for a target speech level.

    Parameters
    ----------
    path : str or os.PathLike
    target : float
        Setting ``audio_level`` (dBFS); 0 leaves the recorded level.
    highpass : float, default=0.0
        Setting ``webrtc_highpass`` (Hz): the VAD hears its filtered input at ``target``, since
        the filter takes some of the speech's power (a voice's fundamental and first
        harmonics).

    Returns
    -------
    level : float or None
        The file's speech level (:func:`speech_level`; ``None`` when not measured).
    gain : float
        Power of two applied to the samples before the features (at least 1).
    vad_gain : float
        Further factor of the WebRTC VAD's input, which then hears the file at ``target``.
    """
    if not target:
        return None, 1.0, 1.0
    level, heard = _speech_levels(path, (0.0, highpass)) if highpass else [speech_level(path)] * 2
    gain = level_gain(level, target, amplify_only=True)
    return level, gain, level_gain(heard, target, exact=True) / gain
