"""Consensus over several clustering runs: keep the medoid labelling.

Agglomerative BIC clustering of a short meeting is unstable: a different k-means seed or number
of initial clusters can merge two speakers or split one, and the DER of a file jumps by tens of
points. Running the clustering several times and keeping the run that agrees best with all the
others (the medoid under the adjusted Rand index) discards the outlying runs; it is the selection
step of cluster-ensemble methods (Strehl & Ghosh, JMLR 2002), with the ARI of Hubert & Arabie
(1985) as the agreement between two labellings of the same frames.
"""

import numpy as np

__all__ = ["adjusted_rand_index", "medoid_index"]


def _pairs(counts):
    """Number of unordered pairs ``n (n - 1) / 2`` for every count, summed."""
    counts = counts.astype(np.float64)
    return float(np.sum(counts * (counts - 1.0)) / 2.0)


def adjusted_rand_index(a, b):
    """Adjusted Rand index of two labellings of the same items.

    Parameters
    ----------
    a, b : ndarray of shape (n_items,)
        Non-negative integer labels.

    Returns
    -------
    float
        1 for identical partitions (up to renaming), about 0 for independent ones; can be
        negative. Two partitions that both put every item in one cluster score 1.
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"labellings of different shapes: {a.shape} and {b.shape}")
    n = a.size
    if n < 2:
        return 1.0
    nb = int(b.max()) + 1
    table = np.bincount(a * nb + b, minlength=(int(a.max()) + 1) * nb)
    index = _pairs(table)
    sum_a = _pairs(np.bincount(a))
    sum_b = _pairs(np.bincount(b))
    expected = sum_a * sum_b / (n * (n - 1.0) / 2.0)
    maximum = (sum_a + sum_b) / 2.0
    if maximum == expected:
        return 1.0
    return (index - expected) / (maximum - expected)


def medoid_index(labellings):
    """Index of the labelling with the highest total ARI against all the others.

    Parameters
    ----------
    labellings : sequence of ndarray of shape (n_items,)

    Returns
    -------
    best : int
        Index of the medoid (the first one on ties, so the choice is deterministic).
    agreement : ndarray of shape (n_labellings,)
        Mean ARI of every labelling against the others.
    """
    n = len(labellings)
    if n == 0:
        raise ValueError("no labellings")
    ari = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            ari[i, j] = ari[j, i] = adjusted_rand_index(labellings[i], labellings[j])
    agreement = (ari.sum(axis=1) - 1.0) / max(n - 1, 1)
    return int(np.argmax(agreement)), agreement
