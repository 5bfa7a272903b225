import warnings

import numpy as np
import pytest
from scipy.stats import multivariate_normal
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGM

from diarizer._xp import get_xp, to_numpy
from diarizer.exceptions import InputError, NumericalError
from diarizer.gmm import GMMSet, merge_pairs


def _blobs(rng, n=600, d=3, k=3):
    centres = rng.normal(scale=4.0, size=(k, d))
    lab = rng.integers(k, size=n)
    return centres[lab] + rng.normal(size=(n, d)) * rng.uniform(0.5, 1.5, size=d)


def _random_params(rng, sizes, d, ctype):
    C = sum(sizes)
    w = np.concatenate([rng.dirichlet(np.ones(m)) for m in sizes])
    mu = rng.normal(scale=2.0, size=(C, d))
    if ctype == "diag":
        cov = rng.uniform(0.5, 2.0, size=(C, d))
    else:
        A = rng.normal(size=(C, d, d))
        cov = A @ A.transpose(0, 2, 1) / d + np.eye(d)
    return w, mu, cov


def _scipy_comp(X, w, mu, cov, ctype):
    out = []
    for k in range(len(w)):
        c = np.diag(cov[k]) if ctype == "diag" else cov[k]
        out.append(np.log(w[k]) + multivariate_normal(mu[k], c).logpdf(X))
    return np.stack(out, axis=1)


@pytest.mark.parametrize("ctype", ["diag", "full"])
def test_log_likelihood_matches_scipy(xp, rng, ctype):
    sizes = [2, 3, 1]
    X = rng.normal(size=(50, 4))
    w, mu, cov = _random_params(rng, sizes, 4, ctype)
    s = GMMSet(w, mu, cov, sizes, ctype, xp=xp)
    ref = _scipy_comp(X, w, mu, cov, ctype)
    np.testing.assert_allclose(to_numpy(s.component_log_likelihood(X)), ref, rtol=1e-10)
    ll = to_numpy(s.log_likelihood(X, chunk_size=7))
    lse = np.logaddexp.reduce
    ref_g = np.stack([lse(ref[:, 0:2], axis=1), lse(ref[:, 2:5], axis=1), ref[:, 5]], axis=1)
    np.testing.assert_allclose(ll, ref_g, rtol=1e-10)
    # eval / decode / predict for one GMM and for all
    ll1, post1 = s.eval(X, 1)
    np.testing.assert_allclose(to_numpy(ll1), ref_g[:, 1], rtol=1e-10)
    np.testing.assert_allclose(to_numpy(post1), np.exp(ref[:, 2:5] - ref_g[:, 1:2]), rtol=1e-9)
    _, best = s.decode(X)
    np.testing.assert_array_equal(to_numpy(best)[:, 1], np.argmax(ref[:, 2:5], axis=1))
    np.testing.assert_array_equal(to_numpy(s.predict(X, 0)), np.argmax(ref[:, 0:2], axis=1))
    post = to_numpy(s.predict_proba(X))
    np.testing.assert_allclose(post[:, 2:5].sum(axis=1), 1.0, rtol=1e-12)
    groups = [np.arange(10), np.arange(5, 50), np.array([3, 3, 7])]
    expected = [ref_g[g, i].sum() for i, g in enumerate(groups)]
    np.testing.assert_allclose(s.score(X, groups), expected, rtol=1e-10)


