import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGM

from diarizer.exceptions import ConvergenceWarning, InputError
from diarizer.gmm import GaussianMixture


def _data(rng, n=400, d=3):
    c = rng.normal(scale=3.0, size=(3, d))
    return c[rng.integers(3, size=n)] + rng.normal(size=(n, d))


def _inits(rng, M, d, ctype):
    w = rng.dirichlet(np.ones(M))
    mu = rng.normal(scale=2.0, size=(M, d))
    if ctype == "diag":
        prec = rng.uniform(0.5, 2.0, size=(M, d))
    else:
        A = rng.normal(size=(M, d, d))
        prec = np.linalg.inv(A @ A.transpose(0, 2, 1) / d + np.eye(d))
    return dict(weights_init=w, means_init=mu, precisions_init=prec)


def _backend(xp):
    return xp.__name__.split(".")[-1]


@pytest.mark.parametrize("ctype", ["diag", "full"])
@pytest.mark.parametrize("max_iter,tol", [(5, 0.0), (200, 1e-3)])
def test_matches_sklearn(xp, rng, ctype, max_iter, tol):
    X = _data(rng)
    init = _inits(rng, 4, 3, ctype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkConvergenceWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = SkGM(4, covariance_type=ctype, tol=tol, max_iter=max_iter, reg_covar=1e-6,
                  **init).fit(X)
        ours = GaussianMixture(4, covariance_type=ctype, tol=tol, max_iter=max_iter,
                               reg_covar=1e-6, backend=_backend(xp), **init).fit(X)
    assert ours.n_iter_ == sk.n_iter_ and ours.converged_ == sk.converged_
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        np.testing.assert_allclose(getattr(ours, name), getattr(sk, name), rtol=1e-7, atol=1e-12)
        assert isinstance(getattr(ours, name), np.ndarray)
    assert ours.lower_bound_ == pytest.approx(sk.lower_bound_, rel=1e-7)
    np.testing.assert_allclose(ours.score_samples(X), sk.score_samples(X), rtol=1e-7)
    np.testing.assert_allclose(ours.predict_proba(X), sk.predict_proba(X), rtol=1e-6, atol=1e-12)
    np.testing.assert_array_equal(ours.predict(X), sk.predict(X))
    assert ours.bic(X) == pytest.approx(sk.bic(X), rel=1e-7)
    assert ours.aic(X) == pytest.approx(sk.aic(X), rel=1e-7)
    assert ours.score(X) == pytest.approx(sk.score(X), rel=1e-7)


@pytest.mark.parametrize("init", ["kmeans", "original"])
def test_inits_fit_well_separated_blobs(rng, init):
    X = np.concatenate([rng.normal(size=(200, 2)), 10 + rng.normal(size=(200, 2))])
    gm = GaussianMixture(2, init_params=init, random_state=0, n_init=2,
                         max_iter=300).fit(X)
    assert gm.converged_
    np.testing.assert_allclose(np.sort(gm.means_[:, 0]), [0, 10], atol=0.3)
    np.testing.assert_allclose(np.sort(gm.weights_), [0.5, 0.5], atol=0.02)


def test_random_init_is_reproducible(rng):
    X = _data(rng)
    a = GaussianMixture(3, init_params="random", random_state=4, max_iter=500).fit(X)
    b = GaussianMixture(3, init_params="random", random_state=4, max_iter=500).fit(X)
    np.testing.assert_array_equal(a.means_, b.means_)
    assert a.weights_.sum() == pytest.approx(1.0)


def test_sample_and_params(rng):
    X = _data(rng)
    gm = GaussianMixture(3, covariance_type="full", random_state=1).fit(X)
    S, y = gm.sample(500)
    assert S.shape == (500, 3) and y.shape == (500,) and set(y) <= {0, 1, 2}
    assert gm.get_params()["n_components"] == 3
    gm.set_params(n_components=2)
    assert gm.n_components == 2
    with pytest.raises(ValueError, match="Invalid parameter 'foo'"):
        gm.set_params(foo=1)


def test_convergence_warning_and_errors(rng):
    X = _data(rng)
    with pytest.warns(ConvergenceWarning, match="did not converge in 1 iterations"):
        GaussianMixture(3, max_iter=1, tol=0.0).fit(X)
    with pytest.raises(InputError, match="X has 2 frames for 3 components"):
        GaussianMixture(3).fit(X[:2])
    with pytest.raises(ValueError, match="The 'covariance_type' must be 'diag' or 'full'"):
        GaussianMixture(2, covariance_type="tied").fit(X)
    with pytest.raises(AttributeError, match="not fitted yet"):
        GaussianMixture(2).score(X)
    with pytest.raises(InputError, match="NaN or infinite"):
        GaussianMixture(2).fit(np.where(X > 3, np.nan, X))


def test_float32_backend_matches_float64(xp, rng):
    X = _data(rng, n=2000)
    a = GaussianMixture(3, random_state=0, dtype="float32", backend=_backend(xp)).fit(X)
    b = GaussianMixture(3, random_state=0, dtype="float64").fit(X)
    assert a.means_.dtype == np.float32
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-3, atol=1e-3)
