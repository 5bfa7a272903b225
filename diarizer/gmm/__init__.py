"""The GMM engine: many GMMs trained and scored at once, diagonal or full covariances, any xp.

Public names
------------
GMMSet
    G GMMs of possibly different sizes, batched EM (:meth:`GMMSet.fit` on their own frames,
    :meth:`GMMSet.fit_unions` on unions of shared blocks such as merge candidates),
    frame-by-GMM log-likelihoods.
FitResult
    Per-GMM log-likelihood, iterations and convergence flags of :meth:`GMMSet.fit`.
merge_pairs
    The original diarizer's merge candidates (components of a then b, weights scaled by size).
dump_gmms, load_gmms
    The original plain-text dump (extended to full covariances) or ``.npz``.
map_adapt
    MAP adaptation of a background model to many groups of frames at once.
GaussianMixture
    A single GMM with scikit-learn's estimator interface.
prepare_frames, Frames
    Frames checked and converted once, for many engine calls on the same frames.
"""

from ._checks import Frames, prepare_frames
from .map import map_adapt
from .merge import merge_pairs
from .mixture import GaussianMixture
from .model import FitResult, GMMSet
from .serialize import dump_gmms, load_gmms

__all__ = ["GMMSet", "FitResult", "merge_pairs", "dump_gmms", "load_gmms", "map_adapt",
           "GaussianMixture", "Frames", "prepare_frames"]
