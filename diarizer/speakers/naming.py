"""Name the clusters of a meeting after enrolled speakers.

Every cluster's frames are scored against every enrolled model and the background model; the
score of (cluster c, speaker s) is the average per-frame log-likelihood ratio::

    LLR(c, s) = 1/|c| * sum_{n in c} [ log p(x_n | speaker s) - log p(x_n | UBM) ]

The raw LLR alone confuses "speech that fits this speaker" with "speech that fits many enrolled
models": with many enrolled speakers an unenrolled voice often finds one whose LLR is high. So the
score of the best speaker is also T-normalised against the cohort of the other enrolled speakers
(Auckenthaler et al. 2000)::

    T(c, s) = (LLR(c, s) - mean_{s' != s} LLR(c, s')) / std_{s' != s} LLR(c, s')

A cluster takes the name of its best speaker (highest LLR) when, if at least ``min_cohort``
other speakers are enrolled, that LLR exceeds ``cohort_threshold`` and its T-score exceeds
``tnorm_threshold``; with a smaller cohort the mean and standard deviation are too noisy to use,
and the LLR alone decides, against the higher ``id_threshold`` (false naming grows with the
number of enrolled speakers, so a small set needs the cohort least). Otherwise the cluster keeps
its ``spkNN`` label. Two clusters may take the same name (the diarization split one person in
two); their frames then carry one label.

The defaults (``id_threshold`` 0.8 with models enrolled at relevance factor 4, ``tnorm_threshold``
4.5, ``min_cohort`` 10) were chosen on one LibriSpeech split of ``benchmarks/speaker_id.py``
(``--seed 1``) and reported on another (``--seed 0``). ``cohort_threshold`` 0.5 was chosen on
seeds 1-3 (naming 93.9/91.4/94.2 -> 96.0/94.2/95.6 % against 0.8, unenrolled speech named
unchanged at 0/1.1/0 %; 0.2 named 2.2-3.6 % of the unenrolled speech), seed 0 91.2 -> 93.9 %. With
the LLR alone (no T-score), 0.5 named 22 % of the unenrolled speech and 0.8 5-6 %.
"""

import logging

import numpy as np

from .._xp import to_numpy

__all__ = ["frame_llr", "cluster_llr", "score_clusters", "tnorm_scores", "identify",
           "identity_constraints", "name_clusters", "verify_turns", "TNORM_THRESHOLD",
           "MIN_COHORT"]

log = logging.getLogger(__name__)

#: Minimum T-score of the best enrolled speaker (used when the cohort is large enough).
TNORM_THRESHOLD = 4.5
#: Minimum number of other enrolled speakers for the T-score to be used.
MIN_COHORT = 10


def frame_llr(db, X, *, chunk_size=None):
    """Per-frame log-likelihood ratio of every enrolled speaker against the background model.

    Parameters
    ----------
    db : SpeakerDB
        Enrolled speakers (see :func:`diarizer.speakers.load_speakers`).
    X : ndarray of shape (n_frames, n_features)
        Frames.
    chunk_size : int, optional
        Frames per scoring chunk.

    Returns
    -------
    ndarray of shape (n_frames, n_speakers), float32
        ``log p(x_n | speaker s) - log p(x_n | UBM)`` (float32 halves the memory of long
        meetings; the cluster averages are summed in float64).
    """
    X = np.asarray(X)
    if len(db.entries) == 0 or X.shape[0] == 0:
        return np.zeros((X.shape[0], len(db.entries)), dtype=np.float32)
    spk = to_numpy(db.models.log_likelihood(X, chunk_size=chunk_size))
    bg = to_numpy(db.ubm.log_likelihood(X, chunk_size=chunk_size))[:, 0]
    return (spk - bg[:, None]).astype(np.float32)


