"""Name the clusters of a meeting after enrolled speakers.

Every cluster's frames are scored against every enrolled model and the background model; the
score of (cluster c, speaker s) is the average per-frame log-likelihood ratio::

    LLR(c, s) = 1/|c| * sum_{n in c} [ log p(x_n | speaker s) - log p(x_n | UBM) ]

The raw LLR alone confuses "speech that fits this speaker" with "speech that fits many enrolled
models": with many enrolled speakers an unenrolled voice often finds one whose LLR is high. So the
score of the best speaker is also T-normalised against the cohort of the other enrolled speakers
(Auckenthaler et al. 2000)::

    T(c, s) = (LLR(c, s) - mean_{s' != s} LLR(c, s')) / std_{s' != s} LLR(c, s')

A cluster takes the name of its best speaker (highest LLR) when that LLR exceeds ``id_threshold``
and, if at least ``min_cohort`` other speakers are enrolled, its T-score exceeds
``tnorm_threshold``; otherwise it keeps its ``spkNN`` label. With a smaller cohort the mean and
standard deviation are too noisy to use, and the raw threshold alone decides (false naming grows
with the number of enrolled speakers, so a small set needs the cohort least). Two clusters may
take the same name (the diarization split one person in two); their frames then carry one label.

The defaults (``id_threshold`` 0.8 with models enrolled at relevance factor 4, ``tnorm_threshold``
4.5, ``min_cohort`` 10) were chosen on one LibriSpeech split of ``benchmarks/speaker_id.py``
(``--seed 1``) and reported on another (``--seed 0``).
"""

import logging

import numpy as np

from .._xp import to_numpy

__all__ = ["score_clusters", "tnorm_scores", "name_clusters", "TNORM_THRESHOLD", "MIN_COHORT"]

log = logging.getLogger(__name__)

#: Minimum T-score of the best enrolled speaker (used when the cohort is large enough).
TNORM_THRESHOLD = 4.5
#: Minimum number of other enrolled speakers for the T-score to be used.
MIN_COHORT = 10


def score_clusters(db, X, labels, *, chunk_size=None):
    """Average per-frame LLR of every cluster against every enrolled speaker.

    Parameters
    ----------
    db : SpeakerDB
        Enrolled speakers (see :func:`diarizer.speakers.load_speakers`).
    X : ndarray of shape (n_frames, n_features)
        Frames (only those with a label >= 0 are scored).
    labels : ndarray of shape (n_frames,)
        Cluster index per frame in ``[-1, n_clusters)``.
    chunk_size : int, optional
        Frames per scoring chunk.

    Returns
    -------
    ndarray of shape (n_clusters, n_speakers)
        LLR per cluster and speaker (``-inf`` for a cluster without frames; no columns when
        nobody is enrolled).
    """
    labels = np.asarray(labels)
    K = int(labels.max()) + 1 if labels.size else 0
    S = len(db.entries)
    out = np.full((K, S), -np.inf)
    if K == 0 or S == 0:
        return out
    keep = labels >= 0
    Xk = np.asarray(X)[keep]
    lab = labels[keep]
    spk = to_numpy(db.models.log_likelihood(Xk, chunk_size=chunk_size))
    bg = to_numpy(db.ubm.log_likelihood(Xk, chunk_size=chunk_size))[:, 0]
    llr = spk - bg[:, None]
    counts = np.bincount(lab, minlength=K)
    sums = np.zeros((K, S))
    np.add.at(sums, lab, llr)
    has = counts > 0
    out[has] = sums[has] / counts[has, None]
    return out


