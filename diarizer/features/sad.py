"""A simple energy speech activity detector: a per-file log-energy threshold plus run smoothing.

The threshold adapts to each file. Frames at the log-energy floor (digital silence, zero padding)
are left out, then two robust levels are read off the remaining frames' distribution::

    noise  = 5th percentile            (the quiet floor: room noise between words)
    speech = 95th percentile           (loud speech)
    threshold = noise + 0.35 * (speech - noise),  but at least noise + 1.5  (6.5 dB)

The lower bound matters for files that are mostly silence: when less than 5 % of the frames are
speech, the 95th percentile is still noise, and speech is whatever rises 6.5 dB above the floor.
A file in which no frame rises 1.5 nats (about 6.5 dB) above the floor has no usable contrast:
either it is all speech (a close-talk recording without pauses) or all noise. It is then marked as
speech throughout, which is what the original program did without a speech/non-speech file, and
a warning is logged.

Smoothing works on runs of frames, in this order::

    1. fill:  a silence run shorter than min_silence with speech on both sides becomes speech
    2. drop:  a speech run shorter than min_speech (after filling) becomes silence

    raw        ..####.#####......##.......
    1. fill    ..##########......##.......      (the 1-frame gap is filled)
    2. drop    ..##########...............      (the 2-frame blip is dropped)

Filling first means a word split by a short pause counts as one run, so it is not dropped for being
short; leading and trailing silence are never filled.
"""

import logging

import numpy as np

__all__ = ["energy_sad", "energy_threshold", "smooth_mask", "mask_to_runs"]

log = logging.getLogger(__name__)

_NOISE_PERCENTILE = 5.0
_SPEECH_PERCENTILE = 95.0
_FRACTION = 0.35
_MIN_CONTRAST = 1.5  # nats of log-energy (10 * log10(e**1.5) = 6.5 dB)
_FLOOR_TOL = 1e-3


