"""Batched diagonal EM (diarizer.gmm._em) and the chunked diagonal frame design."""

import numpy as np
import pytest

from diarizer._xp import get_xp, to_numpy
from diarizer.exceptions import NumericalError
from diarizer.gmm import GMMSet
from diarizer.gmm._em import plan_units
from diarizer.gmm._kernels import diag_chunk_size, diag_design


def test_plan_units_groups_by_size_and_balances_frames():
    sizes = [100, 0, 40, 60, 30, 500]
    comps = [5, 5, 5, 5, 10, 10]
    units = plan_units(sizes, comps, n_threads=2, max_frames=10_000)
    # M=5: 100 | 60 + 40 (GMM 1 has no frames); M=10: 500 | 30
    assert units == [[0], [3, 2], [5], [4]]
    # a frame budget splits further: 3 units of M=5 when at most 80 frames per unit
    assert plan_units(sizes[:4], comps[:4], n_threads=1, max_frames=80) == [[0], [3], [2]]


def test_diag_design_hand_values(xp):
    a = xp.asarray(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    b = xp.asarray(np.array([[-1.0, 0.5]]))
    Z = to_numpy(diag_design([a, b], chunk_size=2, xp=xp))
    assert Z.shape == (3, 5, 2)  # a: 2 chunks (1 padding frame), b: 1 chunk (1 padding frame)
    np.testing.assert_array_equal(Z[0], [[1, 9], [4, 16], [1, 3], [2, 4], [1, 1]])
    np.testing.assert_array_equal(Z[1], [[25, 0], [36, 0], [5, 0], [6, 0], [1, 0]])
    np.testing.assert_array_equal(Z[2], [[1, 0], [0.25, 0], [-1, 0], [0.5, 0], [1, 0]])


def _data(rng, n):
    centres = rng.normal(scale=4.0, size=(3, 3))
    return centres[rng.integers(3, size=n)] + rng.normal(size=(n, 3))


def test_mixed_sizes_and_early_convergence_equal_alone(xp, rng):
    # GMMs of 2 and 3 components (two batched units), unequal frame counts, a tolerance that
    # stops them after different numbers of iterations, and a chunk size that pads every GMM.
    X = _data(rng, 1500)
    groups = [np.arange(0, 700), np.arange(700, 1000), np.arange(1000, 1500),
              np.arange(0, 1500, 3)]
    sizes = [2, 3, 2, 2]
    s = GMMSet.initialize(X, groups, sizes, xp=xp)
    alone = [s.select([g]) for g in range(4)]
    res = s.fit(X, groups, max_iter=30, tol=1e-4, chunk_size=128)
    assert len(set(res.n_iter.tolist())) > 1
    p = s.to_numpy()
    off = np.concatenate([[0], np.cumsum(sizes)])
    for g in range(4):
        r = alone[g].fit(X, [groups[g]], max_iter=30, tol=1e-4, chunk_size=128)
        assert r.n_iter[0] == res.n_iter[g]
        assert r.log_likelihood[0] == pytest.approx(res.log_likelihood[g], rel=1e-12)
        q = alone[g].to_numpy()
        for key in ("weights", "means", "covariances"):
            np.testing.assert_allclose(q[key], p[key][off[g]:off[g + 1]], rtol=1e-12)
    # the final log-likelihood is that of the final parameters (an independent evaluation)
    np.testing.assert_allclose(s.score(X, groups), res.log_likelihood, rtol=1e-10)


def test_chunk_size_does_not_change_the_result(rng):
    X = _data(rng, 900)
    lab = rng.integers(2, size=900)
    out = []
    for cs in (64, 1000):
        s = GMMSet.initialize(X, lab, 3, xp="numpy")
        out.append((s.fit(X, lab, max_iter=4, chunk_size=cs).log_likelihood, s.to_numpy()))
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-12)
    np.testing.assert_allclose(out[0][1]["means"], out[1][1]["means"], rtol=1e-10)