def _sk_fit(X, w, mu, cov, ctype, n_iter, reg):
    prec = 1.0 / cov if ctype == "diag" else np.linalg.inv(cov)
    sk = SkGM(len(w), covariance_type=ctype, tol=0.0, reg_covar=reg, max_iter=n_iter,
              weights_init=w, means_init=mu, precisions_init=prec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk.fit(X)
    return sk


@pytest.mark.parametrize("ctype", ["diag", "full"])
@pytest.mark.parametrize("n_iter", [1, 4])
def test_em_matches_sklearn_batched(xp, rng, ctype, n_iter):
    sizes = [3, 2, 4]
    X = _blobs(rng, n=900, d=3)
    labels = rng.integers(3, size=900)
    w, mu, cov = _random_params(rng, sizes, 3, ctype)
    reg = 1e-6
    s = GMMSet(w, mu, cov, sizes, ctype, xp=xp, reg_covar=reg)
    res = s.fit(X, labels, max_iter=n_iter, tol=0.0)
    np.testing.assert_array_equal(res.n_iter, [n_iter] * 3)
    p = s.to_numpy()
    off = np.concatenate([[0], np.cumsum(sizes)])
    for g in range(3):
        sl = slice(off[g], off[g + 1])
        Xg = X[labels == g]
        sk = _sk_fit(Xg, w[sl], mu[sl], cov[sl], ctype, n_iter, reg)
        np.testing.assert_allclose(p["weights"][sl], sk.weights_, rtol=1e-7)
        np.testing.assert_allclose(p["means"][sl], sk.means_, rtol=1e-7, atol=1e-12)
        np.testing.assert_allclose(p["covariances"][sl], sk.covariances_, rtol=1e-7, atol=1e-12)
        np.testing.assert_allclose(p["precisions_cholesky"][sl], sk.precisions_cholesky_,
                                   rtol=1e-7, atol=1e-12)
        np.testing.assert_allclose(res.log_likelihood[g], sk.score(Xg) * len(Xg), rtol=1e-7)


@pytest.mark.parametrize("ctype", ["diag", "full"])
def test_batched_equals_alone(xp, rng, ctype):
    X = _blobs(rng, n=800, d=3)
    groups = [np.arange(0, 500), np.arange(300, 800), rng.permutation(800)[:200]]
    sizes = [4, 2, 3]
    s = GMMSet.initialize(X, groups, sizes, covariance_type=ctype, xp=xp)
    alone = [s.select([g]) for g in range(3)]
    res = s.fit(X, groups, max_iter=5)
    p = s.to_numpy()
    off = np.concatenate([[0], np.cumsum(sizes)])
    for g in range(3):
        r = alone[g].fit(X, [groups[g]], max_iter=5)
        q = alone[g].to_numpy()
        assert r.log_likelihood[0] == pytest.approx(res.log_likelihood[g], rel=1e-12)
        assert r.n_iter[0] == res.n_iter[g]
        np.testing.assert_allclose(q["means"], p["means"][off[g]:off[g + 1]], rtol=1e-12)


@pytest.mark.parametrize("ctype", ["diag", "full"])
def test_log_likelihood_never_decreases(xp, rng, ctype):
    X = _blobs(rng, n=500, d=3, k=4)
    s = GMMSet.initialize(X, [np.arange(500)], 6, covariance_type=ctype, xp=xp,
                          relative_floor=None, init="kmeans", random_state=0)
    prev = -np.inf
    for _ in range(15):
        L = s.fit(X, [np.arange(500)], max_iter=1).log_likelihood[0]
        assert L >= prev - 1e-9 * abs(prev)
        prev = L


def test_original_convergence_rule_and_min_iter(rng):
    X = _blobs(rng, n=400, d=2)
    s = GMMSet.initialize(X, [np.arange(400)], 2, xp="numpy")
    res = s.fit(X, [np.arange(400)], max_iter=200)
    assert res.converged[0] and 1 <= res.n_iter[0] < 200
    # converged already: a further fit runs exactly min_iter iterations
    eps = (1 + 2 + 3) * np.log(400 * 2) * 1e-4
    res2 = s.fit(X, [np.arange(400)], max_iter=200, min_iter=3)
    assert res2.n_iter[0] == 3 and res2.converged[0]
    assert abs(res2.log_likelihood[0] - res.log_likelihood[0]) <= 3 * eps
    res3 = s.fit(X, [np.arange(400)], max_iter=0, min_iter=0)
    assert res3.n_iter[0] == 0
    assert res3.log_likelihood[0] == pytest.approx(s.score(X, [np.arange(400)])[0], rel=1e-12)


def test_original_seeding_hand_values():
    X = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 8.0], [6.0, 0.0], [8.0, 3.0], [10.0, 3.0]])
    s = GMMSet.initialize(X, np.zeros(6, dtype=int), 3, xp="numpy")
    p = s.to_numpy()
    np.testing.assert_allclose(p["weights"], [1 / 3] * 3)
    # comp 0 = mean, comp c = frame c * floor(6/3)
    np.testing.assert_allclose(p["means"], [[5.0, 3.0], X[2], X[4]])
    var = X.var(axis=0, ddof=1)
    np.testing.assert_allclose(p["covariances"], np.tile(var / 3 + var.mean() * 1e-6, (3, 1)))
    np.testing.assert_allclose(p["var_floor"], [var.mean() * 1e-6] * 2)