def mask_to_runs(mask):
    """Split a boolean mask into runs.

    Parameters
    ----------
    mask : ndarray of shape (n_frames,), dtype bool

    Returns
    -------
    starts, ends, values : ndarray of shape (n_runs,)
        Run ``k`` covers frames ``[starts[k], ends[k])`` and has value ``values[k]``.

    Examples
    --------
    >>> import numpy as np
    >>> [a.tolist() for a in mask_to_runs(np.array([0, 1, 1, 0], bool))]
    [[0, 1, 3], [1, 3, 4], [False, True, False]]
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=bool)
    change = np.flatnonzero(mask[1:] != mask[:-1]) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [mask.size]])
    return starts, ends, mask[starts]


def smooth_mask(mask, min_speech, min_silence):
    """Fill short interior silences, then drop short speech runs.

    Parameters
    ----------
    mask : ndarray of shape (n_frames,), dtype bool
        Raw speech decisions.
    min_speech : int
        Speech runs shorter than this many frames (after filling) become silence.
    min_silence : int
        Silence runs shorter than this many frames, with speech on both sides, become speech.

    Returns
    -------
    ndarray of shape (n_frames,), dtype bool
        A new array.
    """
    out = np.array(mask, dtype=bool, copy=True)
    starts, ends, values = mask_to_runs(out)
    interior = (starts > 0) & (ends < out.size)
    for s, e in zip(starts[~values & interior], ends[~values & interior]):
        if e - s < min_silence:
            out[s:e] = True
    starts, ends, values = mask_to_runs(out)
    for s, e in zip(starts[values], ends[values]):
        if e - s < min_speech:
            out[s:e] = False
    return out


def energy_threshold(log_energy):
    """The per-file speech threshold on log-energy (see the module docstring for the rule).

    Parameters
    ----------
    log_energy : ndarray of shape (n_frames,)
        Frame log-energy (natural log), e.g. from :func:`diarizer.features.mfcc.log_energy`.

    Returns
    -------
    float
        The threshold; ``-inf`` when the file has too little contrast (everything is speech).
    """
    e = np.asarray(log_energy, dtype=np.float64)
    floor = e.min()
    live = e[e > floor + _FLOOR_TOL]
    if live.size < 2:
        live = e
    noise, speech = np.percentile(live, [_NOISE_PERCENTILE, _SPEECH_PERCENTILE])
    if live.max() - noise < _MIN_CONTRAST:
        return -np.inf
    return float(max(noise + _FRACTION * (speech - noise), noise + _MIN_CONTRAST))


def energy_sad(log_energy, *, hop=0.01, min_speech=0.25, min_silence=0.3, threshold=None):
    """Mark speech frames by thresholding frame log-energy, then smooth the runs.

    Parameters
    ----------
    log_energy : ndarray of shape (n_frames,)
        Frame log-energy (natural log), e.g. :func:`diarizer.features.mfcc.log_energy`.
    hop : float, default=0.01
        Frame period (s), to turn the durations below into frames (rounded to nearest).
    min_speech : float, default=0.25
        Shortest speech run kept (s), applied after filling.
    min_silence : float, default=0.3
        Shortest interior silence kept (s); shorter gaps between speech are filled first.
    threshold : float, optional
        Absolute threshold in the units of ``log_energy`` (frames strictly above are speech). The
        default adapts to the file, see :func:`energy_threshold`.

    Returns
    -------
    ndarray of shape (n_frames,), dtype bool
        True where there is speech.

    Raises
    ------
    ValueError
        ``log_energy`` is not a 1-D finite array, or a duration is negative.

    Examples
    --------
    >>> import numpy as np
    >>> e = np.array([0, 0, 9, 9, 9, 0, 9, 9, 9, 0, 0, 9, 0], dtype=float)
    >>> energy_sad(e, hop=1, min_speech=2, min_silence=2, threshold=4.5).astype(int).tolist()
    [0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0]
    """
    e = np.asarray(log_energy)
    if e.ndim != 1:
        raise ValueError(f"log_energy must be 1-D. Got an array of shape {e.shape} instead.")
    if e.size and not np.all(np.isfinite(e)):
        raise ValueError("log_energy must be finite. Got NaN or infinite values.")
    if hop <= 0 or min_speech < 0 or min_silence < 0:
        raise ValueError(
            "hop must be > 0 and min_speech, min_silence >= 0."
            f" Got hop={hop}, min_speech={min_speech}, min_silence={min_silence} instead."
        )
    if e.size == 0:
        return np.zeros(0, dtype=bool)
    if threshold is None:
        threshold = energy_threshold(e)
        if threshold == -np.inf:
            log.warning("energy SAD: log-energy range too small to separate speech from"
                        " silence; marking every frame as speech")
            return np.ones(e.size, dtype=bool)
    raw = e > threshold
    out = smooth_mask(raw, int(round(min_speech / hop)), int(round(min_silence / hop)))
    log.info("energy SAD: threshold %.2f, %.1f%% of %d frames are speech", threshold,
             100.0 * out.mean(), e.size)
    return out


def _spread(idx, limit):
    """At most ``limit`` evenly spaced entries of ``idx``."""
    if idx.size <= limit:
        return idx
    return idx[np.linspace(0, idx.size - 1, limit).round().astype(np.int64)]


def model_sad(X, log_energy, *, hop=0.01, min_speech=0.25, min_silence=0.3, n_speech=16,
              n_nonspeech=4, iterations=3, smooth=0.1, backend="numpy", seed=0,
              max_train=60000):
    """Speech detection by speech and non-speech GMMs bootstrapped from the energy detector.

    The energy detector labels the frames; a speech GMM and a non-speech GMM are trained on the
    MFCCs plus log-energy of their frames (with the package's own engine), every frame is labelled
    by the log-likelihood ratio (averaged over ``smooth`` seconds), the runs are smoothed with the
    minimum speech and silence durations, and the models are retrained on the new labels,
    ``iterations`` times. This adapts the decision to the spectral shape of the file's own noise
    and speech, which a level threshold cannot see (low-level speech, loud noise).

    The GMM engine sits above this module in the package's layers; it is imported here, inside
    the function, because the detector belongs with the other speech detectors.

    Parameters
    ----------
    X : ndarray of shape (n_frames, n_features)
        Frame features (e.g. MFCCs), aligned with ``log_energy``.
    log_energy : ndarray of shape (n_frames,)
        Frame log-energy.
    hop : float, default=0.01
        Frame period (s).
    min_speech, min_silence : float, default=0.25, 0.3
        Shortest speech run and interior silence kept (s).
    n_speech, n_nonspeech : int, default=16, 4
        Gaussians of the two models (fewer when a class has few frames).
    iterations : int, default=3
        Label / retrain rounds.
    smooth : float, default=0.1
        Length (s) of the moving average applied to the frame log-likelihood ratio.
    backend : str, default='numpy'
        Array namespace of the engine.
    seed : int, default=0
        Seed of the k-means initialisation.
    max_train : int, default=60000
        At most this many evenly spaced frames of each class train its model; every frame is
        still scored.

    Returns
    -------
    ndarray of shape (n_frames,), dtype bool
        True where there is speech.
    """
    from .._xp import get_xp, to_numpy
    from ..gmm import GMMSet

    mask = energy_sad(log_energy, hop=hop, min_speech=min_speech, min_silence=min_silence)
    e = np.asarray(log_energy, dtype=np.float64)
    F = np.concatenate([np.asarray(X, dtype=np.float64), e[:, None]], axis=1)
    F = (F - F.mean(axis=0)) / (F.std(axis=0) + 1e-9)
    xp = get_xp(backend)
    Fx = xp.asarray(F)
    width = max(int(round(smooth / hop)), 1)
    kernel = np.ones(width) / width
    min_sp, min_sil = int(round(min_speech / hop)), int(round(min_silence / hop))
    for _ in range(iterations):
        n_sp, n_ns = int(mask.sum()), int((~mask).sum())
        if min(n_sp, n_ns) < 50:  # one class (almost) empty: nothing to learn from
            break
        # train on at most `max_train` evenly spaced frames per class (10 minutes at 10 ms):
        # the models need a sample of each class, not every frame of a long recording
        groups = [_spread(np.flatnonzero(mask), max_train),
                  _spread(np.flatnonzero(~mask), max_train)]
        sizes = [max(1, min(n_speech, n_sp // 50)), max(1, min(n_nonspeech, n_ns // 50))]
        models = GMMSet.concat([
            GMMSet.initialize(Fx, [groups[i]], sizes[i], init="kmeans", xp=xp,
                              random_state=seed, reg_covar=1e-3)
            for i in range(2)])
        models.fit(Fx, groups, max_iter=10)
        ll = np.asarray(to_numpy(models.log_likelihood(Fx)), dtype=np.float64)
        llr = np.convolve(ll[:, 0] - ll[:, 1], kernel, mode="same")
        new = smooth_mask(llr > 0, min_sp, min_sil)
        if np.array_equal(new, mask):
            break
        mask = new
    log.info("model SAD: %.1f%% of %d frames are speech", 100.0 * mask.mean(), mask.size)
    return mask