def cluster_llr(llr, labels, n_clusters=None):
    """Average per-frame LLR of every cluster against every enrolled speaker.

    Parameters
    ----------
    llr : ndarray of shape (n_frames, n_speakers)
        Output of :func:`frame_llr`.
    labels : ndarray of shape (n_frames,)
        Cluster index per frame in ``[-1, n_clusters)`` (-1 frames are left out).
    n_clusters : int, optional
        Default ``labels.max() + 1``.

    Returns
    -------
    ndarray of shape (n_clusters, n_speakers)
        ``-inf`` rows for clusters without frames.

    Examples
    --------
    >>> cluster_llr(np.array([[1., 0.], [3., 2.], [5., 5.]]), np.array([0, 0, 1])).tolist()
    [[2.0, 1.0], [5.0, 5.0]]
    """
    labels = np.asarray(labels)
    K = (int(labels.max()) + 1 if labels.size else 0) if n_clusters is None else int(n_clusters)
    S = llr.shape[1]
    out = np.full((K, S), -np.inf)
    keep = labels >= 0
    lab = labels[keep]
    counts = np.bincount(lab, minlength=K)
    sums = np.zeros((K, S))
    for s in range(S):  # per speaker: bincount sums in float64 (np.add.at is far slower)
        sums[:, s] = np.bincount(lab, weights=llr[keep, s], minlength=K)
    has = counts > 0
    out[has] = sums[has] / counts[has, None]
    return out


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
    keep = labels >= 0
    if K == 0 or len(db.entries) == 0:
        return np.full((K, len(db.entries)), -np.inf)
    llr = frame_llr(db, np.asarray(X)[keep], chunk_size=chunk_size)
    return cluster_llr(llr, labels[keep], K)


def _has_cohort(n_speakers, min_cohort):
    """Whether T-scores exist: at least ``min_cohort`` (and 2) others per enrolled speaker."""
    return n_speakers - 1 >= max(int(min_cohort), 2)


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
    if K == 0 or not _has_cohort(S, min_cohort):
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


def identify(llr, *, id_threshold, tnorm_threshold=TNORM_THRESHOLD, min_cohort=MIN_COHORT,
             cohort_threshold=None):
    """Best enrolled speaker of every cluster, when it passes the naming thresholds.

    Parameters
    ----------
    llr : ndarray of shape (n_clusters, n_speakers)
        Cluster LLRs (:func:`score_clusters`, :func:`cluster_llr`).
    id_threshold : float
        Minimum LLR of the best speaker when its T-score is not available (fewer than
        ``min_cohort`` others enrolled): the LLR alone decides.
    tnorm_threshold : float, default=4.5
        Minimum T-score of the best speaker, when at least ``min_cohort`` others are enrolled.
    min_cohort : int, default=10
    cohort_threshold : float, optional
        Minimum LLR of the best speaker when its T-score is checked too (default
        ``id_threshold``): the T-score then rejects most impostors, so the LLR may be lower.

    Returns
    -------
    speaker : ndarray of shape (n_clusters,), int
        Index of the identified speaker, -1 for none.
    best : ndarray of shape (n_clusters,), int
        Index of the best speaker (-1 for a cluster without a finite score).
    value, tnorm : ndarray of shape (n_clusters,)
        Its LLR and T-score (NaN when not available).

    Examples
    --------
    >>> identify(np.array([[1.5, 0.2], [0.5, 0.1]]), id_threshold=0.8)[0].tolist()
    [0, -1]
    """
    llr = np.asarray(llr, dtype=np.float64)
    K = llr.shape[0]
    speaker = np.full(K, -1, dtype=np.int64)
    best = np.full(K, -1, dtype=np.int64)
    value = np.full(K, np.nan)
    z = np.full(K, np.nan)
    if K == 0 or llr.shape[1] == 0:
        return speaker, best, value, z
    tz = tnorm_scores(llr, min_cohort=min_cohort)
    ok = np.isfinite(llr).any(axis=1)
    rows = np.flatnonzero(ok)
    best[ok] = np.argmax(llr[ok], axis=1)
    value[ok] = llr[rows, best[ok]]
    z[ok] = tz[rows, best[ok]]
    raw = np.where(np.isnan(z), id_threshold,
                   id_threshold if cohort_threshold is None else cohort_threshold)
    named = ok & (value > raw) & (np.isnan(z) | (z > tnorm_threshold))
    speaker[named] = best[named]
    return speaker, best, value, z


