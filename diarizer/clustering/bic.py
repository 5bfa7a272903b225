"""Delta-BIC of candidate merges, all candidates trained together in one batched engine call.

The merged model of clusters a and b has ``M_a + M_b`` Gaussians (the components of both, weights
scaled by their sizes), so it has exactly as many free parameters as the two models together: the
BIC penalty cancels (Ajmera & Wooters' "modified BIC") and

    delta_BIC(a, b) = L_merged(X_a u X_b) - L_a(X_a) - L_b(X_b)

with L the total log-likelihood after training. Merge iff delta_BIC > 0. ``L_a`` and ``L_b`` are
the current models' likelihoods on their current frames (the original could compare against a
stale likelihood from an older round).
"""

import numpy as np

from ..gmm import merge_pairs
from ..segments import label_order

__all__ = ["candidate_groups", "delta_bic"]


def candidate_groups(labels, pairs):
    """Frame indices of the union of each pair's clusters.

    Parameters
    ----------
    labels : ndarray of shape (n_frames,)
        Cluster index per frame.
    pairs : list of tuple of int

    Returns
    -------
    list of ndarray
        Sorted frame indices for each pair.
    """
    n = int(labels.max()) + 1
    order = label_order(labels, n)
    bounds = np.searchsorted(labels[order], np.arange(n + 1))
    frames = [order[bounds[k]:bounds[k + 1]] for k in range(bounds.size - 1)]
    return [np.sort(np.concatenate([frames[a], frames[b]])) for a, b in pairs]


def delta_bic(gmms, X, labels, loglik, pairs, em_iterations, *, candidates=0):
    """Train the merged model of every candidate pair and return its delta-BIC.

    Parameters
    ----------
    gmms : GMMSet
        Current cluster models.
    X : array of shape (n_frames, n_features)
        Speech frames on the engine's namespace.
    labels : ndarray of shape (n_frames,)
        Current cluster of each frame.
    loglik : ndarray of shape (n_gmms,)
        Current total log-likelihood of each cluster model on its own frames.
    pairs : list of tuple of int
        Candidate pairs.
    em_iterations : int
        Maximum EM iterations for the merged models.
    candidates : int, default=0
        When ``0 < candidates < len(pairs)``: train every merged model one EM iteration, then
        only the ``candidates`` of highest delta-BIC the remaining ``em_iterations - 1``
        (EM is deterministic, so those end exactly as if trained in one go). The others keep
        their one-iteration delta-BIC, with ``-inf`` in ``scores`` so they are never chosen.
        0 trains every pair fully.

    Returns
    -------
    scores : ndarray of shape (n_pairs,)
        delta-BIC of each pair (``-inf`` for pairs dropped after the first iteration).
    merged : GMMSet
        The trained merged models, one per pair, in the order of ``pairs``.
    """
    merged = merge_pairs(gmms, pairs)
    groups = candidate_groups(labels, pairs)
    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])
    if not 0 < candidates < len(pairs) or em_iterations < 2:
        result = merged.fit(X, groups, max_iter=em_iterations)
        return result.log_likelihood - loglik[a] - loglik[b], merged
    first = merged.fit(X, groups, max_iter=1)
    rough = first.log_likelihood - loglik[a] - loglik[b]
    keep = np.sort(np.argsort(-rough, kind="stable")[:candidates])
    top = merged.select(keep.tolist())
    result = top.fit(X, [groups[i] for i in keep], max_iter=em_iterations - 1)
    scores = np.full(len(pairs), -np.inf)
    scores[keep] = result.log_likelihood - loglik[a[keep]] - loglik[b[keep]]
    order = np.zeros(len(pairs), dtype=np.int64)  # dropped pairs: any trained model
    order[keep] = np.arange(keep.size)
    return scores, top.select(order.tolist())