def test_var_floor_added_and_empty_component_kept():
    # component 1 sits far away from every frame: N_k < 1, keeps its mean, gets the floor
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    s = GMMSet([0.5, 0.5], [[1.5], [1e3]], [[1.0], [1.0]], [2], xp="numpy", var_floor=[0.25])
    s.fit(X, [np.arange(4)], max_iter=1)
    p = s.to_numpy()
    assert p["means"][1, 0] == 1e3
    assert p["covariances"][1, 0] == 0.25
    assert p["covariances"][0, 0] == pytest.approx(1.25 + 0.25, rel=1e-9)
    assert p["means"][0, 0] == pytest.approx(1.5, rel=1e-12)


def test_merge_pairs_weights():
    w = np.array([0.5, 0.5, 0.2, 0.3, 0.5, 1.0])
    mu = np.arange(6.0)[:, None]
    s = GMMSet(w, mu, np.ones((6, 1)), [2, 3, 1], xp="numpy")
    m = merge_pairs(s, [(0, 1), (2, 0)])
    p = m.to_numpy()
    np.testing.assert_array_equal(p["n_components"], [5, 3])
    np.testing.assert_allclose(p["weights"], [0.5 * 2 / 5, 0.5 * 2 / 5, 0.2 * 3 / 5, 0.3 * 3 / 5,
                                              0.5 * 3 / 5, 1 / 3, 0.5 * 2 / 3, 0.5 * 2 / 3])
    np.testing.assert_array_equal(p["means"][:, 0], [0, 1, 2, 3, 4, 5, 0, 1])


def test_select_and_concat(xp):
    s = GMMSet(np.array([1.0, 0.5, 0.5]), np.array([[0.0], [1.0], [2.0]]), np.ones((3, 1)), [1, 2],
               xp=xp)
    t = GMMSet.concat([s.select([1]), s.select([0, 0])])
    np.testing.assert_array_equal(t.n_components, [2, 1, 1])
    np.testing.assert_array_equal(to_numpy(t.means)[:, 0], [1.0, 2.0, 0.0, 0.0])
    np.testing.assert_array_equal(to_numpy(t.owner), [0, 0, 1, 2])


