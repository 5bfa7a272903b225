"""Second clustering stage: cross-likelihood ratio (CLR) of MAP-adapted cluster models.

After BIC clustering, as in the LIUM and ICSI systems: a background model (UBM) is trained on all
speech frames of the meeting, one model per cluster is MAP-adapted from it (means only), and the
clusters are merged agglomeratively by the cross-likelihood ratio (Reynolds et al., 2004)::

    CLR(a, b) = 1/N_a sum_{x in a} log p(x | b) / p(x | UBM)
              + 1/N_b sum_{x in b} log p(x | a) / p(x | UBM)

A high CLR means each cluster's frames are explained by the other's model better than by the
background: the same speaker. The pair of highest CLR is merged while it exceeds a threshold; the
merged cluster's model is adapted again from the UBM on the union of the frames.
"""

import logging

import numpy as np

from .._xp import to_numpy
from ..gmm import GMMSet, map_adapt

__all__ = ["cross_likelihood_ratios", "clr_clustering"]

log = logging.getLogger(__name__)


def cross_likelihood_ratios(ubm, X, labels, *, relevance_factor=16.0):
    """CLR between every pair of clusters.

    Parameters
    ----------
    ubm : GMMSet
        One background GMM.
    X : array of shape (n_frames, n_features)
        Speech frames on the engine's namespace.
    labels : ndarray of shape (n_frames,)
        Cluster of each frame, values in ``[0, n_clusters)``.
    relevance_factor : float, default=16.0
        MAP relevance factor.

    Returns
    -------
    ndarray of shape (n_clusters, n_clusters)
        Symmetric CLR matrix (diagonal: each cluster against itself).
    """
    n_clusters = int(labels.max()) + 1
    models = map_adapt(ubm, X, labels, relevance_factor=relevance_factor)
    ll = np.asarray(to_numpy(models.log_likelihood(X)), dtype=np.float64)  # (N, G)
    bg = np.asarray(to_numpy(ubm.log_likelihood(X)), dtype=np.float64)[:, 0]
    counts = np.bincount(labels, minlength=n_clusters).astype(np.float64)
    # mean over cluster a's frames of log p(x | b) - log p(x | UBM): rows a, columns b
    sums = np.zeros((n_clusters, n_clusters))
    np.add.at(sums, labels, ll - bg[:, None])
    mean = sums / counts[:, None]
    return mean + mean.T


def clr_clustering(X, labels, *, threshold=0.0, n_components=64, relevance_factor=16.0,
                   min_clusters=1, em_iterations=10, xp, dtype=None, seed=0):
    """Merge clusters by cross-likelihood ratio.

    Parameters
    ----------
    X : array of shape (n_frames, n_features)
        Speech frames on the namespace ``xp``.
    labels : ndarray of shape (n_frames,)
        Clusters from the first stage, values in ``[0, n_clusters)``.
    threshold : float, default=0.0
        Merge while the best pair's CLR exceeds it.
    n_components : int, default=64
        Gaussians of the meeting's background model (fewer if there are few frames).
    relevance_factor : float, default=16.0
        MAP relevance factor.
    min_clusters : int, default=1
        Never merge below this many clusters.
    em_iterations : int, default=10
        EM iterations of the background model.
    xp : namespace
    dtype : dtype, optional
    seed : int, default=0
        Seed of the background model's k-means initialisation.

    Returns
    -------
    ndarray of shape (n_frames,)
        New cluster per frame, values in ``[0, n_clusters_after)``, in order of the old labels.
    """
    labels = np.asarray(labels, dtype=np.int64)
    n = labels.size
    m = int(max(1, min(n_components, n // 50)))
    ubm = GMMSet.initialize(X, [np.arange(n)], m, init="kmeans", xp=xp, dtype=dtype,
                            random_state=seed)
    ubm.fit(X, [np.arange(n)], max_iter=em_iterations)
    while labels.max() + 1 > max(min_clusters, 1):
        clr = cross_likelihood_ratios(ubm, X, labels, relevance_factor=relevance_factor)
        g = clr.shape[0]
        iu = np.triu_indices(g, k=1)
        best = int(np.argmax(clr[iu]))
        a, b = int(iu[0][best]), int(iu[1][best])
        log.info("CLR: %d clusters, best %.4f for (%d, %d)%s", g, clr[a, b], a, b,
                 "" if clr[a, b] > threshold else ": stop")
        if clr[a, b] <= threshold:
            break
        labels = np.where(labels == b, a, labels)
        labels = np.where(labels > b, labels - 1, labels)
    return labels
