"""Cannot-link constraints in the agglomerative clustering (``cannot_link``, issue 8)."""

import numpy as np
from test_clustering_speed import SMALL

from diarizer.clustering.agglomerative import agglomerative_clustering
from diarizer.clustering.kl import closest_pairs
from diarizer.gmm import GMMSet


def four_people(seed=0, d=6, turn=600):
    """Six turns of four people; people 0 and 3 sound the same (one centre)."""
    rng = np.random.default_rng(seed)
    truth = np.repeat([0, 1, 2, 3, 1, 2], turn)
    centres = np.stack([np.zeros(d), np.full(d, 5.0),
                        np.r_[np.full(d // 2, 5.0), np.full(d - d // 2, -5.0)], np.zeros(d)])
    return centres[truth] + rng.standard_normal((truth.size, d)), truth


def by_majority(truth, calls):
    """Forbid merging clusters whose frames mostly belong to different people."""
    def cannot_link(frames, labels):
        calls.append((np.array(frames), np.array(labels)))
        K = int(labels.max()) + 1
        major = np.array([np.bincount(truth[frames][labels == k], minlength=4).argmax()
                          for k in range(K)])
        return major[:, None] != major[None, :]
    return cannot_link


def test_constraint_keeps_look_alike_people_apart():
    X, truth = four_people()
    plain = agglomerative_clustering(X, **SMALL)
    assert plain.gmms.n_gmms == 3  # BIC joins the two people who sound the same
    calls = []
    res = agglomerative_clustering(X, cannot_link=by_majority(truth, calls), **SMALL)
    assert res.gmms.n_gmms == 4
    # one cluster per person (the frames of the look-alikes may mix in the final labelling)
    major = {int(np.bincount(truth[res.labels == k], minlength=4).argmax()) for k in range(4)}
    assert major == {0, 1, 2, 3}
    # called once per merge step with every frame and the current labels
    assert len(calls) >= 3
    frames, labels = calls[-1]
    assert np.array_equal(frames, np.arange(X.shape[0])) and labels.shape == frames.shape


def test_constraint_sees_the_decimated_frames():
    X, truth = four_people()
    calls = []
    res = agglomerative_clustering(X, cannot_link=by_majority(truth, calls), max_frames=1800,
                                   **SMALL)
    assert res.gmms.n_gmms == 4 and res.labels.shape == (X.shape[0],)
    frames, labels = calls[0]
    assert np.array_equal(frames, np.arange(0, X.shape[0], 2)) and labels.size == frames.size


def test_requested_count_overrides_the_constraint(caplog):
    caplog.set_level("INFO", logger="diarizer")
    X, truth = four_people()
    res = agglomerative_clustering(X, cannot_link=by_majority(truth, []), max_clusters=3,
                                   **SMALL)
    assert res.gmms.n_gmms == 3
    # forbidding everything: no merge at all, unless a count forces them
    K = SMALL["initial_clusters"]
    none = agglomerative_clustering(X, cannot_link=lambda f, lab: np.ones((K, K), bool), **SMALL)
    assert none.n_merges == 0 and "no pair may merge: stop" in caplog.text
    forced = agglomerative_clustering(X, cannot_link=lambda f, lab: np.ones((K, K), bool),
                                      max_clusters=2, **SMALL)
    assert forced.gmms.n_gmms == 2 and "every pair is forbidden" in caplog.text


def test_closest_pairs_skips_forbidden_pairs():
    means = np.array([[0.0], [0.1], [5.0], [5.3]])
    g = GMMSet(np.ones(4), means, np.ones((4, 1)), [1, 1, 1, 1], xp="numpy")
    assert closest_pairs(g, 2) == [(0, 1), (2, 3)]
    forbid = np.zeros((4, 4), bool)
    forbid[0, 1] = True
    assert closest_pairs(g, 2, forbidden=forbid) == [(2, 3), (1, 2)]