def tnorm_scores(llr, *, min_cohort=MIN_COHORT):
    """T-normalised scores: each LLR against the other speakers' LLRs of the same cluster.

    Parameters
    ----------
    llr : ndarray of shape (n_clusters, n_speakers)
        Output of :func:`score_clusters`.
    min_cohort : int, default=10
        Fewest other speakers for a score; with fewer, every score is NaN.

    Returns
    -------
    ndarray of shape (n_clusters, n_speakers)
        ``(llr[c, s] - m) / sd`` with ``m`` and ``sd`` the mean and (population) standard
        deviation of ``llr[c, s']`` over ``s' != s``; NaN for clusters with a non-finite LLR, for
        a cohort smaller than ``min_cohort`` and for a cohort of identical scores.

    Examples
    --------
    >>> tnorm_scores(np.array([[4.0, 1.0, 2.0, 3.0]]), min_cohort=3).round(4)
    array([[ 2.4495, -2.4495, -0.5345,  0.5345]])
    """
    llr = np.asarray(llr, dtype=np.float64)
    K, S = llr.shape
    out = np.full((K, S), np.nan)
    n = S - 1
    if K == 0 or n < max(int(min_cohort), 2):
        return out
    ok = np.isfinite(llr).all(axis=1)
    L = llr[ok]
    L = L - L.mean(axis=1, keepdims=True)  # T-scores do not change; the sums below cancel less
    # leave-one-out mean and variance from the row sums (n = S - 1 others per speaker)
    mean = (L.sum(axis=1, keepdims=True) - L) / n
    sq = ((L * L).sum(axis=1, keepdims=True) - L * L) / n
    sd = np.sqrt(np.maximum(sq - mean * mean, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sd > 1e-12 * np.maximum(1.0, np.abs(mean)), (L - mean) / sd, np.nan)
    out[ok] = z
    return out


def name_clusters(db, X, labels, names, *, id_threshold, tnorm_threshold=TNORM_THRESHOLD,
                  min_cohort=MIN_COHORT):
    """New names for the clusters: the best enrolled speaker above the threshold.

    Parameters
    ----------
    db : SpeakerDB
    X : ndarray of shape (n_frames, n_features)
    labels : ndarray of shape (n_frames,)
        Cluster index per frame in ``[-1, len(names))``.
    names : sequence of str
        Current name of each cluster (e.g. ``spk00``).
    id_threshold : float
        Minimum average per-frame LLR for a name.
    tnorm_threshold : float, default=4.5
        Minimum T-score of the best speaker, when at least ``min_cohort`` others are enrolled.
    min_cohort : int, default=10

    Returns
    -------
    new_names : list of str
        Enrolled name or the current name, per cluster.
    scores : dict of str to dict
        Per cluster (by its current name): ``speaker`` (best enrolled name or None), ``llr``
        (its LLR, or None when nobody is enrolled) and ``tnorm`` (its T-score, or None when the
        cohort is too small).
    """
    llr = score_clusters(db, X, labels)
    tz = tnorm_scores(llr, min_cohort=min_cohort) if llr.size else llr
    new, scores = [], {}
    enrolled = db.names
    for c, old in enumerate(names):
        if c >= llr.shape[0] or llr.shape[1] == 0 or not np.isfinite(llr[c]).any():
            new.append(old)
            scores[old] = {"speaker": None, "llr": None, "tnorm": None}
            continue
        best = int(np.argmax(llr[c]))
        value, z = float(llr[c, best]), float(tz[c, best])
        named = value > id_threshold and (np.isnan(z) or z > tnorm_threshold)
        new.append(enrolled[best] if named else old)
        scores[old] = {"speaker": enrolled[best], "llr": round(value, 4),
                       "tnorm": None if np.isnan(z) else round(z, 4)}
        log.info("cluster %s: best enrolled speaker %s, LLR %.3f, T-score %.2f -> %s", old,
                 enrolled[best], value, z, new[-1])
    return new, scores


_CACHE = {}


def cached_speakers(path):
    """:func:`~diarizer.speakers.load_speakers`, reusing the last read while the index is unchanged.

    Parameters
    ----------
    path : str
        Speakers folder.

    Returns
    -------
    SpeakerDB
    """
    import os

    from .enroll import INDEX, load_speakers

    index = os.path.join(os.fspath(path), INDEX)
    try:
        stamp = os.stat(index).st_mtime_ns
    except OSError:
        stamp = None
    key = os.path.abspath(os.fspath(path))
    hit = _CACHE.get(key)
    if hit is not None and stamp is not None and hit[0] == stamp:
        return hit[1]
    db = load_speakers(path)
    _CACHE.clear()
    _CACHE[key] = (stamp, db)
    return db


def apply_speaker_names(settings, features, labels, names):
    """The pipeline's naming step: rename the clusters of one meeting.

    Parameters
    ----------
    settings : Settings
        Uses ``speakers``, ``id_threshold``, ``id_tnorm_threshold`` and ``id_min_cohort``.
    features : Features
        The meeting's frames (full timeline).
    labels : ndarray of shape (n_frames,)
        Cluster index per frame of the full timeline (-1 for non-speech).
    names : list of str
        Current cluster names.

    Returns
    -------
    names : list of str
        New name per cluster.
    turn_labels : ndarray of shape (n_frames,)
        Labels for the turns: clusters sharing a name are mapped to the first of them.
    scores : dict of str to dict
        See :func:`name_clusters`.

    Raises
    ------
    InputError
        The speakers folder is unreadable or was enrolled with other features.
    """
    db = cached_speakers(settings.speakers)
    db.check_features(features.X.shape[1], features.frame_period, features.source)
    new, scores = name_clusters(
        db, features.X, labels, names, id_threshold=settings.id_threshold,
        tnorm_threshold=settings.id_tnorm_threshold, min_cohort=settings.id_min_cohort)
    first = {}
    remap = np.array([first.setdefault(n, i) for i, n in enumerate(new)] + [-1], dtype=np.int64)
    turn_labels = remap[np.where(labels >= 0, labels, len(new))]
    return new, turn_labels, scores
