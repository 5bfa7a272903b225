"""Consensus over clustering runs: adjusted Rand index, medoid, and the ensemble in the pipeline."""

import re

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score
from test_clustering_speed import SMALL, three_speakers

from diarizer.clustering.agglomerative import agglomerative_clustering
from diarizer.clustering.ensemble import adjusted_rand_index, medoid_index
from diarizer.config import read_config
from diarizer.pipeline import _ensemble_runs


def test_ari_hand_counted():
    # contingency [[2, 0], [1, 1]]: 1 pair together in both; rows (2, 2) give 2 pairs, columns
    # (3, 1) give 3, of 6 pairs in all: expected 2 * 3 / 6 = 1, maximum 2.5, ARI 0
    a = np.array([0, 0, 1, 1])
    b = np.array([0, 0, 0, 1])
    expected = (1 - 2 * 3 / 6) / ((2 + 3) / 2 - 2 * 3 / 6)
    assert adjusted_rand_index(a, b) == pytest.approx(expected) == pytest.approx(0.0)
    assert adjusted_rand_index(a, 1 - a) == 1.0  # renaming does not matter
    assert adjusted_rand_index(np.zeros(5, int), np.zeros(5, int)) == 1.0


@pytest.mark.parametrize("seed", range(5))
def test_ari_equals_sklearn(seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 1 + seed, 500)
    b = np.where(rng.random(500) < 0.7, a, rng.integers(0, 4, 500))
    assert adjusted_rand_index(a, b) == pytest.approx(adjusted_rand_score(a, b), abs=1e-12)


def test_ari_refuses_different_lengths():
    with pytest.raises(ValueError, match="different shapes"):
        adjusted_rand_index(np.zeros(3, int), np.zeros(4, int))


def test_medoid_is_the_majority_partition():
    truth = np.repeat([0, 1, 2], 50)
    lost = np.where(truth == 2, 1, truth)  # two speakers merged
    split = np.where(np.arange(150) % 2 == 0, truth, 3)  # noise
    best, agreement = medoid_index([lost, truth, (truth + 1) % 3, split])
    assert best == 1  # the first of the two identical partitions
    assert agreement[1] == agreement[2] > agreement[0] > agreement[3]
    with pytest.raises(ValueError, match="no labellings"):
        medoid_index([])


def test_ensemble_keeps_the_chosen_run(caplog):
    caplog.set_level("INFO", logger="diarizer")
    X, truth = three_speakers(seed=1)
    args = dict(SMALL, initial_segmentation="kmeans")
    res = agglomerative_clustering(X, n_init=3, seed=5, **args)
    line = re.search(r"ensemble of 3 runs: clusters \[(.*)\], mean ARI .*, keeping run (\d)",
                     caplog.text)
    assert line, caplog.text
    chosen = int(line.group(2))
    alone = agglomerative_clustering(X, seed=5 + chosen, **args)
    assert np.array_equal(res.labels, alone.labels)
    assert res.n_merges == alone.n_merges and res.gmms.n_gmms == 3
    # one run is the plain clustering with the given seed
    assert np.array_equal(agglomerative_clustering(X, n_init=1, seed=5, **args).labels,
                          agglomerative_clustering(X, seed=5, **args).labels)


@pytest.mark.parametrize("speech, runs", [(30.0, 16), (150.0, 16), (300.0, 16), (350.0, 13),
                                          (400.0, 12), (401.0, 1), (500.0, 1), (7200.0, 1)])
def test_automatic_runs_from_the_budget(speech, runs):
    settings = read_config(None, {}, check_required=False)
    assert _ensemble_runs(settings, speech) == runs


def test_fixed_runs_and_zero_budget():
    assert _ensemble_runs(read_config(None, {"ensemble_runs": "3"}, check_required=False),
                          7200.0) == 3
    assert _ensemble_runs(read_config(None, {"ensemble_budget": "0"}, check_required=False),
                          30.0) == 1


def test_no_ensemble_when_nothing_is_random():
    settings = read_config(None, {"initial_segmentation": "uniform", "gmm_init": "original"},
                           check_required=False)
    assert _ensemble_runs(settings, 30.0) == 1
    settings = read_config(None, {"initial_segmentation": "uniform"}, check_required=False)
    assert _ensemble_runs(settings, 30.0) == 16  # k-means seeding of the GMMs still draws


def test_runs_alternate_between_initial_cluster_counts(caplog):
    caplog.set_level("INFO", logger="diarizer")
    X, _ = three_speakers(seed=2)
    args = dict(SMALL, initial_segmentation="kmeans")
    res = agglomerative_clustering(X, n_init=3, ensemble_clusters=[4, 6], seed=0, **args)
    chosen = int(re.search(r"keeping run (\d)", caplog.text).group(1))
    k = [4, 6][chosen % 2]
    alone = agglomerative_clustering(X, seed=chosen, **dict(args, initial_clusters=k))
    assert np.array_equal(res.labels, alone.labels)


def test_init_seg_length_sets_the_kmeans_segments(monkeypatch):
    import diarizer.clustering.agglomerative as agg

    seen = []
    real = agg.segment_kmeans_labels

    def spy(X, k, seg_frames, **kw):
        seen.append((X.shape[0], seg_frames))
        return real(X, k, seg_frames, **kw)

    monkeypatch.setattr(agg, "segment_kmeans_labels", spy)
    X, truth = three_speakers(seed=1)  # 3600 frames
    args = dict(SMALL, initial_segmentation="kmeans", seg_length=250)
    res = agglomerative_clustering(X, init_seg_length=150, **args)
    assert seen == [(3600, 150)]
    assert adjusted_rand_index(res.labels, truth) > 0.9
    seen.clear()
    agglomerative_clustering(X, **args)  # 0: seg_length
    assert seen == [(3600, 250)]
    # every 2nd frame: at least seg_length full-rate frames, in clustered frames
    seen.clear()
    agglomerative_clustering(X, init_seg_length=150, max_frames=1800, **args)
    assert seen == [(1800, 125)]
    seen.clear()
    agglomerative_clustering(X, init_seg_length=400, max_frames=1800, **args)
    assert seen == [(1800, 200)]
