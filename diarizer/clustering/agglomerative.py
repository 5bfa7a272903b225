"""ICSI-style agglomerative clustering of speech frames with GMMs and delta-BIC merging.

The design of the PyCASP / GMM-specializer diarizer (Gonina et al., ASRU 2011), itself a copy of
the ICSI RT-09 system, with the original's bugs fixed (see ``../ORIGINAL.md`` of the project and the
comments below):

1. Initialisation: ``K`` clusters, either consecutive blocks of frames (the original's uniform
   segmentation; the ``N mod K`` tail goes to the last block, the original dropped it) or k-means
   over the mean vectors of ``seg_length``-frame segments (:mod:`.initial`), one GMM of ``M``
   Gaussians each, trained ``E`` EM iterations.
2. ``num_seg_iters_init`` rounds of resegmentation (:func:`~.resegment.resegment`).
3. Loop: ``num_seg_iters`` rounds of resegmentation; candidate pairs (all pairs, or the ``KL_ntop``
   closest by symmetric KL); every candidate's merged model trained in one batched call (with
   ``merge_candidates``, one EM iteration for all and the best few to the end); merge the pair of
   highest delta-BIC if it is positive, else stop. Stop also at one cluster.
4. Final labels: every frame scored by the final models and labelled as in the resegmentation
   (Viterbi or majority vote). (The original
   emitted the labels of its last resegmentation, which are those of the models *before* the last
   merge when the loop ended on a single cluster.)

Short meetings: steps 1-3 can run several times with different seeds (``n_init``); the run whose
labels agree best with the others' is kept (:mod:`.ensemble`).

Long meetings: steps 1-3 run on every ``k``-th frame when there are more than ``max_frames``
(durations scaled by ``k``); step 4 labels every frame at full rate.
"""

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from .._xp import to_numpy
from ..gmm import GMMSet, merge_pairs, prepare_frames
from .bic import delta_bic
from .clr import clr_clustering
from .ensemble import medoid_index
from .initial import segment_kmeans_labels, uniform_labels
from .kl import closest_pairs
from .resegment import majority_labels, resegment
from .viterbi import viterbi_min_duration

__all__ = ["ClusteringResult", "agglomerative_clustering"]

log = logging.getLogger(__name__)


@dataclass
class ClusteringResult:
    """Outcome of :func:`agglomerative_clustering`.

    Attributes
    ----------
    labels : ndarray of shape (n_frames,)
        Final cluster of every frame, indexing ``gmms`` (every GMM owns at least one frame).
    gmms : GMMSet
        Final cluster models.
    n_merges : int
        Merge steps performed.
    history : list of dict
        One entry per merge step: ``clusters`` (before the step), ``pair``, ``delta_bic``,
        ``merged`` (bool), ``seconds``.
    timings : dict of str to float
        Seconds spent in ``initial_training``, ``resegmentation`` and ``merging``.
    """

    labels: np.ndarray
    gmms: GMMSet
    n_merges: int = 0
    history: list = field(default_factory=list)
    timings: dict = field(default_factory=dict)


def _mixing_loss(labels, pairs):
    """``-(N_a ln(N_a/N) + N_b ln(N_b/N))``: delta-BIC of merging two disjoint clusters."""
    counts = np.bincount(labels).astype(np.float64)
    na = counts[[p[0] for p in pairs]]
    nb = counts[[p[1] for p in pairs]]
    n = na + nb
    return -(na * np.log(na / n) + nb * np.log(nb / n))


def _merge_groups(gmms, old, new):
    """One GMM per new cluster, made of the components of the old clusters it joins."""
    models = []
    for c in range(int(new.max()) + 1):
        members = np.unique(old[new == c]).tolist()
        model = gmms.select([members[0]])
        for m in members[1:]:
            both = GMMSet.concat([model, gmms.select([m])])
            model = merge_pairs(both, [(0, 1)])
        models.append(model)
    return GMMSet.concat(models) if len(models) > 1 else models[0]


def _labeller(resegmentation, seg_length, min_duration, runs):
    """Frame labeller: Viterbi with a minimum duration, or the original's majority vote."""
    if resegmentation == "viterbi":
        def label(loglik):
            return viterbi_min_duration(loglik, min_duration, runs)
        return label
    return majority_labels(seg_length)


