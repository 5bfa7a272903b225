"""Frames checked once (prepare_frames / GMMSet.prepare), the centring design writer, and the
grouped per-GMM log-sum-exp of GMMs with different component counts."""

import numpy as np
import pytest

from diarizer._xp import get_xp, to_numpy
from diarizer.exceptions import InputError
from diarizer.gmm import Frames, GMMSet, prepare_frames
from diarizer.gmm._kernels import centred_design, diag_design, logsumexp_cols


def _params(rng, sizes, d):
    C = sum(sizes)
    w = np.concatenate([rng.dirichlet(np.ones(m)) for m in sizes])
    return w, rng.normal(scale=2.0, size=(C, d)), rng.uniform(0.5, 2.0, size=(C, d))


def test_diag_design_shifts_hand_values(xp):
    # 3 frames, chunk of 2: chunk 0 full, chunk 1 one frame + one padding frame; shift (1, 2)
    a = xp.asarray(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    Z = to_numpy(diag_design([a], chunk_size=2, xp=xp, shifts=[xp.asarray([1.0, 2.0])]))
    assert Z.shape == (2, 5, 2)
    np.testing.assert_array_equal(Z[0], [[0, 4], [0, 4], [0, 2], [0, 2], [1, 1]])
    np.testing.assert_array_equal(Z[1], [[16, 0], [16, 0], [4, 0], [4, 0], [1, 0]])


@pytest.mark.parametrize("n", [0, 5, 16, 17, 40, 130])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_diag_design_equals_the_centred_copy_bit_for_bit(rng, n, dtype):
    # oracle: the obvious construction (centre, pad with zeros, transpose, square, ones row)
    xp = get_xp("numpy")
    X = (rng.normal(size=(n, 3)) * 10 + 50).astype(dtype)
    s = X.mean(axis=0).astype(dtype) if n else np.zeros(3, dtype=dtype)
    cs = 8  # pieces of 8 chunks: 130 frames = 16 full chunks (two pieces) + a tail
    nb = max(1, -(-n // cs))
    P = np.zeros((nb * cs, 3), dtype=dtype)
    P[:n] = X - s
    ones = np.zeros(nb * cs, dtype=dtype)
    ones[:n] = 1
    T = P.reshape(nb, cs, 3).transpose(0, 2, 1)
    ref = np.concatenate([T * T, T, ones.reshape(nb, 1, cs)], axis=1)
    Z = diag_design([xp.asarray(X), xp.asarray(X[:3])], chunk_size=cs, xp=xp,
                    shifts=[s, s])
    assert Z.dtype == np.dtype(dtype) and Z.shape == (nb + 1, 7, cs)
    np.testing.assert_array_equal(Z[:nb], ref)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_centred_design_equals_gather_then_centre_bit_for_bit(xp, rng, dtype):
    # groups: scattered (3 pieces of 8 chunks + a tail), contiguous (a slice of X), one frame,
    # exactly one chunk, unsorted with a repeat
    cs = 4
    X64 = rng.normal(size=(200, 3)) * 5 + 30
    X = xp.asarray(X64.astype(dtype))
    groups = [np.flatnonzero(rng.random(200) < 0.6), np.arange(20, 57), np.array([5]),
              np.arange(100, 104), np.array([9, 3, 3, 150, 7])]
    assert groups[0].size > 2 * 8 * cs
    Z, shifts = centred_design(X, groups, chunk_size=cs, xp=xp)
    blocks = [xp.take(X, xp.asarray(g), axis=0) for g in groups]
    ref_shifts = [xp.astype(xp.mean(xp.astype(b, xp.float64), axis=0), X.dtype) for b in blocks]
    ref = diag_design(blocks, chunk_size=cs, xp=xp, shifts=ref_shifts)
    for a, b in zip(shifts, ref_shifts):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b))
    assert Z.dtype == X.dtype and Z.shape == ref.shape
    np.testing.assert_array_equal(to_numpy(Z), to_numpy(ref))
    # group 2 (one frame): centred to 0, constant row 1 then padding
    k = -(-groups[0].size // cs) + -(-groups[1].size // cs)
    np.testing.assert_array_equal(to_numpy(Z)[k, :, 0], [0, 0, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(to_numpy(Z)[k, :, 1:], 0)


def test_finite_values_whose_sum_overflows_are_accepted():
    F = prepare_frames(np.array([[1e308, 0.0], [1e308, 0.0]]))
    assert F.shape == (2, 2)
    with pytest.raises(InputError, match=r"NaN or infinite values in 1 frame\(s\), the first "
                                         r"at frame 1"):
        prepare_frames(np.array([[1e308, 0.0], [np.inf, 0.0], [-np.inf, 1.0]])[:2])


def test_prepare_frames_gives_the_same_numbers_and_is_not_checked_again(xp, rng):
    X = rng.normal(size=(300, 3))
    lab = np.repeat(np.arange(3), 100)
    a = GMMSet.initialize(X, lab, 2, xp=xp)
    b = GMMSet.initialize(X, lab, 2, xp=xp)
    F = b.prepare(X)
    assert isinstance(F, Frames) and F.shape == (300, 3)
    ra, rb = a.fit(X, lab, max_iter=3), b.fit(F, lab, max_iter=3)
    np.testing.assert_array_equal(ra.log_likelihood, rb.log_likelihood)
    np.testing.assert_array_equal(to_numpy(a.means), to_numpy(b.means))
    np.testing.assert_array_equal(to_numpy(a.log_likelihood(X)), to_numpy(b.log_likelihood(F)))
    np.testing.assert_array_equal(a.score(X, lab), b.score(F, lab))
    # a Frames is trusted: a NaN smuggled in after the check is not looked for again
    bad = np.array(X)
    bad[7] = np.nan
    with pytest.raises(InputError, match="NaN or infinite values in 1 frame"):
        b.log_likelihood(bad)
    ll = to_numpy(b.log_likelihood(Frames(xp.asarray(bad), b.xp, b.dtype)))
    assert np.isnan(ll[7]).all() and np.isfinite(np.delete(ll, 7, axis=0)).all()


def test_prepared_frames_of_another_dtype_are_converted_and_checked(rng):
    X = rng.normal(size=(200, 2))
    F64 = prepare_frames(X, xp="numpy", dtype="float64")
    s32 = GMMSet.initialize(X, np.repeat([0, 1], 100), 2, xp="numpy", dtype="float32")
    ll = to_numpy(s32.log_likelihood(F64))
    assert ll.dtype == np.float32
    np.testing.assert_array_equal(ll, to_numpy(s32.log_likelihood(X)))
    big = prepare_frames(np.full((4, 2), 1e300), dtype="float64")  # finite in float64 only
    with pytest.raises(InputError, match=r"NaN or infinite values in 4 frame\(s\), the first "
                                         r"at frame 0"):
        s32.log_likelihood(big)


def test_prepare_frames_errors():
    with pytest.raises(InputError, match=r"X contains NaN or infinite values in 1 frame\(s\), "
                                         r"the first at frame 2"):
        prepare_frames(np.array([[0.0], [1.0], [np.nan]]))
    with pytest.raises(InputError, match=r"X must have shape \(n_frames, n_features\); got \(3,\)"):
        prepare_frames(np.zeros(3))
    s = GMMSet(np.ones(1), np.zeros((1, 2)), np.ones((1, 2)), [1], xp="numpy")
    with pytest.raises(InputError, match=r"X has 3 features per frame but the GMMs have 2 "
                                         r"\(X shape \(5, 3\)\)"):
        s.log_likelihood(prepare_frames(np.zeros((5, 3))))


def test_log_likelihood_of_mixed_sizes_equals_each_gmm_alone(xp, rng):
    # sizes 3, 1, 3, 2, 1: GMMs of equal size are not adjacent (grouped, then put back in order)
    sizes = [3, 1, 3, 2, 1]
    off = np.concatenate([[0], np.cumsum(sizes)])
    X = rng.normal(size=(70, 4))
    w, mu, cov = _params(rng, sizes, 4)
    s = GMMSet(w, mu, cov, sizes, xp=xp)
    ll = to_numpy(s.log_likelihood(X, chunk_size=16))
    comp = to_numpy(s.component_log_likelihood(X))
    assert ll.shape == (70, 5) and comp.shape == (70, 10)
    for g in range(5):
        ref = np.logaddexp.reduce(comp[:, off[g]:off[g + 1]], axis=1)
        np.testing.assert_allclose(ll[:, g], ref, rtol=1e-12)
    # bit for bit the per-GMM reduction (logsumexp_cols on each GMM's rows) it replaces
    lp = s._component_lp_all(s._frames(X))
    rows = [to_numpy(logsumexp_cols(lp[int(off[g]):int(off[g + 1]), ...], xp=s.xp))
            for g in range(5)]
    np.testing.assert_array_equal(to_numpy(s._per_gmm_lse(lp)), np.stack(rows))
    # eval over all GMMs uses the same grouped reduction
    np.testing.assert_array_equal(to_numpy(s.eval(X)[0]), to_numpy(s.log_likelihood(X)))


def test_zero_weight_gmm_scores_finite(rng):
    # weights of 0 are clipped to the smallest normal number: log w = -708.4, no -inf, no NaN
    sizes = [2, 1]
    w, mu, cov = _params(rng, sizes, 2)
    w[:2] = 0.0
    s = GMMSet(w, mu, cov, sizes, xp="numpy")
    X = rng.normal(size=(5, 2))
    ll = to_numpy(s.log_likelihood(X))
    comp = to_numpy(s.component_log_likelihood(X))
    assert np.all(np.isfinite(ll)) and np.all(ll[:, 0] < -700)
    np.testing.assert_allclose(ll[:, 0], np.logaddexp.reduce(comp[:, :2], axis=1), rtol=1e-12)


def test_strided_frames_are_made_contiguous_once_regression():
    # X[::10] (clustering a long meeting at every 10th frame) made every row gather copy all of
    # X first (numpy's take on a strided source): 15x slower gathers
    X = np.arange(600.0).reshape(300, 2)[::10]
    F = prepare_frames(X)
    assert F.array.flags.c_contiguous and not X.flags.c_contiguous
    np.testing.assert_array_equal(F.array, X)
