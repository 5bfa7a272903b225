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


def _dilate(mask, width):
    """Extend every True run of ``mask`` by ``width`` frames on both sides (clipped to the ends).

    Examples
    --------
    >>> import numpy as np
    >>> _dilate(np.array([0, 0, 0, 1, 0, 0, 0, 0, 1], bool), 2).astype(int).tolist()
    [0, 1, 1, 1, 1, 1, 1, 1, 1]
    """
    n = mask.size
    counts = np.concatenate([[0], np.cumsum(mask, dtype=np.int64)])
    t = np.arange(n)
    return counts[np.minimum(t + width + 1, n)] > counts[np.maximum(t - width, 0)]


def _model_features(X, log_energy, rows):
    """MFCCs, log-energy and its delta, standardised with the statistics of ``rows``, float32.

    Parameters
    ----------
    X : ndarray of shape (n_frames, n_features)
    log_energy : ndarray of shape (n_frames,)
    rows : ndarray of int
        Frames whose mean and standard deviation standardise every frame (a sample is enough).

    Returns
    -------
    ndarray of shape (n_frames, n_features + 2), dtype float32
    """
    e = np.asarray(log_energy, dtype=np.float32)
    F = np.empty((e.size, X.shape[1] + 2), dtype=np.float32)
    F[:, :-2] = X
    F[:, -2] = e
    F[:, -1] = np.gradient(e) if e.size > 1 else 0.0  # (e[t+1] - e[t-1]) / 2: onsets, offsets
    S = F[rows].astype(np.float64)
    F -= S.mean(axis=0).astype(np.float32)
    F /= (S.std(axis=0) + 1e-6).astype(np.float32)
    return F


def model_sad(X, log_energy, *, hop=0.01, min_speech=0.25, min_silence=0.3, n_speech=16,
              n_nonspeech=4, iterations=3, smooth=0.1, clip=3.0, tol=0.005, pad=0.0,
              backend="numpy", seed=0, max_train=20000):
    """Speech detection by speech and non-speech GMMs bootstrapped from the energy detector.

    The energy detector labels the frames; a speech GMM and a non-speech GMM are trained on the
    MFCCs, log-energy and delta log-energy of their frames (with the package's own engine), every
    frame is labelled by the log-likelihood ratio, the runs are smoothed with the minimum speech
    and silence durations, and the models are retrained on the new labels. This adapts the
    decision to the spectral shape of the file's own noise and speech, which a level threshold
    cannot see (low-level speech, loud noise).

    Steps, for ``N`` frames::

        sample   T = min(N, max_train) evenly spaced frames train both models (labels from the
                 current mask); every frame is scored
        round    fit (warm start after the first round), float32 log-likelihoods of all N frames,
                 llr = clip(ll_speech - ll_nonspeech, -clip, clip), moving average over
                 ``smooth`` s, llr > 0, fill / drop runs (:func:`smooth_mask`)
        stop     after ``iterations`` rounds, or when a round changes fewer than ``tol * N``
                 decisions
        pad      optional hangover: every speech run grows by ``pad`` s on both sides, then the
                 silences this narrowed below ``min_silence`` are filled

    Clipping bounds the evidence of one frame: a loud frame (LLR of +30 next to a pause of -2 per
    frame) can no longer drag the moving average across a speech boundary, which made the
    unclipped detector extend every turn by a few frames on both sides (false alarm at turn ends).

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
        Gaussians of the two models (fewer when a class has few training frames).
    iterations : int, default=3
        At most this many label / retrain rounds.
    smooth : float, default=0.1
        Length (s) of the moving average applied to the clipped frame log-likelihood ratio.
    clip : float or None, default=3.0
        Bound on the per-frame log-likelihood ratio before averaging; None disables it.
    tol : float, default=0.005
        Stop once a round changes fewer than this fraction of the frame decisions.
    pad : float, default=0.0
        Hangover (s) added to both ends of every speech run at the end. Diarization references
        count the pauses inside a turn as speech and a scoring collar forgives the padding at
        turn ends, so a pad of about 0.1 s lowers missed speech there (see the report in
        ``benchmarks/sad_eval.py``); 0 keeps the frame-accurate boundaries.
    backend : str, default='numpy'
        Array namespace of the engine.
    seed : int, default=0
        Seed of the k-means initialisation.
    max_train : int, default=20000
        At most this many evenly spaced frames (both classes together) train the models.

    Returns
    -------
    ndarray of shape (n_frames,), dtype bool
        True where there is speech.

    Raises
    ------
    ValueError
        ``X`` and ``log_energy`` do not have the same number of frames, or a setting is out of
        range (and as :func:`energy_sad`).
    """
    from .._xp import get_xp, to_numpy
    from ..gmm import GMMSet

    X = np.asarray(X)
    e = np.asarray(log_energy)
    if X.ndim != 2 or e.ndim != 1 or X.shape[0] != e.shape[0]:
        raise ValueError("X must be of shape (n_frames, n_features) and log_energy of shape"
                         f" (n_frames,). Got {X.shape} and {e.shape} instead.")
    if (iterations < 1 or max_train < 100 or smooth <= 0 or pad < 0
            or (clip is not None and clip <= 0)):
        raise ValueError("iterations must be >= 1, max_train >= 100, smooth > 0, pad >= 0 and"
                         f" clip > 0 or None. Got iterations={iterations},"
                         f" max_train={max_train}, smooth={smooth}, pad={pad}, clip={clip}"
                         " instead.")
    mask = energy_sad(e, hop=hop, min_speech=min_speech, min_silence=min_silence)
    n = mask.size
    sample = _spread(np.arange(n), max_train)
    F = _model_features(X, e, sample)
    xp = get_xp(backend)
    Fx, Ft = xp.asarray(F), xp.asarray(np.ascontiguousarray(F[sample]))
    width = max(int(round(smooth / hop)), 1)
    kernel = np.full(width, 1.0 / width, dtype=np.float32)
    min_sp, min_sil = int(round(min_speech / hop)), int(round(min_silence / hop))
    models = None
    for it in range(iterations):
        lab = mask[sample]
        groups = [np.flatnonzero(lab), np.flatnonzero(~lab)]
        if min(g.size for g in groups) < 50:  # one class (almost) empty: nothing to learn from
            break
        if models is None:  # k-means once; later rounds warm-start EM from the last models
            sizes = [max(1, min(n_speech, groups[0].size // 50)),
                     max(1, min(n_nonspeech, groups[1].size // 50))]
            models = GMMSet.concat([
                GMMSet.initialize(Ft, [groups[i]], sizes[i], init="kmeans", xp=xp,
                                  dtype="float32", random_state=seed, reg_covar=1e-3)
                for i in range(2)])
        models.fit(Ft, groups, max_iter=10)
        ll = to_numpy(models.log_likelihood(Fx))
        llr = ll[:, 0] - ll[:, 1]
        if clip is not None:
            llr = np.clip(llr, -clip, clip)
        new = smooth_mask(np.convolve(llr, kernel, mode="same") > 0, min_sp, min_sil)
        changed = int(np.count_nonzero(new != mask))
        mask = new
        log.debug("model SAD round %d: %d of %d decisions changed", it + 1, changed, n)
        if changed < tol * n:
            break
    width = int(round(pad / hop))
    if width:
        mask = smooth_mask(_dilate(mask, width), min_sp, min_sil)
    log.info("model SAD: %.1f%% of %d frames are speech", 100.0 * mask.mean(), mask.size)
    return mask
