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


def _random_case(rng):
    n, k, d = int(rng.integers(1, 200)), int(rng.integers(1, 6)), int(rng.integers(1, 30))
    if rng.random() < 0.5:
        ll = rng.integers(-3, 1, size=(n, k)).astype(float)  # many exact ties
    else:
        ll = rng.standard_normal((n, k)) * 10
    cuts = np.unique(np.r_[0, rng.integers(0, n, size=int(rng.integers(0, 6))), n])
    return ll, cuts[:-1].astype(np.int64), cuts[1:].astype(np.int64), d


@pytest.mark.parametrize("seed", range(20))
def test_numpy_decoder_equals_compiled_decoder(seed):
    # the numpy decoder (short runs) and the numba decoder (long runs) give the same labels,
    # ties included, with and without a switch penalty
    from diarizer.clustering import viterbi

    rng = np.random.default_rng(seed)
    for _ in range(20):
        ll, starts, ends, d = _random_case(rng)
        for penalty in (0.0, 2.0):
            want = viterbi._compiled()(ll, starts.copy(), ends.copy(), d, penalty)
            got = viterbi._decode_runs_numpy(ll, starts, ends, d, penalty)
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("seed", range(5))
def test_numpy_decoder_equals_compiled_decoder_on_extreme_values(seed):
    # -inf and huge emissions take the decoder's general path (reachability tests kept);
    # tiny groups of runs exercise the grouping
    from diarizer.clustering import viterbi

    rng = np.random.default_rng(100 + seed)
    for _ in range(30):
        ll, starts, ends, d = _random_case(rng)
        ll[rng.random(ll.shape) < 0.05] = rng.choice([-np.inf, -1e299, 1e298])
        want = viterbi._compiled()(ll, starts.copy(), ends.copy(), d, 0.5)
        got = viterbi._decode_runs_numpy(ll, starts, ends, d, 0.5)
        np.testing.assert_array_equal(got, want)


def test_numpy_decoder_groups_of_runs_give_the_same_labels(monkeypatch):
    from diarizer.clustering import viterbi

    rng = np.random.default_rng(3)
    ll = rng.integers(-3, 1, size=(300, 3)).astype(float)
    starts, ends = np.array([0, 40, 45, 170], dtype=np.int64), np.array([40, 45, 170, 300])
    whole = viterbi._decode_runs_numpy(ll, starts, ends, 7, 0.0)
    monkeypatch.setattr(viterbi, "NUMPY_GROUP_FRAMES", 50)
    np.testing.assert_array_equal(viterbi._decode_runs_numpy(ll, starts, ends, 7, 0.0), whole)
    np.testing.assert_array_equal(whole, viterbi._compiled()(ll, starts, ends, 7, 0.0))


def test_long_runs_use_the_compiled_decoder(monkeypatch):
    from diarizer.clustering import viterbi

    ll = np.array([[0., -1.], [0., -1.], [-1., 0.], [0., -1.], [0., -1.], [0., -1.]])
    calls = []
    monkeypatch.setattr(viterbi, "NUMPY_MAX_RUN", 5)
    monkeypatch.setattr(viterbi, "_NUMPY_OFFSETS", [0])  # budget not spent by earlier tests
    monkeypatch.setattr(viterbi, "_decode_runs_numpy", lambda *a: calls.append(a) or 0)
    assert viterbi_min_duration(ll, 1).tolist() == [0, 0, 1, 0, 0, 0]  # run of 6 > 5: numba
    assert calls == []
    assert viterbi_min_duration(ll, 1, runs=np.array([[0, 3], [3, 6]])) == 0  # runs <= 5: numpy
    assert len(calls) == 1


def test_numba_takes_over_once_the_numpy_budget_is_spent(monkeypatch):
    from diarizer.clustering import viterbi

    ll = np.array([[0., -1.], [0., -1.], [-1., 0.], [0., -1.], [0., -1.], [0., -1.]])
    monkeypatch.setattr(viterbi, "NUMPY_BUDGET", 10)
    monkeypatch.setattr(viterbi, "_NUMPY_OFFSETS", [0])
    calls = []
    numpy_decoder = viterbi._decode_runs_numpy
    monkeypatch.setattr(viterbi, "_decode_runs_numpy",
                        lambda *a: calls.append(a) or numpy_decoder(*a))
    for _ in range(3):  # 6 offsets each: the third call finds 12 > 10 spent
        assert viterbi_min_duration(ll, 1).tolist() == [0, 0, 1, 0, 0, 0]
    assert len(calls) == 2
    assert viterbi._NUMPY_OFFSETS == [12]


def test_numpy_decoder_blocks_with_runs_ending_inside_a_block():
    # min duration 4: the numpy decoder computes the entries of 4 offsets at once; runs of
    # every length from 1 to 40 end at every position of a block
    from diarizer.clustering import viterbi

    rng = np.random.default_rng(7)
    lens = np.r_[np.arange(1, 41), np.arange(40, 0, -1)]
    ends = np.cumsum(lens)
    starts = ends - lens
    ll = rng.standard_normal((int(ends[-1]), 3)) * 3
    for penalty in (0.0, 1.5):
        want = viterbi._compiled()(ll, starts.copy(), ends.copy(), 4, penalty)
        np.testing.assert_array_equal(viterbi._decode_runs_numpy(ll, starts, ends, 4, penalty),
                                      want)
