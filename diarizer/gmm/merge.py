"""Merge candidates: the (M_a + M_b)-component GMM built from two GMMs, as the original does."""

import numpy as np

__all__ = ["merge_pairs"]


def merge_pairs(gmms, pairs):
    """One merged GMM per pair, as the original diarizer builds merge candidates.

    The merged model of ``(a, b)`` has the components of ``a`` then those of ``b``, with weights
    ``w_a * M_a / (M_a + M_b)`` and ``w_b * M_b / (M_a + M_b)``.

    Parameters
    ----------
    gmms : GMMSet
    pairs : sequence of (int, int)

    Returns
    -------
    GMMSet
        ``len(pairs)`` GMMs with ``M_a + M_b`` components each, same floors.
    """
    xp = gmms.xp
    comps, scale, sizes = [], [], []
    for a, b in pairs:
        a, b = int(a), int(b)
        if not (0 <= a < gmms.n_gmms and 0 <= b < gmms.n_gmms):
            raise IndexError(f"pair ({a}, {b}) out of range for {gmms.n_gmms} GMMs")
        Ma, Mb = int(gmms.n_components[a]), int(gmms.n_components[b])
        comps += [np.arange(gmms._offsets[a], gmms._offsets[a + 1]),
                  np.arange(gmms._offsets[b], gmms._offsets[b + 1])]
        scale += [np.full(Ma, Ma / (Ma + Mb)), np.full(Mb, Mb / (Ma + Mb))]
        sizes.append(Ma + Mb)
    if not sizes:
        raise ValueError("merge_pairs needs at least one pair")
    ci = xp.asarray(np.concatenate(comps))
    take = lambda arr: xp.take(arr, ci, axis=0)  # noqa: E731
    w = take(gmms.weights) * xp.asarray(np.concatenate(scale), dtype=gmms.dtype)
    return gmms._same_kind(w, take(gmms.means), take(gmms.covariances), sizes,
                           take(gmms.precisions_cholesky))