def identity_constraints(db, X, *, id_threshold, tnorm_threshold=TNORM_THRESHOLD,
                         min_cohort=MIN_COHORT, llr=None, cohort_threshold=None):
    """Cannot-link constraints for the clustering: never merge two different enrolled speakers.

    Every frame is scored once against the enrolled speakers (:func:`frame_llr`); at every merge
    step the clusters are identified as :func:`name_clusters` would name them, and a pair of
    clusters identified as two different speakers may not merge. Without this, BIC merging on a
    short meeting often joins two speakers before any naming, and one of them is lost.

    Parameters
    ----------
    db : SpeakerDB
    X : ndarray of shape (n_frames, n_features)
        The frames being clustered (features as enrolled).
    id_threshold, tnorm_threshold, min_cohort, cohort_threshold
        As :func:`identify`.
    llr : ndarray of shape (n_frames, n_speakers), optional
        :func:`frame_llr` of ``X`` when already computed (``X`` is then not read).

    Returns
    -------
    callable
        ``cannot_link(frames, labels)`` -> bool ndarray of shape (K, K), for
        :func:`diarizer.clustering.agglomerative_clustering`.
    """
    if llr is None:
        llr = frame_llr(db, X)

    def cannot_link(frames, labels):
        labels = np.asarray(labels)
        K = int(labels.max()) + 1 if labels.size else 0
        who = identify(cluster_llr(llr[np.asarray(frames)], labels, K),
                       id_threshold=id_threshold, tnorm_threshold=tnorm_threshold,
                       min_cohort=min_cohort, cohort_threshold=cohort_threshold)[0]
        known = who >= 0
        return known[:, None] & known[None, :] & (who[:, None] != who[None, :])

    return cannot_link