def _decimate_runs(runs, step):
    """Runs ``[start, end)`` of frame indices mapped onto every ``step``-th frame."""
    if runs is None:
        return None
    runs = np.asarray(runs, dtype=np.int64)
    out = -(-runs // step)
    return out[out[:, 1] > out[:, 0]]


def _replace_pair(gmms, merged, a, b):
    """GMM set with model ``a`` replaced by ``merged`` and model ``b`` removed (a < b)."""
    g = gmms.n_gmms
    order = [g if i == a else i for i in range(g) if i != b]  # index g is `merged`
    return GMMSet.concat([gmms, merged]).select(order)


def agglomerative_clustering(X, *, initial_clusters=16, n_components=5, em_iterations=3,
                             seg_length=250, kl_ntop=0, num_seg_iters_init=2, num_seg_iters=3,
                             covariance_type="diag", init="original", resegmentation="majority",
                             min_duration=250, final_min_duration=0, runs=None, min_clusters=1,
                             max_clusters=0, clr=None, merge_tolerance=0.0, max_frames=0,
                             merge_candidates=0, initial_segmentation="uniform",
                             init_seg_length=0, reseg_tol=0.0, fair_bic=False,
                             n_init=1, ensemble_clusters=None, cannot_link=None, xp, dtype=None,
                             seed=0, retrain=False):
    """Cluster speech frames into speakers.

    Parameters
    ----------
    X : array of shape (n_frames, n_features)
        Speech frames, in time order, on the namespace ``xp``.
    initial_clusters : int, default=16
        Number of initial clusters ``K``.
    n_components : int, default=5
        Gaussians per initial GMM ``M``.
    em_iterations : int, default=3
        Maximum EM iterations per (re)training.
    seg_length : int, default=250
        Majority-vote window in frames.
    kl_ntop : int, default=0
        Candidate pairs per merge step (the closest by symmetric KL); 0 scores all pairs.
    num_seg_iters_init, num_seg_iters : int, default=2, 3
        Resegmentation rounds before the loop and before each merge step.
    covariance_type : {'diag', 'full'}, default='diag'
    init : {'original', 'kmeans'}, default='original'
        Seeding of the initial GMMs.
    resegmentation : {'majority', 'viterbi'}, default='majority'
        Frame labelling: the original's majority vote in windows of ``seg_length`` frames, or
        Viterbi decoding with a minimum duration of ``min_duration`` frames.
    min_duration : int, default=250
        Minimum segment length of the Viterbi decoder between merges, in frames.
    final_min_duration : int, default=0
        Minimum segment length of the final labelling of every frame with the final GMMs, in
        frames (0 = ``min_duration``). Shorter than ``min_duration``, it labels short turns
        (backchannels, quick replies) that the merges are better decided without.
    runs : ndarray of shape (n_runs, 2), optional
        Speech runs ``[start, end)`` (indices into ``X``) between pauses; the Viterbi decoder lets
        the speaker change freely at their boundaries. Default: one run.
    min_clusters : int, default=1
        Never merge below this many clusters (a minimum or exact speaker count).
    max_clusters : int, default=0
        Keep merging the best pair, even at a negative delta-BIC, while there are more clusters
        than this (a maximum or exact speaker count); 0 = no maximum.
    merge_tolerance : float, default=0.0
        Also merge a pair whose delta-BIC is negative but above ``-merge_tolerance`` times the
        largest loss a merge of disjoint clusters can cause,
        ``-(N_a ln(N_a / N) + N_b ln(N_b / N))``; pairs are ranked by their margin above that
        threshold. 0 is the original rule (merge iff delta-BIC > 0).
    initial_segmentation : {'uniform', 'kmeans'}, default='uniform'
        Initial clusters: ``K`` consecutive blocks (the original) or k-means over the mean vectors
        of ``init_seg_length``-frame segments (:func:`~.initial.segment_kmeans_labels`).
    init_seg_length : int, default=0
        Segment length of the k-means initial segmentation in frames (0 = ``seg_length``). When
        the clustering runs on every ``k``-th frame (``max_frames``) it is at least
        ``seg_length``: a segment's mean then comes from ``1/k`` of its frames.
    reseg_tol : float, default=0.0
        End the resegmentation rounds of a step early once a round changes the label of fewer
        than this fraction of the frames (no cluster lost); 0 always runs every round.
    fair_bic : bool, default=False
        Compare every merged model with its two cluster models trained as many extra EM
        iterations on their own frames (see :func:`~.bic.delta_bic`).
    merge_candidates : int, default=0
        Train every candidate's merged model one EM iteration, then only this many (those of
        highest delta-BIC after that iteration) to the end (see :func:`~.bic.delta_bic`);
        0 trains every candidate fully.
    max_frames : int, default=0
        Cluster at most this many frames: when there are more, every ``k``-th frame with the
        smallest ``k`` that fits (the decimated frames follow the same distribution, so the models
        and the sign of delta-BIC are unchanged in expectation; ``seg_length``, ``min_duration``
        and ``runs`` are scaled by ``k``). The final labelling scores every frame with the final
        models at full rate. 0 = always every frame.
    n_init : int, default=1
        Run steps 1-3 this many times, with seeds ``seed``, ``seed + 1``, ... and keep the run
        whose labels agree best with all the others (the medoid under the adjusted Rand index,
        :mod:`.ensemble`); the CLR stage and step 4 then run once, on that run's models.
    ensemble_clusters : list of int, optional
        Initial cluster counts the runs cycle through (run ``i`` starts from
        ``ensemble_clusters[i % len]`` clusters); default: ``initial_clusters`` for every run.
    cannot_link : callable, optional
        ``cannot_link(frames, labels)`` -> bool array of shape (K, K): the pairs of the ``K``
        current clusters that must not merge (e.g. clusters identified as two different
        enrolled speakers, :func:`diarizer.speakers.naming.identity_constraints`). ``frames``
        are the indices into ``X`` of the clustered frames (every ``k``-th with ``max_frames``)
        and ``labels`` their clusters. Called at every merge step; forbidden pairs are never
        candidates, and merging stops when no pair is left, unless ``max_clusters`` forces more
        merges (the constraints then yield to the requested count).
    clr : dict, optional
        Keyword arguments of :func:`~.clr.clr_clustering` (``threshold``, ``n_components``,
        ``relevance_factor``) to run the cross-likelihood-ratio stage after BIC merging.
    xp : namespace
        Array namespace of the engine.
    dtype : dtype, optional
        Floating type of the engine.
    seed : int, default=0
        Random seed (used by initialisations that draw random numbers).
    retrain : bool, default=False
        After the merges (and the choice among the ensemble's runs), train every final cluster
        a model of ``n_components`` Gaussians from a fresh initialisation (``init``, seeded by
        ``seed``) and run up to ``num_seg_iters`` resegmentation rounds with them, instead of
        keeping the merged models (``M_a + M_b + ...`` components trained a few EM iterations
        at a time) for the final labelling.

    Returns
    -------
    ClusteringResult
    """
    step = 1
    if max_frames and X.shape[0] > max_frames:
        step = -(-X.shape[0] // max_frames)
    final_label = _labeller(resegmentation, seg_length, final_min_duration or min_duration, runs)
    X_all = X
    seg = seg_length
    init_seg = init_seg_length or seg_length
    if step > 1:
        init_seg = max(1, round(max(init_seg, seg_length) / step))
        X = X[::step, ...]
        log.info("clustering every %d-th of %d frames (max_frames %d)", step, X_all.shape[0],
                 max_frames)
        seg = max(1, round(seg_length / step))
        label = _labeller(resegmentation, seg, max(1, round(min_duration / step)),
                          _decimate_runs(runs, step))
    else:
        label = _labeller(resegmentation, seg_length, min_duration, runs)
    # Checked, converted and made contiguous once (X[::step] is a strided view): every engine
    # call below then skips its own pass over the frames.
    X = prepare_frames(X, xp=xp, dtype=dtype)
    n_frames = X.shape[0]
    frames = np.arange(0, X_all.shape[0], step)  # indices into X_all of the clustered frames
    timings = {"initial_training": 0.0, "resegmentation": 0.0, "merging": 0.0}

    def train(labels, seed):
        """Models of ``n_components`` Gaussians for the clusters of ``labels``, from ``init``."""
        gmms = GMMSet.initialize(X, labels, n_components, init=init,
                                 covariance_type=covariance_type, xp=xp, dtype=dtype,
                                 random_state=seed)
        return gmms, gmms.fit(X, labels, max_iter=em_iterations).log_likelihood

    def reseg(gmms, labels, loglik, rounds):
        """Up to ``rounds`` resegmentation rounds, ending once the labels settle."""
        t = time.perf_counter()
        for _ in range(rounds):
            if gmms.n_gmms < 1:
                break
            g = gmms.n_gmms
            before = labels
            gmms, labels, loglik = resegment(gmms, X, label, em_iterations)
            changed = np.count_nonzero(labels != before)
            if gmms.n_gmms == g and changed < reseg_tol * n_frames:
                break  # converged: another round would only continue EM on the same frames
        timings["resegmentation"] += time.perf_counter() - t
        return gmms, labels, loglik

    def run(seed, k0):
        """One BIC clustering from its own initialisation: (gmms, labels, history)."""
        t0 = time.perf_counter()
        k = max(1, min(k0, n_frames // max(n_components, 1)))
        if k < k0:
            log.warning("only %d frames: %d initial clusters instead of %d", n_frames, k, k0)
        if initial_segmentation == "kmeans":
            labels = segment_kmeans_labels(to_numpy(X.array), k, init_seg,
                                           min_frames=2 * n_components, seed=seed)
            k = int(labels.max()) + 1
        else:
            labels = uniform_labels(n_frames, k)
        gmms, loglik = train(labels, seed)
        timings["initial_training"] += time.perf_counter() - t0

        gmms, labels, loglik = reseg(gmms, labels, loglik, num_seg_iters_init)
        history = []
        while gmms.n_gmms > max(min_clusters, 1):
            t_step = time.perf_counter()
            gmms, labels, loglik = reseg(gmms, labels, loglik, num_seg_iters)
            if gmms.n_gmms <= max(min_clusters, 1):
                break
            t = time.perf_counter()
            g = gmms.n_gmms
            forced = 0 < max_clusters < g
            forbid = None if cannot_link is None else np.asarray(cannot_link(frames, labels))
            if forbid is not None and forced and forbid[np.triu_indices(g, k=1)].all():
                log.info("merge step %d: every pair is forbidden; merging anyway down to %d "
                         "clusters", len(history) + 1, max_clusters)
                forbid = None
            if kl_ntop > 0:
                pairs = closest_pairs(gmms, kl_ntop, forbidden=forbid)
            else:
                pairs = [(a, b) for a in range(g) for b in range(a + 1, g)
                         if forbid is None or not forbid[a, b]]
            if not pairs:
                log.info("merge step %d: %d clusters, no pair may merge: stop", len(history) + 1,
                         g)
                timings["merging"] += time.perf_counter() - t
                break
            scores, merged, merged_ll = delta_bic(gmms, X, labels, loglik, pairs,
                                                  em_iterations, candidates=merge_candidates,
                                                  fair=fair_bic)
            margin = scores + merge_tolerance * _mixing_loss(labels, pairs)
            best = int(np.argmax(margin))
            a, b = pairs[best]
            do_merge = margin[best] > 0 or forced
            history.append({"clusters": g, "pair": (a, b), "delta_bic": float(scores[best]),
                            "merged": bool(do_merge), "seconds": time.perf_counter() - t_step})
            log.info("merge step %d: %d clusters, best delta-BIC %.2f for (%d, %d)%s, %.3f s",
                     len(history), g, scores[best], a, b, "" if do_merge else ": stop",
                     time.perf_counter() - t_step)
            timings["merging"] += time.perf_counter() - t
            if not do_merge:
                break
            gmms = _replace_pair(gmms, merged.select([best]), a, b)
            labels = np.where(labels == b, a, labels)
            labels = np.where(labels > b, labels - 1, labels)
            loglik = np.delete(loglik, b)  # a < b
            loglik[a] = merged_ll[best]
        return gmms, labels, history

    sizes = ensemble_clusters or [initial_clusters]
    members = [run(seed + i, sizes[i % len(sizes)]) for i in range(max(1, n_init))]
    chosen = 0
    if len(members) > 1:
        chosen, agreement = medoid_index([m[1] for m in members])
        log.info("ensemble of %d runs: clusters %s, mean ARI %s, keeping run %d",
                 len(members), [m[0].n_gmms for m in members],
                 " ".join(f"{v:.3f}" for v in agreement), chosen)
    gmms, labels, history = members[chosen]
    n_merges = sum(h["merged"] for h in history)
    if retrain and gmms.n_gmms > 0:
        # Models of the final clusters trained afresh: n_components Gaussians each from a
        # k-means start, instead of the merged models of M_a + M_b + ... components, then
        # resegmentation rounds as between merges.
        t = time.perf_counter()
        gmms, loglik = train(labels, seed)
        timings["final_training"] = time.perf_counter() - t
        gmms, labels, _ = reseg(gmms, labels, loglik, num_seg_iters)

    if clr is not None and gmms.n_gmms > max(min_clusters, 1):
        t = time.perf_counter()
        new = clr_clustering(X.array, labels, min_clusters=min_clusters, xp=xp, dtype=dtype,
                             seed=seed, **clr)
        if new.max() + 1 < gmms.n_gmms:
            n_merges += gmms.n_gmms - (int(new.max()) + 1)
            gmms = _merge_groups(gmms, labels, new)
            labels = new
            gmms.fit(X, labels, max_iter=em_iterations)
        timings["clr"] = time.perf_counter() - t

    # Final labels from the final models (see module docstring).
    t = time.perf_counter()
    gmms, labels, _ = resegment(gmms, X_all, final_label, em_iterations, train=False)
    timings["resegmentation"] += time.perf_counter() - t
    return ClusteringResult(labels=labels, gmms=gmms, n_merges=n_merges, history=history,
                            timings=timings)
