"""GMMSet.fit_unions: GMMs trained on unions of shared blocks equal fit() on the unions."""

import numpy as np
import pytest

from diarizer._xp import to_numpy
from diarizer.gmm import GMMSet, merge_pairs


def _clusters(rng, sizes, D=6):
    X = np.concatenate([rng.normal(size=(n, D)) * rng.uniform(0.5, 2.0, D)
                        + rng.normal(size=D) * 3.0 + 40.0 for n in sizes])
    labels = np.repeat(np.arange(len(sizes)), sizes)
    perm = rng.permutation(labels.size)
    X, labels = X[perm], labels[perm]
    return X, labels, [np.flatnonzero(labels == c) for c in range(len(sizes))]


def _pairs_and_sets(xp, rng, dtype, sizes=(300, 700, 450, 1300), M=(3, 4, 3, 5)):
    X, labels, blocks = _clusters(rng, sizes)
    base = GMMSet.initialize(X, labels, list(M), xp=xp, dtype=dtype, reg_covar=1e-6)
    G = len(sizes)
    pairs = [(a, b) for a in range(G) for b in range(a + 1, G)]
    groups = [np.sort(np.concatenate([blocks[a], blocks[b]])) for a, b in pairs]
    return X, blocks, pairs, groups, merge_pairs(base, pairs), merge_pairs(base, pairs)


def _params(s):
    return [to_numpy(a) for a in (s.weights, s.means, s.covariances, s.precisions_cholesky)]


@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-9), ("float32", 2e-4)])
def test_unions_equal_fit_on_the_unions(xp, rng, dtype, rtol):
    X, blocks, pairs, groups, a, b = _pairs_and_sets(xp, rng, dtype)
    ra = a.fit(X, groups, max_iter=4, min_iter=1)
    rb = b.fit_unions(X, blocks, pairs, max_iter=4, min_iter=1)
    np.testing.assert_array_equal(ra.n_iter, rb.n_iter)
    np.testing.assert_array_equal(ra.converged, rb.converged)
    assert rb.kept.all()
    np.testing.assert_allclose(rb.log_likelihood, ra.log_likelihood, rtol=rtol * 1e-2)
    for pa, pb in zip(_params(a), _params(b)):
        np.testing.assert_allclose(pb, pa, rtol=rtol, atol=rtol * np.abs(pa).max())


def test_unions_of_one_and_three_blocks_and_convergence(rng):
    X, labels, blocks = _clusters(rng, (400, 600, 500))
    base = GMMSet.initialize(X, labels, 3, xp="numpy", dtype="float64", reg_covar=1e-6)
    members = [[1], [0, 2], [0, 1, 2]]
    ms = GMMSet.concat([base.select([1]), merge_pairs(base, [(0, 2)]),
                        merge_pairs(GMMSet.concat([merge_pairs(base, [(0, 1)]),
                                                   base.select([2])]), [(0, 1)])])
    other = ms.select([0, 1, 2])
    groups = [np.sort(np.concatenate([blocks[c] for c in m])) for m in members]
    ra = ms.fit(X, groups, max_iter=50, min_iter=2, tol=0.5)
    rb = other.fit_unions(X, blocks, members, max_iter=50, min_iter=2, tol=0.5)
    np.testing.assert_array_equal(ra.n_iter, rb.n_iter)
    assert rb.converged.all() and (rb.n_iter < 50).all()
    np.testing.assert_allclose(rb.log_likelihood, ra.log_likelihood, rtol=1e-11)
    for pa, pb in zip(_params(ms), _params(other)):
        np.testing.assert_allclose(pb, pa, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("covariance_type", ["diag", "full"])
def test_screening_keeps_the_best_after_one_iteration(rng, covariance_type):
    X, labels, blocks = _clusters(rng, (300, 700, 450, 1300, 500))
    base = GMMSet.initialize(X, labels, 3, covariance_type=covariance_type, xp="numpy",
                             dtype="float64", reg_covar=1e-6)
    pairs = [(a, b) for a in range(5) for b in range(a + 1, 5)]
    groups = [np.sort(np.concatenate([blocks[a], blocks[b]])) for a, b in pairs]
    baseline = rng.normal(size=len(pairs)) * 100.0 - 5000.0
    # reference: one iteration for all, then the best 3 trained alone to the end
    one = merge_pairs(base, pairs)
    rough = one.fit(X, groups, max_iter=1).log_likelihood - baseline
    keep = np.sort(np.argsort(-rough, kind="stable")[:3])
    top = one.select(keep.tolist())
    full = top.fit(X, [groups[i] for i in keep], max_iter=3)
    s = merge_pairs(base, pairs)
    r = s.fit_unions(X, blocks, pairs, max_iter=4, screen=(3, baseline))
    np.testing.assert_array_equal(np.flatnonzero(r.kept), keep)
    np.testing.assert_allclose(r.log_likelihood[keep], full.log_likelihood, rtol=1e-10)
    np.testing.assert_array_equal(r.n_iter[keep], full.n_iter + 1)
    dropped = np.flatnonzero(~r.kept)
    np.testing.assert_allclose(r.log_likelihood[dropped], (rough + baseline)[dropped], rtol=1e-10)
    assert (r.n_iter[dropped] == 1).all()
    np.testing.assert_allclose(to_numpy(s.select(keep.tolist()).means), to_numpy(top.means),
                               rtol=1e-8, atol=1e-9)


def test_bad_members_are_rejected(rng):
    X, labels, blocks = _clusters(rng, (40, 60))
    base = GMMSet.initialize(X, labels, 2, xp="numpy", dtype="float64")
    with pytest.raises(ValueError, match="invalid blocks"):
        base.fit_unions(X, blocks, [[0], [0, 0]])
    with pytest.raises(ValueError, match="member lists"):
        base.fit_unions(X, blocks, [[0]])
    with pytest.raises(ValueError, match="invalid blocks"):
        base.fit_unions(X, blocks, [[0], [2]])
    from diarizer.exceptions import InputError

    with pytest.raises(InputError, match="GMM 1 has 1 frames for 2 components"):
        base.fit_unions(X, [blocks[0], blocks[1][:1]], [[0], [1]])


def test_collapsed_variance_error_names_the_union():
    from diarizer.exceptions import NumericalError

    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(size=(50, 2)), np.ones((50, 2)), np.ones((30, 2))])
    blocks = [np.arange(50), np.arange(50, 100), np.arange(100, 130)]
    w, mu, cov = np.full(2, 0.5), np.array([[0.0, 0.0], [1.0, 1.0]]), np.ones((2, 2))
    s = GMMSet(w, mu, cov, [1, 1], xp="numpy", reg_covar=0.0)
    with pytest.raises(NumericalError, match=r"GMM 1: .*increase reg_covar"):
        s.fit_unions(X, blocks, [[0], [1, 2]], max_iter=2)