def test_bad_input_errors(xp, rng):
    X = rng.normal(size=(40, 3))
    s = GMMSet.initialize(X, np.repeat([0, 1], 20), 2, xp=xp)
    bad = X.copy()
    bad[7, 1] = np.nan
    with pytest.raises(InputError, match="NaN or infinite values in 1 frame.*frame 7"):
        s.fit(bad, np.repeat([0, 1], 20))
    bad[7, 1] = np.inf
    with pytest.raises(InputError, match="NaN or infinite"):
        s.log_likelihood(bad)
    with pytest.raises(InputError, match="X has 2 features per frame but the GMMs have 3"):
        s.fit(X[:, :2], np.repeat([0, 1], 20))
    with pytest.raises(InputError, match="GMM 1 has no frames"):
        s.fit(X, np.zeros(40, dtype=int))
    with pytest.raises(InputError, match="GMM 0 has 1 frames for 2 components"):
        s.fit(X, [np.array([3]), np.arange(40)])
    with pytest.raises(InputError, match=r"frame labels must lie in \[-1, 2\)"):
        s.fit(X, np.full(40, 2))
    with pytest.raises(InputError, match="got 3 frame groups for 2 GMMs"):
        s.fit(X, [np.arange(4)] * 3)
    with pytest.raises(InputError, match="X must have shape"):
        s.log_likelihood(X[0])
    # allow_empty leaves the GMM untouched
    before = to_numpy(s.means).copy()
    res = s.fit(X, np.concatenate([np.zeros(20, int), np.full(20, -1)]), allow_empty=True)
    assert res.n_iter[1] == 0 and res.log_likelihood[1] == 0.0
    np.testing.assert_array_equal(to_numpy(s.means)[2:], before[2:])


def test_singular_full_covariance_error(xp):
    with pytest.raises(NumericalError, match="increase reg_covar or the variance floor"):
        GMMSet([1.0], [[0.0, 0.0]], [[[1.0, 1.0], [1.0, 1.0]]], [1], "full", xp=xp)
    X = np.tile([[1.0, 2.0]], (10, 1))
    s = GMMSet([1.0], [[0.0, 0.0]], [[[1.0, 0.0], [0.0, 1.0]]], [1], "full", xp=xp)
    with pytest.raises(NumericalError, match="GMM 0: .*reg_covar"):
        s.fit(X, [np.arange(10)])


@pytest.mark.parametrize("ctype", ["diag", "full"])
def test_degenerate_data_trains_without_nan(xp, rng, ctype):
    X = rng.normal(size=(300, 3))
    X[:, 1] = 5.0  # constant dimension
    X[100:200] = X[100]  # duplicated frames
    s = GMMSet.initialize(X, np.repeat([0, 1, 2], 100), 4, covariance_type=ctype, xp=xp)
    res = s.fit(X, np.repeat([0, 1, 2], 100), max_iter=5)
    assert np.all(np.isfinite(res.log_likelihood))
    assert np.all(np.isfinite(to_numpy(s.log_likelihood(X))))
    for v in s.to_numpy().values():
        if isinstance(v, np.ndarray):
            assert np.all(np.isfinite(v))