def name_clusters(db, X, labels, names, *, id_threshold, tnorm_threshold=TNORM_THRESHOLD,
                  min_cohort=MIN_COHORT, llr=None, cohort_threshold=None):
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
        Minimum average per-frame LLR for a name (when the T-score is not available).
    tnorm_threshold : float, default=4.5
        Minimum T-score of the best speaker, when at least ``min_cohort`` others are enrolled.
    min_cohort : int, default=10
    llr : ndarray of shape (n_labelled, n_speakers), optional
        Per-frame LLRs (:func:`frame_llr`) of the frames with a label >= 0, in order, when
        already computed (``X`` is then not read).

    Returns
    -------
    new_names : list of str
        Enrolled name or the current name, per cluster.
    scores : dict of str to dict
        Per cluster (by its current name): ``speaker`` (best enrolled name or None), ``llr``
        (its LLR, or None when nobody is enrolled) and ``tnorm`` (its T-score, or None when the
        cohort is too small).
    """
    labels = np.asarray(labels)
    if llr is None:
        cl = score_clusters(db, X, labels)
    else:
        cl = cluster_llr(llr, labels[labels >= 0], int(labels.max()) + 1 if labels.size else 0)
    who, best, value, z = identify(cl, id_threshold=id_threshold,
                                   tnorm_threshold=tnorm_threshold, min_cohort=min_cohort,
                                   cohort_threshold=cohort_threshold)
    new, scores = [], {}
    enrolled = db.names
    for c, old in enumerate(names):
        if c >= cl.shape[0] or best[c] < 0:
            new.append(old)
            scores[old] = {"speaker": None, "llr": None, "tnorm": None}
            continue
        new.append(enrolled[who[c]] if who[c] >= 0 else old)
        scores[old] = {"speaker": enrolled[best[c]], "llr": round(float(value[c]), 4),
                       "tnorm": None if np.isnan(z[c]) else round(float(z[c]), 4)}
        log.info("cluster %s: best enrolled speaker %s, LLR %.3f, T-score %.2f -> %s", old,
                 enrolled[best[c]], value[c], z[c], new[-1])
    return new, scores


def verify_turns(turns, frames, llr, enrolled, *, turn_threshold, id_threshold, fallback,
                 tnorm_threshold=TNORM_THRESHOLD, min_cohort=MIN_COHORT, cohort_threshold=None):
    """Check every turn alone against the enrolled speakers; relabel the turns that disagree.

    A cluster is named by the average over all its frames, so a turn of someone else inside it
    (an unenrolled voice, or an enrolled one the clustering merged in) carries the name too, and
    a cluster that fails the naming rule leaves its turns of an enrolled speaker anonymous. So
    each turn is scored alone:

    - a named turn whose average per-frame LLR for its name is below ``turn_threshold`` is
      renamed after the enrolled speaker of highest LLR on the turn if that LLR exceeds
      ``id_threshold`` (``cohort_threshold`` with a cohort), else given its cluster's anonymous
      label (``fallback``);
    - an anonymous turn takes the name of its best enrolled speaker if that speaker passes the
      clusters' naming rule on the turn (:func:`identify`).

    Parameters
    ----------
    turns : list of Turn
        Output turns (integer frames), labels enrolled names or ``spkNN``.
    frames : ndarray of shape (n_scored,), int
        Increasing frame indices of the rows of ``llr`` (the speech frames).
    llr : ndarray of shape (n_scored, n_speakers)
        Per-frame LLRs (:func:`frame_llr`).
    enrolled : list of str
        Names of the ``llr`` columns.
    turn_threshold : float
        Lowest average LLR for a turn to keep its name.
    id_threshold : float
        Lowest average LLR for a failed turn to take another enrolled name (``cohort_threshold``
        instead when at least ``min_cohort`` others are enrolled).
    fallback : dict of str to str
        Anonymous label of each name in use (the ``spkNN`` of its first cluster).
    tnorm_threshold, min_cohort, cohort_threshold
        The naming rule for anonymous turns (as :func:`identify`).

    Returns
    -------
    turns : list of Turn
        The turns, relabelled, adjacent turns of one label joined.
    changed : int
        Turns relabelled.

    Examples
    --------
    >>> from diarizer.segments import Turn
    >>> llr = np.array([[1.0, 0.0]] * 3 + [[-1.0, 0.2]] * 3 + [[-1.0, 2.0]] * 3)
    >>> turns = [Turn(0, 3, "a"), Turn(3, 6, "a"), Turn(6, 9, "a")]
    >>> out, n = verify_turns(turns, np.arange(9), llr, ["a", "b"], turn_threshold=0.2,
    ...                       id_threshold=0.8, fallback={"a": "spk00"})
    >>> [(t.start, t.end, t.label) for t in out], n
    ([(0, 3, 'a'), (3, 6, 'spk00'), (6, 9, 'b')], 2)
    """
    from ..segments import Turn, join_adjacent

    index = {name: i for i, name in enumerate(enrolled)}
    frames = np.asarray(frames)
    out, changed = [], 0
    # the threshold of the clusters' naming rule for the speakers' number (see identify)
    cohort = _has_cohort(len(enrolled), min_cohort)
    other = cohort_threshold if cohort and cohort_threshold is not None else id_threshold
    for t in turns:
        label = t.label
        s = index.get(label)
        a, b = np.searchsorted(frames, [t.start, t.end])
        if b > a and len(enrolled):
            mean = np.mean(llr[a:b], axis=0, dtype=np.float64)
            if s is not None and mean[s] < turn_threshold:
                mean[s] = -np.inf
                best = int(np.argmax(mean))
                label = enrolled[best] if mean[best] > other else fallback[label]
                log.info("turn %d-%d: LLR for %s below %.2f -> %s", t.start, t.end, t.label,
                         turn_threshold, label)
            elif s is None:
                who = identify(mean[None, :], id_threshold=id_threshold,
                               tnorm_threshold=tnorm_threshold, min_cohort=min_cohort,
                               cohort_threshold=cohort_threshold)[0][0]
                if who >= 0:
                    label = enrolled[who]
                    log.info("turn %d-%d of %s: identified as %s", t.start, t.end, t.label, label)
            changed += label != t.label
        out.append(Turn(t.start, t.end, label))
    return join_adjacent(out), changed


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


def speaker_db(settings, features):
    """The enrolled speakers of ``settings.speakers``, checked against the meeting's features.

    Raises
    ------
    InputError
        The speakers folder is unreadable or was enrolled with other features.
    """
    db = cached_speakers(settings.speakers)
    db.check_features(features.X.shape[1], features.frame_period, features.source)
    return db


def apply_speaker_names(settings, features, labels, names, llr=None):
    """The pipeline's naming step: rename the clusters of one meeting.

    Parameters
    ----------
    settings : Settings
        Uses ``speakers``, ``id_threshold``, ``id_cohort_threshold``, ``id_tnorm_threshold``
        and ``id_min_cohort``.
    features : Features
        The meeting's frames (full timeline).
    labels : ndarray of shape (n_frames,)
        Cluster index per frame of the full timeline (-1 for non-speech).
    names : list of str
        Current cluster names.
    llr : ndarray of shape (n_labelled, n_speakers), optional
        Per-frame LLRs of the frames with a label >= 0, in order (e.g. from
        :func:`identity_constraints`), so they are not computed again.

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
    db = speaker_db(settings, features)
    new, scores = name_clusters(
        db, features.X, labels, names, id_threshold=settings.id_threshold,
        tnorm_threshold=settings.id_tnorm_threshold, min_cohort=settings.id_min_cohort, llr=llr,
        cohort_threshold=settings.id_cohort_threshold)
    first = {}
    remap = np.array([first.setdefault(n, i) for i, n in enumerate(new)] + [-1], dtype=np.int64)
    turn_labels = remap[np.where(labels >= 0, labels, len(new))]
    return new, turn_labels, scores