def test_float32_batched_matches_float64(rng):
    X = _data(rng, 3000) + 50.0  # an offset: the centred design keeps float32 accurate
    lab = np.repeat(np.arange(3), 1000)
    ll = {}
    for dt in ("float32", "float64"):
        s = GMMSet.initialize(X, lab, 4, xp="numpy", dtype=dt)
        ll[dt] = s.fit(X, lab, max_iter=5, min_iter=5, tol=0.0).log_likelihood
    np.testing.assert_allclose(ll["float32"], ll["float64"], rtol=1e-5)


def test_collapsed_variance_error_names_the_gmm():
    xp = get_xp("numpy")
    X = np.concatenate([np.random.default_rng(0).normal(size=(50, 2)), np.ones((50, 2))])
    w, mu, cov = np.full(2, 0.5), np.array([[0.0, 0.0], [1.0, 1.0]]), np.ones((2, 2))
    s = GMMSet(w, mu, cov, [1, 1], xp=xp, reg_covar=0.0)
    with pytest.raises(NumericalError, match=r"GMM 1: .*increase reg_covar"):
        s.fit(X, np.repeat([0, 1], 50), max_iter=2)


def test_chunk_size_follows_the_gmm_own_size():
    assert [diag_chunk_size(n) for n in (1, 3600, 16383, 16384, 10**6)] == [512, 512, 512,
                                                                            2048, 2048]
    # GMMs of equal component count but different chunk sizes go to different units
    assert plan_units([100, 90, 80], [5, 5, 5], n_threads=1, max_frames=10_000,
                      chunk_sizes=[512, 2048, 512]) == [[0, 2], [1]]


def test_small_and_large_gmms_batched_equal_alone_bit_for_bit(rng):
    # 600 frames (512-frame chunks) and 17 000 frames (2048-frame chunks): two units
    X = _data(rng, 17600)
    groups = [np.arange(600), np.arange(600, 17600)]
    init = GMMSet.initialize(X, groups, 2, xp="numpy")
    s = init.select([0, 1])
    alone = [init.select([g]) for g in range(2)]
    res = s.fit(X, groups, max_iter=3)
    p = s.to_numpy()
    for g in range(2):
        r = alone[g].fit(X, [groups[g]], max_iter=3)
        assert r.log_likelihood[0] == res.log_likelihood[g]
        np.testing.assert_array_equal(alone[g].to_numpy()["means"], p["means"][2 * g:2 * g + 2])
    # an explicit chunk size is used as given: 2048 for the small GMM gives the same numbers
    # up to rounding
    r = init.select([0]).fit(X, [groups[0]], max_iter=3, chunk_size=2048)
    assert r.log_likelihood[0] == pytest.approx(res.log_likelihood[0], rel=1e-12)


def test_unit_split_does_not_change_the_result_bit_for_bit(rng, monkeypatch):
    # 6 GMMs of 300-700 frames (some scattered, some overlapping): one unit of 6 GMMs, or a
    # unit per GMM or two (UNIT_FRAMES = 1000), give the same numbers to the last bit
    import diarizer.gmm.model as model

    X = _data(rng, 3000).astype(np.float32) + 20.0
    groups = [np.arange(0, 700), np.arange(700, 1000), np.flatnonzero(rng.random(3000) < 0.2),
              np.arange(1500, 2000), np.arange(0, 3000, 7), np.arange(2500, 3000)]
    init = GMMSet.initialize(X, groups, 3, xp="numpy", dtype="float32")
    assert len(plan_units([g.size for g in groups], [3] * 6, 1, 1000)) >= 4
    out = []
    for unit in (10**6, 1000):
        monkeypatch.setattr(model, "UNIT_FRAMES", unit)
        monkeypatch.setenv("DIARIZER_ENGINE_THREADS", "1")
        s = init.select(range(6))
        res = s.fit(X, groups, max_iter=3)
        out.append((res.log_likelihood, s.to_numpy()))
    np.testing.assert_array_equal(out[0][0], out[1][0])
    for key in ("weights", "means", "covariances"):
        np.testing.assert_array_equal(out[0][1][key], out[1][1][key])
