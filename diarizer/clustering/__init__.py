"""Speaker clustering: resegmentation, KL pre-selection, delta-BIC merging."""

from .agglomerative import ClusteringResult, agglomerative_clustering
from .bic import delta_bic
from .initial import segment_kmeans_labels, uniform_labels
from .kl import closest_pairs, symmetric_kl
from .resegment import majority_vote, resegment

__all__ = [
    "ClusteringResult",
    "agglomerative_clustering",
    "uniform_labels",
    "segment_kmeans_labels",
    "delta_bic",
    "closest_pairs",
    "symmetric_kl",
    "majority_vote",
    "resegment",
]
