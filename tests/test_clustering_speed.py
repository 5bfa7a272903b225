"""The clustering's speed options: decimated clustering (max_frames) and candidate pruning."""

import numpy as np
import pytest

from diarizer._xp import get_xp
from diarizer.clustering.agglomerative import _decimate_runs, agglomerative_clustering
from diarizer.clustering.bic import delta_bic
from diarizer.gmm import GMMSet
from diarizer.pipeline import diarize

xp = get_xp("numpy")


def three_speakers(seed=0, d=6, turn=600):
    rng = np.random.default_rng(seed)
    truth = np.repeat([0, 1, 2, 0, 1, 2], turn)
    centres = np.stack([np.zeros(d), np.full(d, 5.0), np.r_[np.full(d // 2, 5.0),
                                                             np.full(d - d // 2, -5.0)]])
    return (centres[truth] + rng.standard_normal((truth.size, d))).astype(np.float64), truth


# exact Gaussians: two clusters of one speaker score delta-BIC = 0 +- noise, hence the tolerance
SMALL = dict(initial_clusters=6, n_components=2, num_seg_iters_init=1, num_seg_iters=1,
             resegmentation="viterbi", min_duration=100, init="kmeans", merge_tolerance=0.2,
             xp=xp)


def test_decimate_runs_maps_each_run_onto_kept_frames():
    # frames 0..9 in runs [0,3) [3,4) [4,10); step 3 keeps frames 0, 3, 6, 9 -> indices 0..3
    runs = np.array([[0, 3], [3, 4], [4, 10]])
    assert _decimate_runs(runs, 3).tolist() == [[0, 1], [1, 2], [2, 4]]
    # a run holding no kept frame disappears: [1, 3) with step 3 keeps nothing
    assert _decimate_runs(np.array([[0, 1], [1, 3], [3, 7]]), 3).tolist() == [[0, 1], [1, 3]]
    assert _decimate_runs(None, 2) is None


def _purity(labels, truth):
    return sum(np.bincount(truth[labels == c]).max() for c in np.unique(labels)) / truth.size


def test_decimated_clustering_labels_every_frame_at_full_rate(caplog):
    caplog.set_level("INFO", logger="diarizer")
    X, truth = three_speakers()
    full = agglomerative_clustering(X, **SMALL)
    dec = agglomerative_clustering(X, max_frames=1000, **SMALL)
    assert "clustering every 4-th of 3600 frames" in caplog.text
    assert dec.labels.shape == (3600,)
    assert dec.gmms.n_gmms == full.gmms.n_gmms == 3
    assert _purity(dec.labels, truth) > 0.99
    # boundaries at full frame resolution: the decoder changes speaker at multiples of 600 only
    changes = np.flatnonzero(np.diff(dec.labels)) + 1
    assert len(changes) == 5 and np.all(np.abs(changes - 600 * np.arange(1, 6)) <= 3)


def test_no_decimation_below_the_cap():
    X, _ = three_speakers()
    a = agglomerative_clustering(X, **SMALL)
    b = agglomerative_clustering(X, max_frames=3600, **SMALL)
    assert np.array_equal(a.labels, b.labels)


def _models(X, labels, m=2):
    g = GMMSet.initialize(X, labels, m, init="kmeans", xp=xp, random_state=0)
    ll = g.fit(X, labels, max_iter=3).log_likelihood
    return g, ll


def test_candidate_pruning_trains_the_kept_pairs_exactly_as_in_one_go():
    X, truth = three_speakers()
    labels = np.repeat(np.arange(6), 600)  # six clusters: 0&3, 1&4, 2&5 are the same speakers
    gmms, ll = _models(X, labels)
    pairs = [(a, b) for a in range(6) for b in range(a + 1, 6)]
    full, merged_full, _ = delta_bic(gmms, X, labels, ll, pairs, 3)
    pruned, merged, _ = delta_bic(gmms, X, labels, ll, pairs, 3, candidates=3)
    kept = np.flatnonzero(np.isfinite(pruned))
    assert kept.size == 3
    assert {pairs[i] for i in kept} == {(0, 3), (1, 4), (2, 5)}
    np.testing.assert_allclose(pruned[kept], full[kept], rtol=1e-9)
    assert merged.n_gmms == len(pairs)
    for i in kept:
        np.testing.assert_allclose(merged.select([i]).means, merged_full.select([i]).means,
                                   rtol=1e-9)
    assert int(np.argmax(pruned)) == int(np.argmax(full))


@pytest.mark.parametrize("candidates", [0, 15, 20])
def test_candidate_pruning_off_when_not_fewer_than_pairs(candidates):
    X, _ = three_speakers()
    labels = np.repeat(np.arange(6), 600)
    gmms, ll = _models(X, labels)
    pairs = [(a, b) for a in range(6) for b in range(a + 1, 6)]
    scores, _, _ = delta_bic(gmms, X, labels, ll, pairs, 3, candidates=candidates)
    assert np.all(np.isfinite(scores))


def test_settings_reach_the_clustering(caplog):
    caplog.set_level("INFO", logger="diarizer")
    X, _ = three_speakers()
    result = diarize(X.astype(np.float32), initial_clusters=6, M_mfcc=2, merge_candidates=2,
                     max_cluster_frames=1800, num_seg_iters_init=1, num_seg_iters=1,
                     min_duration=100, merge_tolerance=0.2)
    assert "clustering every 2-th of 3600 frames" in caplog.text
    assert result.n_speakers == 3


def test_reseg_tol_ends_rounds_once_labels_settle(monkeypatch):
    import diarizer.clustering.agglomerative as agg

    X, truth = three_speakers()
    calls = []
    real = agg.resegment

    def counting(gmms, X, label, em_iterations, **kw):
        out = real(gmms, X, label, em_iterations, **kw)
        calls.append(out[0].n_gmms)
        return out

    monkeypatch.setattr(agg, "resegment", counting)
    args = {**SMALL, "num_seg_iters_init": 3, "num_seg_iters": 3}
    full = agglomerative_clustering(X, **args)
    n_full = len(calls)
    calls.clear()
    early = agglomerative_clustering(X, reseg_tol=0.01, **args)
    n_early = len(calls)
    # 0 runs every round: 3 before the loop, 3 per merge step, 1 final labelling
    assert n_full == 3 + 3 * len(full.history) + 1
    assert n_early < n_full
    assert early.gmms.n_gmms == 3 and _purity(early.labels, truth) > 0.99


def test_final_min_duration_labels_short_turns_without_changing_the_clustering():
    X, truth = three_speakers()
    # a 60-frame interjection of speaker 1 inside speaker 0's first turn
    X[200:260] = X[600:660]
    truth = truth.copy()
    truth[200:260] = 1
    same = agglomerative_clustering(X, **SMALL)
    short = agglomerative_clustering(X, final_min_duration=40, **SMALL)
    # the merges are decided with min_duration: the same in both runs
    assert [(h["pair"], h["delta_bic"]) for h in same.history] == \
        [(h["pair"], h["delta_bic"]) for h in short.history]
    # a 100-frame minimum cannot hold the 60-frame interjection: it is not labelled as speaker 1
    assert not np.any(same.labels[200:260] == same.labels[700])
    assert _purity(same.labels, truth) < 0.99
    # a 40-frame minimum can: every frame is labelled as its speaker
    assert np.all(short.labels[200:260] == short.labels[700])
    assert _purity(short.labels, truth) == 1.0 and short.gmms.n_gmms == 3


def test_fair_bic_compares_with_cluster_models_trained_as_long():
    X, _ = three_speakers()
    labels = np.repeat(np.arange(6), 600)
    gmms, _ = _models(X, labels)
    # an under-trained model of clusters 0 and 3 (one EM iteration from k-means)
    ll = gmms.score(X, labels)
    pairs = [(a, b) for a in range(6) for b in range(a + 1, 6)]
    plain, _, merged_ll = delta_bic(gmms, X, labels, ll, pairs, 3)
    fair, _, merged_ll_fair = delta_bic(gmms, X, labels, ll, pairs, 3, fair=True)
    np.testing.assert_allclose(merged_ll_fair, merged_ll, rtol=1e-12)  # the same merged models
    np.testing.assert_allclose(plain, merged_ll - (ll[[a for a, _ in pairs]]
                                                   + ll[[b for _, b in pairs]]), rtol=1e-12)
    # the baseline: copies of the cluster models trained 3 more iterations on their own frames
    singles = gmms.select(list(range(6)))
    more = singles.fit(X, labels, max_iter=1, min_iter=1).log_likelihood
    more = singles.fit(X, labels, max_iter=2, min_iter=1).log_likelihood
    expect = merged_ll - (more[[a for a, _ in pairs]] + more[[b for _, b in pairs]])
    np.testing.assert_allclose(fair, expect, rtol=1e-12)
    assert np.all(fair <= plain + 1e-6)  # more EM never lowers the cluster models' likelihood
    # the input models are left as they were
    np.testing.assert_allclose(gmms.score(X, labels), ll, rtol=1e-12)


def test_fair_bic_setting_reaches_the_clustering():
    X, truth = three_speakers()
    plain = agglomerative_clustering(X, **SMALL)
    fair = agglomerative_clustering(X, fair_bic=True, **SMALL)
    assert plain.gmms.n_gmms == fair.gmms.n_gmms == 3
    assert _purity(fair.labels, truth) > 0.99
    steps = [[h["delta_bic"] for h in r.history] for r in (plain, fair)]
    assert len(steps[0]) == len(steps[1]) and steps[0] != steps[1]
    result = diarize(X.astype(np.float32), initial_clusters=6, M_mfcc=2, min_duration=100,
                     merge_tolerance=0.2, fair_bic=True)
    assert result.n_speakers == 3


def test_final_retrain_trains_fresh_models_of_the_final_clusters(caplog):
    caplog.set_level("INFO", logger="diarizer")
    X, truth = three_speakers()
    merged = agglomerative_clustering(X, **SMALL)
    fresh = agglomerative_clustering(X, retrain=True, **SMALL)
    # the merges are the same; only the final models differ
    assert [(h["pair"], h["delta_bic"]) for h in merged.history] == \
        [(h["pair"], h["delta_bic"]) for h in fresh.history]
    assert merged.gmms.n_gmms == fresh.gmms.n_gmms == 3
    # merged models hold the components of every cluster they joined; fresh ones n_components
    assert sum(merged.gmms.n_components.tolist()) == 6 * SMALL["n_components"]
    assert fresh.gmms.n_components.tolist() == [SMALL["n_components"]] * 3
    assert _purity(fresh.labels, truth) > 0.99
    assert "final_training" in fresh.timings and "final_training" not in merged.timings
    again = agglomerative_clustering(X, retrain=True, **SMALL)
    assert np.array_equal(fresh.labels, again.labels)
    # through the pipeline: final_retrain = true leaves M_mfcc Gaussians per speaker
    result = diarize(X.astype(np.float32), initial_clusters=6, M_mfcc=2, min_duration=100,
                     merge_tolerance=0.2, final_retrain="true")
    assert result.n_speakers == 3 and result.gmms.n_components.tolist() == [2, 2, 2]


@pytest.mark.parametrize("setting, runs, expected", [
    ("auto", 1, False), ("auto", 3, True), ("true", 1, True), ("false", 3, False)])
def test_final_retrain_setting_reaches_the_clustering(monkeypatch, setting, runs, expected):
    import diarizer.pipeline as pipeline

    seen = {}
    real = pipeline.agglomerative_clustering

    def spy(X, **kw):
        seen["retrain"] = kw["retrain"]
        return real(X, **kw)

    monkeypatch.setattr(pipeline, "agglomerative_clustering", spy)
    X, _ = three_speakers()
    diarize(X.astype(np.float32), initial_clusters=6, M_mfcc=2, min_duration=100,
            merge_tolerance=0.2, final_retrain=setting, ensemble_runs=runs)
    assert seen["retrain"] is expected
