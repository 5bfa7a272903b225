import numpy as np
import pytest

from diarizer._xp import to_numpy
from diarizer.exceptions import InputError
from diarizer.gmm import GMMSet, map_adapt


def _hand(X, w, mu, var, r):
    """Reynolds' MAP formulas written out with scipy-free numpy, one group."""
    logp = (np.log(w) - 0.5 * np.sum(np.log(2 * np.pi * var), axis=1)
            - 0.5 * np.sum((X[:, None, :] - mu) ** 2 / var, axis=2))
    post = np.exp(logp - np.logaddexp.reduce(logp, axis=1, keepdims=True))
    n = post.sum(0)
    ex = post.T @ X / n[:, None]
    ex2 = post.T @ X**2 / n[:, None]
    a = (n / (n + r))[:, None]
    new_mu = a * ex + (1 - a) * mu
    new_w = a[:, 0] * n / len(X) + (1 - a[:, 0]) * w
    new_var = a * ex2 + (1 - a) * (var + mu**2) - new_mu**2
    return new_w / new_w.sum(), new_mu, new_var


def test_map_matches_hand_formula(xp, rng):
    w = np.array([0.3, 0.7])
    mu = np.array([[0.0, 0.0], [3.0, 1.0]])
    var = np.array([[1.0, 2.0], [0.5, 1.0]])
    ubm = GMMSet(w, mu, var, [2], xp=xp)
    X = rng.normal(size=(120, 2)) + [1.0, 0.5]
    groups = [np.arange(0, 50), np.arange(50, 120)]
    out = map_adapt(ubm, X, groups, relevance_factor=8.0,
                    adapt=("means", "weights", "covariances"))
    p = out.to_numpy()
    np.testing.assert_array_equal(p["n_components"], [2, 2])
    for g, ix in enumerate(groups):
        hw, hmu, hvar = _hand(X[ix], w, mu, var, 8.0)
        np.testing.assert_allclose(p["weights"][2 * g:2 * g + 2], hw, rtol=1e-10)
        np.testing.assert_allclose(p["means"][2 * g:2 * g + 2], hmu, rtol=1e-10)
        np.testing.assert_allclose(p["covariances"][2 * g:2 * g + 2], hvar, rtol=1e-9)
    # means only: weights and covariances copied
    m = map_adapt(ubm, X, np.repeat([0, 1], 60), relevance_factor=8.0).to_numpy()
    np.testing.assert_array_equal(m["weights"], np.tile(w, 2))
    np.testing.assert_array_equal(m["covariances"], np.tile(var, (2, 1)))
    hw, hmu, _ = _hand(X[60:], w, mu, var, 8.0)
    np.testing.assert_allclose(m["means"][2:], hmu, rtol=1e-10)
    assert to_numpy(out.log_likelihood(X)).shape == (120, 2)


def test_map_full_zero_relevance_is_ml_step(rng):
    X = rng.normal(size=(300, 2))
    ubm = GMMSet([1.0], [[0.5, 0.5]], [[[2.0, 0.3], [0.3, 1.0]]], [1], "full", xp="numpy")
    p = map_adapt(ubm, X, [np.arange(300)], relevance_factor=0.0,
                  adapt=("means", "covariances")).to_numpy()
    np.testing.assert_allclose(p["means"][0], X.mean(0), rtol=1e-10)
    np.testing.assert_allclose(p["covariances"][0], np.cov(X.T, bias=True), rtol=1e-8)


def test_map_errors(rng):
    X = rng.normal(size=(10, 2))
    two = GMMSet([1.0, 1.0], [[0.0, 0.0], [1.0, 1.0]], np.ones((2, 2)), [1, 1], xp="numpy")
    with pytest.raises(InputError, match="background set of 1 GMM; got 2"):
        map_adapt(two, X, [np.arange(10)])
    ubm = two.select([0])
    with pytest.raises(ValueError, match="'adapt' entries"):
        map_adapt(ubm, X, [np.arange(10)], adapt=("precisions",))
    with pytest.raises(InputError, match="GMM 1 has no frames"):
        map_adapt(ubm, X, [np.arange(10), np.array([], dtype=int)])
    with pytest.raises(InputError, match="X has 3 features per frame"):
        map_adapt(ubm, rng.normal(size=(10, 3)), [np.arange(10)])
