"""Frames checked once (prepare_frames / GMMSet.prepare), the frame chunks and the diagonal
E-step that writes their design in cache, and the grouped per-GMM log-sum-exp of GMMs with
different component counts."""

import numpy as np
import pytest

from diarizer._xp import get_xp, to_numpy
from diarizer.exceptions import InputError
from diarizer.gmm import Frames, GMMSet, prepare_frames
from diarizer.gmm._chunks import (
    chunk_design,
    diag_estep_design,
    diag_estep_frames,
    exp_floor,
    frame_chunks,
)
from diarizer.gmm._kernels import diag_design, logsumexp_cols, scoring_params


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


def test_chunk_design_hand_values(xp):
    # cs = 2; group means (3, 4), (3, 4), (5, 6): centred values +-2 or 0, padding 0
    X = xp.asarray(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]]))
    groups = [np.array([0, 1, 2]), np.array([1]), np.array([3, 1, 3, 1])]
    design, shifts = chunk_design(X, groups, chunk_size=2, xp=xp)
    Z = to_numpy(design)
    assert Z.shape == (2 + 1 + 2, 5, 2)
    x = [[[-2, 0], [-2, 0]], [[2, 0], [2, 0]], [[0, 0], [0, 0]], [[2, -2], [2, -2]],
         [[2, -2], [2, -2]]]
    ones = [[1, 1], [1, 0], [1, 0], [1, 1], [1, 1]]
    np.testing.assert_array_equal(Z[:, 2:4, :], x)
    np.testing.assert_array_equal(Z[:, :2, :], np.square(x))
    np.testing.assert_array_equal(Z[:, 4, :], ones)
    np.testing.assert_array_equal(np.stack([to_numpy(s) for s in shifts]),
                                  [[3, 4], [3, 4], [5, 6]])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_chunk_design_equals_the_design_of_the_centred_groups(xp, rng, dtype):
    # groups: scattered (3 pieces of 8 chunks + a tail), contiguous (a slice of X), one frame,
    # exactly one chunk, unsorted with a repeat
    cs = 4
    X64 = rng.normal(size=(200, 3)) * 5 + 30
    X = xp.asarray(X64.astype(dtype))
    groups = [np.flatnonzero(rng.random(200) < 0.6), np.arange(20, 57), np.array([5]),
              np.arange(100, 104), np.array([9, 3, 3, 150, 7])]
    assert groups[0].size > 2 * 8 * cs
    design, shifts = chunk_design(X, groups, chunk_size=cs, xp=xp)
    blocks = [xp.take(X, xp.asarray(g), axis=0) for g in groups]
    # the shift is the float64 mean of the group (summed in another order: to rounding)
    rtol = 1e-6 if dtype == "float32" else 1e-14
    for s, g in zip(shifts, groups):
        np.testing.assert_allclose(to_numpy(s), X64.astype(dtype)[g].astype(np.float64).mean(0),
                                   rtol=rtol)
    # the design is exactly that of the gathered frames minus that shift
    ref = to_numpy(diag_design(blocks, chunk_size=cs, xp=xp, shifts=shifts))
    assert design.dtype == X.dtype and design.shape == ref.shape
    assert ref.shape == (-(-groups[0].size // cs) + 10 + 1 + 1 + 2, 7, cs)
    np.testing.assert_array_equal(to_numpy(design), ref)


@pytest.mark.parametrize("n", [1, 7, 8, 70])
def test_frame_chunks_are_the_design_rows(xp, rng, n):
    X = xp.asarray(rng.normal(size=(n, 3)))
    frames, mask = frame_chunks(X, chunk_size=8, xp=xp)
    ref = to_numpy(diag_design([X], chunk_size=8, xp=xp))
    np.testing.assert_array_equal(to_numpy(frames), ref[:, 3:6, :])
    np.testing.assert_array_equal(to_numpy(mask), ref[:, 6, :])


def _estep_oracle(design, W, owner):
    """Plain float64 numpy E-step of every chunk of a materialised design."""
    lls, sts = [], []
    for j in range(design.shape[0]):
        Z = design[j].astype(np.float64)
        lp = W[owner[j]].astype(np.float64) @ Z
        m = lp.max(axis=0)
        tot = np.exp(lp - m).sum(axis=0)
        lls.append(np.sum((np.log(tot) + m) * Z[-1]))
        sts.append((np.exp(lp - m) / tot) @ Z.T)
    return np.array(lls), np.array(sts)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("M", [4, 9])
def test_diag_estep_frames_equal_a_plain_estep_of_the_design(xp, rng, dtype, M):
    # 3 GMMs x M components, D = 3, chunks of 8 frames, GMM sizes 19, 8, 1 (padding in 2);
    # with 9 components, more than the 7 design rows, numpy divides the design instead
    sizes, D, cs = [19, 8, 1], 3, 8
    X64 = rng.normal(size=(40, D)) * 3
    groups = [np.arange(0, 19), np.arange(19, 27), np.array([30])]
    X = xp.asarray(X64.astype(dtype))
    design, shifts = chunk_design(X, groups, chunk_size=cs, xp=xp)
    frames, mask = design[:, D:2 * D, :], design[:, 2 * D, :]
    owner = np.repeat(np.arange(3), [3, 1, 1])
    w = np.concatenate([rng.dirichlet(np.ones(M)) for _ in sizes])
    mu, var = rng.normal(size=(3 * M, D)), rng.uniform(0.5, 2.0, size=(3 * M, D))
    W = to_numpy(scoring_params(xp.asarray(w), xp.asarray(mu), xp.asarray(var ** -0.5), "diag",
                                xp=xp)[0]).reshape(3, M, 2 * D + 1).astype(dtype)
    ref_ll, ref_st = _estep_oracle(to_numpy(design), W, owner)
    rtol = 1e-5 if dtype == "float32" else 1e-12
    outs = []
    # one chunk per block, all chunks in one block; the padded chunks told or not (chunk 3,
    # full, follows the padded chunk 2: the constant row must be ones again)
    padded = np.array([False, False, True, False, True])
    for budget, pad, whole in [(1, None, False), (10**6, None, False), (1, padded, False),
                               (10**6, padded, False), (1, None, True), (10**6, None, True),
                               (1, padded, True), (10**6, padded, True)]:
        if whole:  # the design made once, read where it lies
            ll, st = diag_estep_design(design, xp.asarray(W), xp.asarray(owner), xp=xp,
                                       budget=budget, padded=pad)
        else:  # the design written block by block from the frames
            ll, st = diag_estep_frames(frames, mask, xp.asarray(W), xp.asarray(owner), xp=xp,
                                       budget=budget, padded=pad)
        assert ll.dtype == xp.float64 and st.dtype == xp.float64
        np.testing.assert_allclose(to_numpy(ll), ref_ll, rtol=rtol)
        # first-order sums cancel: absolute error relative to the statistics' scale
        np.testing.assert_allclose(to_numpy(st), ref_st, rtol=rtol,
                                   atol=0.1 * rtol * np.abs(ref_st).max())
        outs.append((to_numpy(ll), to_numpy(st)))
    # neither the blocks, the padding flags nor where the design is written change the
    # numbers; the soft counts are the frame counts
    for ll, st in outs[1:]:
        np.testing.assert_array_equal(ll, outs[0][0])
        np.testing.assert_array_equal(st, outs[0][1])
    counts = outs[0][1][:, :, 2 * D].sum(axis=1)
    np.testing.assert_allclose(counts, [8, 8, 3, 8, 1], rtol=1e-6)
    ll_only, none = diag_estep_frames(frames, mask, xp.asarray(W), xp.asarray(owner), xp=xp,
                                      stats=False)
    assert none is None
    np.testing.assert_array_equal(to_numpy(ll_only), outs[0][0])
    ll_only, none = diag_estep_design(design, xp.asarray(W), xp.asarray(owner), xp=xp,
                                      stats=False)
    assert none is None
    np.testing.assert_array_equal(to_numpy(ll_only), outs[0][0])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_far_components_get_the_exp_floor_not_subnormals(xp, dtype):
    # component 1 sits 1e4 standard deviations away: its true responsibilities underflow;
    # they are raised to exp(floor) / (1 + exp(floor)) = exp(floor) to rounding
    floor = exp_floor(getattr(xp, dtype), xp=xp)
    tiny = np.finfo(dtype).tiny
    assert floor == pytest.approx(0.8 * np.log(float(tiny)), rel=1e-15)
    X = xp.asarray(np.array([[0.0], [0.5], [-0.5], [1.0]], dtype=dtype))
    frames, mask = frame_chunks(X, chunk_size=4, xp=xp)
    w = xp.asarray(np.array([0.5, 0.5], dtype=dtype))
    mu = xp.asarray(np.array([[0.0], [1e4]], dtype=dtype))
    pc = xp.ones((2, 1), dtype=getattr(xp, dtype))
    W = scoring_params(w, mu, pc, "diag", xp=xp)[0][None, ...]
    ll, st = diag_estep_frames(frames, mask, W, xp.zeros((1,), dtype=xp.int64), xp=xp)
    st = to_numpy(st)[0]
    np.testing.assert_allclose(st[1, 2], 4 * np.exp(floor), rtol=1e-5)
    np.testing.assert_allclose(st[0, 2], 4.0, rtol=1e-6)
    # the log-likelihood is that of component 0 alone: sum log(0.5 N(x | 0, 1))
    x = np.array([0.0, 0.5, -0.5, 1.0])
    ref = np.sum(np.log(0.5) - 0.5 * np.log(2 * np.pi) - 0.5 * x * x)
    np.testing.assert_allclose(float(to_numpy(ll)[0]), ref, rtol=1e-6)


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


def test_diag_estep_frames_on_threads_equals_one_pass(rng, monkeypatch):
    # 60 000 frames in blocks of 2 chunks: the blocks split over 2 engine threads give the
    # numbers of one pass bit for bit (every block computed alone, joined in order)
    import diarizer.gmm._chunks as chunks

    D, M, cs = 5, 3, 1024
    X = rng.normal(size=(60_000, D)).astype(np.float32)
    frames, mask = frame_chunks(X, chunk_size=cs, xp=np)
    w, mu, var = _params(rng, [M], D)
    W = scoring_params(w, mu, var ** -0.5, "diag", xp=np)[0][None].astype(np.float32)
    owner = np.zeros(frames.shape[0], dtype=np.int64)
    calls = []
    real = chunks._frames_blocks
    monkeypatch.setattr(chunks, "_frames_blocks",
                        lambda *a, **k: calls.append(len(a[4])) or real(*a, **k))
    out = {}
    for threads in ("1", "2"):
        monkeypatch.setenv("DIARIZER_ENGINE_THREADS", threads)
        calls.clear()
        out[threads] = diag_estep_frames(frames, mask, W, owner, xp=np,
                                         budget=2 * (2 * D + 1) * cs)
        assert len(calls) == int(threads) and sum(calls) == -(-frames.shape[0] // 2)
    for a, b in zip(out["1"], out["2"]):
        np.testing.assert_array_equal(a, b)


def test_lone_gmm_fit_runs_its_blocks_on_threads_bit_for_bit(rng, monkeypatch):
    # One GMM alone (a UBM): its design's blocks split over 2 engine threads give the numbers
    # of one pass bit for bit, and the threads are really used (two parts per E-step).
    import diarizer.gmm._chunks as chunks

    X = rng.normal(size=(30_000, 4)).astype(np.float32)
    groups = [np.arange(X.shape[0])]
    parts = []
    real = chunks._map_gmms
    monkeypatch.setattr(chunks, "_map_gmms",
                        lambda fn, n, xp, sizes: parts.append(n) or real(fn, n, xp, sizes))
    out = {}
    for threads in ("1", "2"):
        monkeypatch.setenv("DIARIZER_ENGINE_THREADS", threads)
        monkeypatch.setattr(chunks, "ESTEP_BUDGET", 2 * 9 * 2048)  # blocks of 2 chunks
        parts.clear()
        g = GMMSet.initialize(X, groups, 6, xp=np, dtype="float32")
        res = g.fit(X, groups, max_iter=3, min_iter=3, tol=0.0)
        assert set(parts) == ({2} if threads == "2" else set())  # one part: a plain call
        out[threads] = (res.log_likelihood, g.to_numpy())
    np.testing.assert_array_equal(out["1"][0], out["2"][0])
    for key in ("weights", "means", "covariances"):
        np.testing.assert_array_equal(out["1"][1][key], out["2"][1][key])


def test_estep_blocks_are_bounded_by_their_log_densities(rng, monkeypatch):
    import diarizer.gmm._chunks as chunks

    # 128 components of 2048-frame chunks: 2 chunks per block (2 MiB of float32 log-densities)
    # instead of the 13 the design budget allows; 5 components: the design budget rules
    assert chunks._block_chunks(None, 39, 128, 2048, 100) == 2
    assert chunks._block_chunks(None, 39, 5, 2048, 100) == (1 << 20) // (39 * 2048)
    assert chunks._block_chunks(None, 39, 5, 2048, 3) == 3
    # and the numbers do not depend on it
    D, M, cs = 3, 12, 16
    X = rng.normal(size=(200, D)).astype(np.float32)
    design, _ = chunk_design(X, [np.arange(200)], chunk_size=cs, xp=np)
    w, mu, var = _params(rng, [M], D)
    W = scoring_params(w, mu, var ** -0.5, "diag", xp=np)[0][None].astype(np.float32)
    owner = np.zeros(design.shape[0], dtype=np.int64)
    out = []
    for logp in (1, 1 << 30):
        monkeypatch.setattr(chunks, "LOGP_BUDGET", logp)
        out.append(diag_estep_design(design, W, owner, xp=np))
    for a, b in zip(*out):
        np.testing.assert_array_equal(a, b)
