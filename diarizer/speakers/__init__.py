"""Who is who: enrolled speakers named in the output, and speakers linked across meetings.

Public names
------------
train_ubm
    Universal background model (one large diagonal GMM) on the speech of many recordings.
enroll, load_speakers, SpeakerDB
    MAP-adapted models of named speakers in a speakers folder (format in :mod:`.enroll`).
score_clusters, tnorm_scores, name_clusters
    Average per-frame LLR of clusters against enrolled speakers, its T-normalisation against the
    other enrolled speakers, and naming with thresholds on both.
cluster_vectors, link_clusters
    MAP-adapted mean supervectors of clusters and their agglomerative linking across meetings.
split_phrases
    Cut an utterance into phrases at its pauses.
"""

from .enroll import SpeakerDB, enroll, load_speakers
from .linking import cluster_vectors, link_clusters
from .naming import name_clusters, score_clusters, tnorm_scores
from .phrases import split_phrases
from .ubm import train_ubm

__all__ = ["train_ubm", "enroll", "load_speakers", "SpeakerDB", "score_clusters", "tnorm_scores",
           "name_clusters", "cluster_vectors", "link_clusters", "split_phrases"]
