"""Name the clusters of a meeting after enrolled speakers.

Every cluster's frames are scored against every enrolled model and the background model; the
score of (cluster c, speaker s) is the average per-frame log-likelihood ratio::

    LLR(c, s) = 1/|c| * sum_{n in c} [ log p(x_n | speaker s) - log p(x_n | UBM) ]

A cluster takes the name of its best speaker when that LLR exceeds ``id_threshold``; otherwise it
keeps its ``spkNN`` label. Two clusters may take the same name (the diarization split one person
in two); their frames then carry one label.
"""

import logging

import numpy as np

from .._xp import to_numpy

__all__ = ["score_clusters", "name_clusters"]

log = logging.getLogger(__name__)


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


def name_clusters(db, X, labels, names, *, id_threshold):
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

    Returns
    -------
    new_names : list of str
        Enrolled name or the current name, per cluster.
    scores : dict of str to dict
        Per cluster (by its current name): ``speaker`` (best enrolled name or None) and ``llr``
        (its LLR, or None when nobody is enrolled).
    """
    llr = score_clusters(db, X, labels)
    new, scores = [], {}
    enrolled = db.names
    for c, old in enumerate(names):
        if c >= llr.shape[0] or llr.shape[1] == 0 or not np.isfinite(llr[c]).any():
            new.append(old)
            scores[old] = {"speaker": None, "llr": None}
            continue
        best = int(np.argmax(llr[c]))
        value = float(llr[c, best])
        named = value > id_threshold
        new.append(enrolled[best] if named else old)
        scores[old] = {"speaker": enrolled[best], "llr": round(value, 4)}
        log.info("cluster %s: best enrolled speaker %s, LLR %.3f -> %s", old, enrolled[best],
                 value, new[-1])
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
        Uses ``speakers`` and ``id_threshold``.
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
    new, scores = name_clusters(db, features.X, labels, names, id_threshold=settings.id_threshold)
    first = {}
    remap = np.array([first.setdefault(n, i) for i, n in enumerate(new)] + [-1], dtype=np.int64)
    turn_labels = remap[np.where(labels >= 0, labels, len(new))]
    return new, turn_labels, scores
