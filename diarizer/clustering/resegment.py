"""Resegmentation: frame labels from the cluster GMMs, smoothed by a majority vote in windows.

The original (PyCASP) resegmentation labels every frame with the GMM of highest log-likelihood and
then gives each non-overlapping window of ``seg_length`` frames to the cluster that won most of
its frames::

    frames   |<---- W ---->|<---- W ---->|<---- W ---->|<- tail ->|
    argmax    0 0 1 0 0 0 0 1 1 1 0 1 1 1 2 2 2 2 2 2 2 2 2 0
    vote      0 0 0 0 0 0 0 1 1 1 1 1 1 1 2 2 2 2 2 2 2 2 2 2

Every frame belongs to exactly one window, the last full window and the tail included (the
original skipped the last full window when ``N`` was a multiple of ``W`` and took the mode of an
empty tail). Ties go to the lower cluster index, as ``scipy.stats.mode`` did.
"""

import logging

import numpy as np

from .._xp import to_numpy

__all__ = ["majority_vote", "frame_labels", "majority_labels", "resegment"]

log = logging.getLogger(__name__)


def majority_vote(labels, seg_length, n_labels=None):
    """Give every window of ``seg_length`` frames to its most frequent label.

    Parameters
    ----------
    labels : ndarray of shape (n_frames,)
        Non-negative integer label per frame.
    seg_length : int
        Window length in frames (>= 1).
    n_labels : int, optional
        Number of distinct labels (default: ``labels.max() + 1``).

    Returns
    -------
    smoothed : ndarray of shape (n_frames,)
        Label of each frame's window. Ties go to the lower label.

    Examples
    --------
    >>> majority_vote(np.array([0, 1, 1, 2, 2, 0, 2]), 3)
    array([1, 1, 1, 2, 2, 2, 2])
    """
    labels = np.asarray(labels, dtype=np.int64)
    n = labels.size
    if n == 0:
        return labels.copy()
    if n_labels is None:
        n_labels = int(labels.max()) + 1
    n_win = -(-n // seg_length)
    win = np.arange(n, dtype=np.int64) // seg_length
    counts = np.bincount(win * n_labels + labels, minlength=n_win * n_labels)
    winner = counts.reshape(n_win, n_labels).argmax(axis=1)  # first max = lowest label
    return winner[win]


def frame_labels(loglik):
    """Label each frame with its most likely cluster.

    Parameters
    ----------
    loglik : array of shape (n_frames, n_clusters)
        Frame log-likelihood under each cluster model (any array namespace).

    Returns
    -------
    ndarray of shape (n_frames,)
        Index of the best cluster per frame (numpy int64; ties to the lower index).
    """
    return np.asarray(to_numpy(loglik)).argmax(axis=1).astype(np.int64)


def majority_labels(seg_length):
    """Labeller of the original: argmax per frame, then :func:`majority_vote` in windows."""
    def label(loglik):
        return majority_vote(frame_labels(loglik), seg_length, loglik.shape[1])
    return label


def resegment(gmms, X, label, em_iterations, *, train=True):
    """One round of resegmentation: label, drop clusters left empty, retrain.

    Parameters
    ----------
    gmms : GMMSet
        Current cluster models (one GMM per cluster).
    X : array of shape (n_frames, n_features)
        Speech frames on the engine's namespace.
    label : callable
        Maps the frame log-likelihoods, a host array of shape (n_frames, n_gmms), to a label per
        frame (e.g. :func:`majority_labels` or a Viterbi decoder).
    em_iterations : int
        Maximum EM iterations of the warm-started retraining.
    train : bool, default=True
        Retrain the models on their new frames (False: only relabel).

    Returns
    -------
    gmms : GMMSet
        The models that own at least one frame, in their previous order (retrained).
    labels : ndarray of shape (n_frames,)
        Label per frame, indexing the returned ``gmms``.
    loglik : ndarray of shape (n_gmms,)
        Total log-likelihood of each returned GMM on its frames after retraining
        (``None`` when ``train`` is False).
    """
    labels = label(np.asarray(to_numpy(gmms.log_likelihood(X))))
    used = np.unique(labels)
    if used.size < gmms.n_gmms:
        log.debug("resegmentation: %d of %d clusters own no frame and are removed",
                  gmms.n_gmms - used.size, gmms.n_gmms)
        remap = np.full(gmms.n_gmms, -1, dtype=np.int64)
        remap[used] = np.arange(used.size)
        labels = remap[labels]
        gmms = gmms.select(used.tolist())
    if not train:
        return gmms, labels, None
    result = gmms.fit(X, labels, max_iter=em_iterations)
    return gmms, labels, result.log_likelihood
