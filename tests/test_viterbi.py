import itertools

import numpy as np
import pytest

from diarizer.clustering.viterbi import viterbi_min_duration


def brute_force(ll, dmin):
    n, k = ll.shape
    best, best_lab = -np.inf, None
    for lab in itertools.product(range(k), repeat=n):
        lab = np.array(lab)
        change = np.flatnonzero(np.diff(lab)) + 1
        lengths = np.diff(np.r_[0, change, n])
        if (n >= dmin and lengths.min() < dmin) or (n < dmin and lengths.size > 1):
            continue
        s = ll[np.arange(n), lab].sum()
        if s > best:
            best, best_lab = s, lab
    return best_lab


def path_score(ll, lab):
    return ll[np.arange(ll.shape[0]), lab].sum()


@pytest.mark.parametrize("seed", range(40))
def test_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, k, d = int(rng.integers(1, 9)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
    ll = rng.standard_normal((n, k))
    got = viterbi_min_duration(ll, d)
    assert path_score(ll, got) == pytest.approx(path_score(ll, brute_force(ll, d)))
    lengths = np.diff(np.r_[0, np.flatnonzero(np.diff(got)) + 1, n])
    assert n < d or lengths.min() >= d


def test_runs_decoded_independently():
    # two runs of 3 frames; each prefers another cluster; min duration 5 > run length
    ll = np.array([[0, -2], [0, -2], [-1, 0], [-2, 0], [-2, 0], [0, -1]], dtype=float)
    runs = np.array([[0, 3], [3, 6]])
    assert viterbi_min_duration(ll, 5, runs).tolist() == [0, 0, 0, 1, 1, 1]
    # as one run, one label for all (the run is shorter than 2 x 5): cluster 1 scores -4 > -5
    ll[0, 1] = -1.0
    ll[1, 1] = 0.0
    assert viterbi_min_duration(ll, 5).tolist() == [1] * 6


def test_switch_penalty_keeps_label():
    ll = np.zeros((10, 2))
    ll[:5, 1] = -0.1
    ll[5:, 1] = 0.1  # tiny gain for switching at frame 5
    assert viterbi_min_duration(ll, 2).tolist() == [0] * 5 + [1] * 5
    assert viterbi_min_duration(ll, 2, switch_penalty=1.0).tolist() == [0] * 10
