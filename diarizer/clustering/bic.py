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

__all__ = ["cluster_frames", "delta_bic"]


def cluster_frames(labels):
    """Frame indices of every cluster.

    Parameters
    ----------
    labels : ndarray of shape (n_frames,)
        Cluster index per frame (0 .. n_clusters - 1).

    Returns
    -------
    list of ndarray
        Sorted frame indices of each cluster.
    """
    n = int(labels.max()) + 1
    order = label_order(labels, n)
    bounds = np.searchsorted(labels[order], np.arange(n + 1))
    return [order[bounds[k]:bounds[k + 1]] for k in range(bounds.size - 1)]


def delta_bic(gmms, X, labels, loglik, pairs, em_iterations, *, candidates=0, fair=False):
    """Train the merged model of every candidate pair and return its delta-BIC.

    All the merged models train together (:meth:`GMMSet.fit_unions`): every cluster's frames
    are scored against all the candidates containing it in one product per E-step.

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
        only the ``candidates`` of highest delta-BIC to the end (EM is deterministic, so those
        end exactly as if trained alone). The others keep their one-iteration model, with
        ``-inf`` in ``scores`` so they are never chosen. 0 trains every pair fully.
    fair : bool, default=False
        Compare the merged model with the two cluster models after the same extra EM: a copy
        of every cluster model trains one iteration (the baseline of the screening) and then up
        to ``em_iterations`` (the baseline of the final scores) on its own frames, instead of
        using ``loglik``. A large, not yet converged model otherwise gains from any merge the
        likelihood that more EM on its own frames would have given it, and absorbs one small
        cluster after another.

    Returns
    -------
    scores : ndarray of shape (n_pairs,)
        delta-BIC of each pair (``-inf`` for pairs dropped after the first iteration).
    merged : GMMSet
        The trained merged models, one per pair, in the order of ``pairs``.
    merged_loglik : ndarray of shape (n_pairs,)
        Total log-likelihood of every merged model on the union of its clusters' frames.
    """
    merged = merge_pairs(gmms, pairs)
    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])
    frames = cluster_frames(labels)
    screening = 0 < candidates < len(pairs) and em_iterations >= 2
    if fair:
        singles = gmms.select(list(range(gmms.n_gmms)))
        first = singles.fit(X, frames, max_iter=1, min_iter=1).log_likelihood
        full = first
        if em_iterations > 1:
            full = singles.fit(X, frames, max_iter=em_iterations - 1, min_iter=1).log_likelihood
        base, base1 = full[a] + full[b], first[a] + first[b]
    else:
        base = base1 = loglik[a] + loglik[b]
    screen = (int(candidates), base1) if screening else None
    result = merged.fit_unions(X, frames, [(int(x), int(y)) for x, y in pairs],
                               max_iter=em_iterations, screen=screen)
    scores = result.log_likelihood - base
    scores[~result.kept] = -np.inf
    return scores, merged, result.log_likelihood