def test_float32_accuracy_long_meeting():
    rng = np.random.default_rng(5)
    n, d = 250_000, 19  # a 4-hour meeting is ~1.44M frames; sums are float64, so 250k suffices
    # offsets of ~20 standard deviations (raw MFCC c0 is like that): without centring, the
    # matrix-product form lost 1.3e-5 relative in float32
    X = (rng.normal(size=(n, d)) * rng.uniform(0.5, 2.0, size=d)
         + 20 * rng.normal(size=d)).astype(np.float32)
    labels = (np.arange(n) * 4 // n).astype(np.int64)
    out = {}
    for dt in ("float32", "float64"):
        s = GMMSet.initialize(X, labels, 5, xp="numpy", dtype=dt)
        out[dt] = s.fit(X, labels, max_iter=1).log_likelihood
        out[dt + "-frames"] = to_numpy(s.log_likelihood(X)).astype(np.float64).sum(axis=0)
    np.testing.assert_allclose(out["float32"], out["float64"], rtol=1e-5)
    np.testing.assert_allclose(out["float32-frames"], out["float64-frames"], rtol=1e-5)


def test_kmeans_init_reproducible(xp, rng):
    X = _blobs(rng, n=300, d=2)
    a = GMMSet.initialize(X, [np.arange(300)], 3, init="kmeans", xp=xp, random_state=3)
    b = GMMSet.initialize(X, [np.arange(300)], 3, init="kmeans", xp=get_xp("numpy"),
                          random_state=3)
    np.testing.assert_allclose(to_numpy(a.means), to_numpy(b.means), rtol=1e-12)
    assert np.isclose(to_numpy(a.weights).sum(), 1.0)


def test_threaded_fit_and_scoring_match_the_sequential_engine(monkeypatch):
    # 3 GMMs on 21 000 frames: above the size where fit and log_likelihood use the thread pool.
    rng = np.random.default_rng(7)
    X = _blobs(rng, n=21_000, d=4, k=3)
    labels = np.repeat(np.arange(3), 7000)
    xp = get_xp("numpy")
    out = {}
    for threads in ("1", "2"):
        monkeypatch.setenv("DIARIZER_ENGINE_THREADS", threads)
        g = GMMSet.initialize(X, labels, 4, init="kmeans", xp=xp, random_state=0)
        res = g.fit(X, labels, max_iter=3)
        out[threads] = (res.log_likelihood, res.n_iter, to_numpy(g.means),
                        to_numpy(g.covariances), to_numpy(g.log_likelihood(X)))
    for a, b in zip(out["1"], out["2"]):
        np.testing.assert_array_equal(a, b)
    # and the per-frame scores equal an independent scipy oracle for GMM 0
    w, mu, cov = to_numpy(g.weights)[:4], out["2"][2][:4], out["2"][3][:4]
    dens = sum(w[k] * multivariate_normal(mu[k], np.diag(cov[k])).pdf(X[:50]) for k in range(4))
    np.testing.assert_allclose(out["2"][4][:50, 0], np.log(dens), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n_gmms", [3, 12])  # whole-block reductions, then slice by slice
def test_numpy_lse_equals_the_generic_lines(dtype, n_gmms):
    from diarizer.gmm._scoring import _LSE_WHOLE_GMMS, _lse_components

    assert (n_gmms <= _LSE_WHOLE_GMMS) == (n_gmms == 3)
    rng = np.random.default_rng(3)
    a = (rng.normal(size=(n_gmms, 5, 300)) * 30).astype(dtype)
    a[1, :, 7] = -np.inf  # a frame no component of GMM 1 can produce
    a[2, 3, 9] = -np.inf
    m = np.max(a, axis=1, keepdims=True)
    m = np.where(np.isfinite(m), m, np.zeros_like(m))
    with np.errstate(divide="ignore"):  # log(0) of the impossible frame
        want = np.log(np.sum(np.exp(a - m), axis=1)) + m[:, 0, :]
        got = _lse_components(a)
    assert got.dtype == a.dtype
    np.testing.assert_array_equal(got, want)
    assert np.isneginf(got[1, 7])
    np.testing.assert_array_equal(_lse_components(a[:1]), want[:1])  # a single GMM


def test_full_covariance_of_few_frames_float32(xp):
    # A component holding fewer frames than dimensions has a covariance held up by the floor
    # alone; float32 rounding of its statistics must not stop the EM (short-meeting clusters).
    rng = np.random.default_rng(3)
    d = 19
    X = rng.normal(size=(400, d)) * rng.uniform(1, 30, size=d) + 40.0
    X[:4] = X[:4] * 0.01 + 300.0  # 4 frames far away: one component alone on them
    labels = np.zeros(400, dtype=int)
    s = GMMSet.initialize(X, labels, 2, covariance_type="full", xp=xp, dtype="float32")
    mu = to_numpy(s.means).copy()
    mu[1] = X[:4].mean(axis=0)
    s = GMMSet(to_numpy(s.weights), mu, to_numpy(s.covariances), [2], "full", xp=xp,
               dtype="float32", var_floor=to_numpy(s.var_floor))
    res = s.fit(X, labels, max_iter=5)
    assert np.all(np.isfinite(res.log_likelihood))
    cov = to_numpy(s.covariances).astype(np.float64)
    assert np.linalg.eigvalsh(cov).min() > 0
    assert np.all(np.isfinite(to_numpy(s.log_likelihood(X))))
