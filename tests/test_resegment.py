import numpy as np
import pytest

from diarizer.clustering import majority_vote, uniform_labels


def test_majority_vote_windows_and_tail():
    lab = np.array([0, 0, 1, 1, 1, 2, 2, 0])
    # windows [0,3) [3,6) [6,8)
    assert majority_vote(lab, 3).tolist() == [0, 0, 0, 1, 1, 1, 0, 0]


def test_majority_vote_last_full_window_is_voted():
    # N a multiple of W: the original never voted the last full window
    lab = np.array([0, 0, 1, 1])
    assert majority_vote(lab, 2).tolist() == [0, 0, 1, 1]


def test_majority_vote_tie_to_lower_index():
    assert majority_vote(np.array([2, 1, 1, 2]), 4).tolist() == [1, 1, 1, 1]


@pytest.mark.parametrize("n,k", [(7, 3), (100, 16), (16, 16), (17, 16)])
def test_uniform_labels_tail_to_last(n, k):
    lab = uniform_labels(n, k)
    assert lab.size == n and lab[0] == 0 and lab[-1] == k - 1
    assert np.all(np.diff(lab) >= 0)
    counts = np.bincount(lab)
    assert counts.size == k and np.all(counts[:-1] == n // k)
    assert counts[-1] == n - (k - 1) * (n // k)
