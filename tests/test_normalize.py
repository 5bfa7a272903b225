import numpy as np
import pytest
import scipy.stats

from diarizer.features.normalize import cmvn, feature_warping


def _naive_windows(n, w):
    w = min(w, n)
    return [(min(max(t - w // 2, 0), n - w), min(max(t - w // 2, 0), n - w) + w) for t in range(n)]


def test_cmvn_global_hand_case():
    X = np.array([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]])
    out = cmvn(X)
    s = np.sqrt(8.0 / 3.0)
    np.testing.assert_allclose(out[:, 0], [-2 / s, 0.0, 2 / s])
    np.testing.assert_array_equal(out[:, 1], 0.0)  # constant dimension -> 0


def test_cmvn_sliding_hand_case():
    X = np.array([[0.0], [2.0], [4.0], [10.0], [10.0]])
    # window 2: starts clip(t - 1, 0, 3) = 0, 0, 1, 2, 3
    # t=2: [2, 4] -> +1; t=3: [4, 10] -> (10 - 7) / 3 = +1; t=4: [10, 10] constant -> 0
    out = cmvn(X, window=2).ravel()
    np.testing.assert_allclose(out, [-1.0, 1.0, 1.0, 1.0, 0.0], atol=1e-12)


@pytest.mark.parametrize("window", [1, 4, 7, 50, 1000])
def test_cmvn_sliding_matches_naive(rng, window):
    X = (rng.standard_normal((50, 3)) * [1.0, 10.0, 0.1] + [100.0, -5.0, 0.0]).astype(np.float32)
    out = cmvn(X, window=window)
    assert out.dtype == np.float32
    ref = np.empty(X.shape)
    X64 = X.astype(np.float64)
    for t, (a, b) in enumerate(_naive_windows(50, window)):
        m, s = X64[a:b].mean(0), X64[a:b].std(0)
        ref[t] = np.where(s > 1e-10, (X64[t] - m) / np.where(s > 1e-10, s, 1), 0.0)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)


def test_feature_warping_hand_case():
    X = np.array([[5.0, 1.0], [1.0, 1.0], [3.0, 1.0], [3.0, 2.0]])
    out = feature_warping(X, window=4)
    q = scipy.stats.norm.ppf(0.875)
    np.testing.assert_allclose(out[:, 0], [q, -q, 0.0, 0.0], atol=1e-12)
    # ties at 1.0: ranks 0, 1, 2 share the mean rank 1 -> (1 + 0.5) / 4
    p = scipy.stats.norm.ppf(1.5 / 4)
    np.testing.assert_allclose(out[:, 1], [p, p, p, q], atol=1e-12)


@pytest.mark.parametrize("window", [3, 10, 300])
def test_feature_warping_matches_naive(rng, window, monkeypatch):
    import diarizer.features.normalize as norm_mod

    monkeypatch.setattr(norm_mod, "_WARP_BLOCK", 8)  # exercise view and gather blocks
    X = rng.standard_normal((60, 2)) ** 3
    X[10:20, 1] = 0.0  # ties
    out = feature_warping(X, window=window)
    ref = np.empty_like(X)
    for t, (a, b) in enumerate(_naive_windows(60, window)):
        r = scipy.stats.rankdata(X[a:b], axis=0)[t - a] - 1  # mean ranks, 0-based
        ref[t] = scipy.stats.norm.ppf((r + 0.5) / (b - a))
    np.testing.assert_allclose(out, ref, atol=1e-12)


def test_feature_warping_is_gaussian_whatever_the_input(rng):
    X = rng.exponential(size=(300, 1)) ** 2
    out = feature_warping(X, window=300).ravel()
    assert abs(out.mean()) < 1e-12
    assert out.std() == pytest.approx(1.0, abs=0.02)
    assert np.array_equal(np.argsort(out), np.argsort(X.ravel()))  # monotone


def test_bad_input():
    with pytest.raises(ValueError, match="must be 2-D"):
        cmvn(np.zeros(5))
    with pytest.raises(ValueError, match="window must be an int >= 1"):
        cmvn(np.zeros((5, 2)), window=0)
    with pytest.raises(ValueError, match="window must be an int >= 1"):
        feature_warping(np.zeros((5, 2)), window=2.5)
    assert feature_warping(np.zeros((0, 3))).shape == (0, 3)
    assert cmvn(np.zeros((0, 3)), window=4).shape == (0, 3)
