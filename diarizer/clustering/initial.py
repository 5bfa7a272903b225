"""Initial clusters: uniform blocks of time (the original) or k-means over short segments.

The original starts from ``K`` consecutive blocks of equal length. A speaker who talks little may
own no block and is then absorbed from the start. ``segment_kmeans_labels`` instead cuts the
speech into segments of ``seg_frames`` frames, describes each by its mean feature vector
(standardised per dimension) and groups the segments with k-means (k-means++ seeding from
``seed``, Lloyd iterations), so initial clusters follow voices rather than time.
"""

import numpy as np

from ..gmm._init import kmeans_plusplus

__all__ = ["uniform_labels", "segment_kmeans_labels"]


def uniform_labels(n_frames, n_clusters):
    """Split frames into ``n_clusters`` consecutive blocks; the remainder joins the last block.

    Parameters
    ----------
    n_frames : int
    n_clusters : int

    Returns
    -------
    ndarray of shape (n_frames,)

    Examples
    --------
    >>> uniform_labels(7, 3)
    array([0, 0, 1, 1, 2, 2, 2])
    """
    size = max(n_frames // n_clusters, 1)
    return np.minimum(np.arange(n_frames, dtype=np.int64) // size, n_clusters - 1)


def segment_kmeans_labels(X, n_clusters, seg_frames, *, min_frames=1, seed=0, n_iter=30):
    """Initial labels from k-means over the mean vectors of consecutive segments.

    Parameters
    ----------
    X : ndarray of shape (n_frames, n_features)
        Speech frames (host array), in time order.
    n_clusters : int
        Clusters wanted ``K``.
    seg_frames : int
        Segment length in frames (the last segment takes the remainder).
    min_frames : int, default=1
        Clusters with fewer frames are dissolved into the nearest remaining centre, so every
        cluster can train its GMM.
    seed : int, default=0
    n_iter : int, default=30
        Maximum Lloyd iterations.

    Returns
    -------
    ndarray of shape (n_frames,)
        Cluster per frame, values ``0 .. k-1`` with ``k <= n_clusters`` numbered by first
        appearance. Falls back to :func:`uniform_labels` when there are fewer segments than
        clusters.
    """
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    seg_frames = max(int(seg_frames), 1)
    n_seg = max(n // seg_frames, 1)
    if n_seg < n_clusters:
        return uniform_labels(n, n_clusters)
    seg = np.minimum(np.arange(n) // seg_frames, n_seg - 1)
    sizes = np.bincount(seg, minlength=n_seg).astype(np.float64)
    means = np.stack([np.bincount(seg, weights=X[:, d], minlength=n_seg) for d in
                      range(X.shape[1])], axis=1) / sizes[:, None]
    scale = means.std(axis=0)
    V = (means - means.mean(axis=0)) / np.where(scale > 0, scale, 1.0)
    rng = np.random.default_rng(seed)
    centres = kmeans_plusplus(V, n_clusters, rng)
    lab = None
    for _ in range(n_iter):
        d = ((V[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        new = d.argmin(axis=1)
        if lab is not None and np.array_equal(new, lab):
            break
        lab = new
        for k in range(centres.shape[0]):
            if np.any(lab == k):
                centres[k] = np.average(V[lab == k], axis=0, weights=sizes[lab == k])
    # dissolve clusters too small to train, nearest remaining centre first
    while True:
        counts = np.bincount(lab, weights=sizes, minlength=centres.shape[0])
        small = np.flatnonzero((counts > 0) & (counts < min_frames))
        alive = np.flatnonzero(counts >= min_frames)
        if small.size == 0 or alive.size == 0:
            break
        k = small[np.argmin(counts[small])]
        members = lab == k
        d = ((V[members][:, None, :] - centres[alive][None, :, :]) ** 2).sum(axis=2)
        lab[members] = alive[d.argmin(axis=1)]
    _, first = np.unique(lab, return_index=True)
    rank = np.empty(centres.shape[0], dtype=np.int64)
    order = lab[np.sort(first)]
    rank[order] = np.arange(order.size)
    return rank[lab][seg]
