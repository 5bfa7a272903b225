"""Speaker clustering: resegmentation, KL pre-selection, delta-BIC merging."""

from .agglomerative import ClusteringResult, agglomerative_clustering, uniform_labels
from .bic import delta_bic
from .kl import closest_pairs, symmetric_kl
from .resegment import majority_vote, resegment

__all__ = [
    "ClusteringResult",
    "agglomerative_clustering",
    "uniform_labels",
    "delta_bic",
    "closest_pairs",
    "symmetric_kl",
    "majority_vote",
    "resegment",
]
