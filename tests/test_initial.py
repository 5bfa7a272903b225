import numpy as np

from diarizer.clustering import segment_kmeans_labels, uniform_labels


def test_uniform_labels_tail_joins_last_block():
    assert uniform_labels(7, 3).tolist() == [0, 0, 1, 1, 2, 2, 2]


def _voices(order, seg=100, d=4, seed=0):
    rng = np.random.default_rng(seed)
    centres = {0: np.zeros(d), 1: np.full(d, 6.0), 2: np.r_[6.0, -6.0, 6.0, -6.0]}
    X = np.concatenate([centres[v] + rng.standard_normal((seg, d)) for v in order])
    return X, np.repeat(order, seg)


def test_segments_grouped_by_voice_not_time():
    # speaker 2 talks only twice, late: uniform blocks would never give it a cluster of its own
    order = [0, 1, 0, 1, 0, 1, 0, 1, 2, 0, 2, 1]
    X, truth = _voices(order)
    lab = segment_kmeans_labels(X, 3, 100, seed=0)
    assert lab.shape == truth.shape
    # a one-to-one map between clusters and voices, numbered by first appearance
    assert lab[:100].tolist() == [0] * 100 and lab[100:200].tolist() == [1] * 100
    assert set(zip(lab.tolist(), truth.tolist())) == {(0, 0), (1, 1), (2, 2)}


def test_last_segment_takes_the_remainder_and_same_seed_same_labels():
    X, _ = _voices([0, 1, 0, 1], seg=100)
    X = X[:-30]  # 370 frames: segments of 100, the last of 170
    a = segment_kmeans_labels(X, 2, 100, seed=3)
    assert np.array_equal(a, segment_kmeans_labels(X, 2, 100, seed=3))
    assert len(set(a[200:].tolist())) == 1


def test_small_clusters_dissolved_and_fallback_to_uniform():
    X, _ = _voices([0, 0, 0, 1, 1, 1], seg=100)
    lab = segment_kmeans_labels(X, 4, 100, min_frames=250, seed=0)
    counts = np.bincount(lab)
    assert counts.min() >= 250 and counts.size <= 2
    assert segment_kmeans_labels(X, 10, 100).tolist() == uniform_labels(600, 10).tolist()
