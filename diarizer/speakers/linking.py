"""Link the clusters of many meetings: one person, one global label.

Each cluster is summarised by a supervector of its MAP-adapted means (Campbell et al. 2006): the
background model's means adapted to the cluster's frames, as offsets from the UBM scaled by
``sqrt(w_k) / sigma_k``::

    s_c = [ sqrt(w_k) * (mu_k(c) - mu_k) / sigma_k ]  for k = 1..C, flattened to C * D values

Clusters are compared by the cosine distance ``1 - <s_a, s_b> / (|s_a| |s_b|)`` (in [0, 2]) and
joined by average-linkage agglomerative clustering until the closest pair is farther than the
threshold. Two clusters of the same meeting are never linked (the diarization already decided they
are different people), and a group inherits that constraint from all its members. Clusters named
after enrolled speakers (:mod:`.naming`) are linked by name: the same name always (they are joined
first), two different names never.
"""

import logging

import numpy as np

from .._xp import to_numpy

__all__ = ["cluster_vectors", "link_clusters", "global_names"]

log = logging.getLogger(__name__)


def cluster_vectors(ubm, X, labels, *, relevance_factor=16.0):
    """MAP-adapted mean supervectors of clusters.

    Parameters
    ----------
    ubm : GMMSet
        Background model (one diagonal GMM).
    X : ndarray of shape (n_frames, n_features)
    labels : ndarray of shape (n_frames,)
        Cluster index per frame in ``[-1, n_clusters)``; every cluster needs a frame.
    relevance_factor : float, default=16.0

    Returns
    -------
    ndarray of shape (n_clusters, n_components * n_features), float64
    """
    from ..gmm import map_adapt

    labels = np.asarray(labels, dtype=np.int64)
    adapted = map_adapt(ubm, X, labels, relevance_factor=relevance_factor)
    p, q = ubm.to_numpy(), adapted.to_numpy()
    C, D = p["means"].shape
    var = p["covariances"] if p["covariance_type"] == "diag" else np.stack(
        [np.diag(c) for c in p["covariances"]])
    scale = np.sqrt(p["weights"])[:, None] / np.sqrt(var)
    K = adapted.n_gmms
    offsets = q["means"].reshape(K, C, D) - p["means"][None]
    return (offsets * scale[None]).reshape(K, C * D)


def _cosine_distances(V):
    norms = np.linalg.norm(V, axis=1, keepdims=True)
    U = V / np.maximum(norms, 1e-12)
    return np.clip(1.0 - U @ U.T, 0.0, 2.0)


def link_clusters(vectors, threshold, names=None):
    """Agglomerative clustering of the clusters of many meetings.

    Parameters
    ----------
    vectors : list of ndarray of shape (n_clusters_m, n_dims)
        Supervectors of each meeting's clusters (see :func:`cluster_vectors`).
    threshold : float
        Largest average cosine distance at which two groups are joined.
    names : list of list of str, optional
        Enrolled name of each meeting's clusters (``""`` for a cluster not named): clusters of
        one name are joined, clusters of two different names never.

    Returns
    -------
    list of ndarray of shape (n_clusters_m,), int
        Global group index of each cluster, numbered by first appearance (meeting order, then
        cluster order).

    Examples
    --------
    >>> a = [np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[0.9, 0.1]])]
    >>> [g.tolist() for g in link_clusters(a, 0.5)]
    [[0, 1], [0]]
    >>> [g.tolist() for g in link_clusters(a, 0.5, names=[["anna", ""], ["bob"]])]
    [[0, 1], [2]]
    """
    sizes = [int(np.shape(v)[0]) for v in vectors]
    n = sum(sizes)
    if n == 0:
        return [np.zeros(0, dtype=np.int64) for _ in vectors]
    V = np.concatenate([np.asarray(v, dtype=np.float64).reshape(s, -1)
                        for v, s in zip(vectors, sizes) if s], axis=0)
    meeting = np.repeat(np.arange(len(sizes)), sizes)
    dist = _cosine_distances(V)
    if names is not None:
        flat = np.array([str(x) for m in names for x in m], dtype=object)
        if flat.size != n:
            raise ValueError(f"names give {flat.size} clusters, vectors {n}")
        known = flat != ""
        both = known[:, None] & known[None, :]
        same = flat[:, None] == flat[None, :]
        dist[both & same] = 0.0
        dist[both & ~same] = np.inf
    dist[meeting[:, None] == meeting[None, :]] = np.inf  # includes the diagonal
    count = np.ones(n)
    alive = np.ones(n, dtype=bool)
    parent = np.arange(n)
    while True:
        flat = int(np.argmin(dist))
        a, b = divmod(flat, n)
        if not np.isfinite(dist[a, b]) or dist[a, b] > threshold:
            break
        # average linkage; inf (a cannot-link) stays inf
        with np.errstate(invalid="ignore"):
            row = (count[a] * dist[a] + count[b] * dist[b]) / (count[a] + count[b])
        row[~alive] = np.inf
        row[a] = np.inf
        dist[a, :] = row
        dist[:, a] = row
        dist[b, :] = np.inf
        dist[:, b] = np.inf
        count[a] += count[b]
        alive[b] = False
        parent[parent == b] = a
    # number groups by first appearance
    ids = {}
    flat_ids = np.array([ids.setdefault(int(p), len(ids)) for p in parent], dtype=np.int64)
    log.info("linking: %d clusters of %d meetings -> %d speakers", n, len(sizes), len(ids))
    return list(np.split(flat_ids, np.cumsum(sizes)[:-1]))


def global_names(groups):
    """Labels ``global_NN`` of the linked groups.

    Parameters
    ----------
    groups : list of ndarray of int
        Output of :func:`link_clusters`.

    Returns
    -------
    list of list of str
    """
    width = max(2, len(str(max((int(g.max()) for g in groups if g.size), default=0))))
    return [[f"global_{int(i):0{width}d}" for i in g] for g in groups]


def meeting_vectors(ubm, X, labels, names, *, relevance_factor=16.0):
    """Supervectors of one meeting's speakers, one per distinct label.

    Parameters
    ----------
    ubm : GMMSet
    X : ndarray of shape (n_frames, n_features)
        Full timeline.
    labels : ndarray of shape (n_frames,)
        Cluster index per frame (-1 for non-speech).
    names : list of str
        RTTM label of each cluster (clusters sharing a label are pooled).

    Returns
    -------
    labels : list of str
        Distinct RTTM labels, in order of first cluster.
    vectors : ndarray of shape (n_labels, n_components * n_features)
    """
    labels = np.asarray(labels)
    distinct = list(dict.fromkeys(names))
    pos = np.array([distinct.index(n) for n in names] + [-1], dtype=np.int64)
    grouped = pos[np.where(labels >= 0, labels, len(names))]
    vec = cluster_vectors(ubm, to_numpy(X), grouped, relevance_factor=relevance_factor)
    return distinct, vec
