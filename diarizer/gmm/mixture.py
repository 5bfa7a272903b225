"""A single GMM with scikit-learn's estimator interface, as a thin layer over the GMMSet kernels."""

import inspect
import logging
import warnings

import numpy as np

from .._xp import get_xp, to_numpy
from ..exceptions import ConvergenceWarning, InputError
from ._checks import _check_frames, _resolve_dtype
from ._init import kmeans_seed, original_seed
from ._kernels import compute_precision_cholesky, estep, frame_design, mstep, scoring_params
from .model import GMMSet

__all__ = ["GaussianMixture"]

log = logging.getLogger(__name__)


def _host_rng(random_state):
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**31))
    return np.random.default_rng(random_state)


class GaussianMixture:
    """Gaussian mixture model fitted by EM, with scikit-learn's names and semantics.

    Parameters
    ----------
    n_components : int, default=1
    covariance_type : {'diag', 'full'}, default='diag'
    tol : float, default=1e-3
        Convergence threshold on the change of the mean per-frame log-likelihood (as sklearn).
    reg_covar : float, default=1e-6
        Added to every covariance diagonal, exactly as sklearn does.
    max_iter : int, default=100
    n_init : int, default=1
        Initialisations tried; the one with the largest lower bound is kept.
    init_params : {'kmeans', 'original', 'random'}, default='kmeans'
        'kmeans': k-means++ then Lloyd; 'original': the original diarizer's seeding; 'random':
        random responsibilities (as sklearn's 'random').
    weights_init : array of shape (n_components,), optional
    means_init : array of shape (n_components, n_features), optional
    precisions_init : array of shape (n_components, n_features) or (n_components, D, D), optional
        Precisions (inverse covariances), as sklearn.
    random_state : int, numpy Generator or None
        Seed of the host generator.
    backend : {'numpy', 'cupy', 'array_api_strict'}, default='numpy'
    dtype : {'float64', 'float32'}, default='float64'
    relative_floor : float, optional
        The original diarizer's variance floor ``mean(var(X)) * relative_floor`` added to every
        diagonal after every M-step (in addition to ``reg_covar``); None (default) disables it.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
    means_ : ndarray of shape (n_components, n_features)
    covariances_ : ndarray of shape (n_components, n_features) or (n_components, D, D)
    precisions_cholesky_ : ndarray, same shape as ``covariances_``
    precisions_ : ndarray, same shape as ``covariances_``
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        Mean log-likelihood per frame of the best initialisation at its last E-step.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> X = np.r_[np.random.default_rng(0).normal(size=(100, 2)), 5 + np.zeros((1, 2))]
    >>> gm = GaussianMixture(2, random_state=0).fit(X)
    >>> gm.means_.shape
    (2, 2)
    """

    def __init__(self, n_components=1, *, covariance_type="diag", tol=1e-3, reg_covar=1e-6,
                 max_iter=100, n_init=1, init_params="kmeans", weights_init=None, means_init=None,
                 precisions_init=None, random_state=None, backend="numpy", dtype="float64",
                 relative_floor=None):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.backend = backend
        self.dtype = dtype
        self.relative_floor = relative_floor

    # sklearn estimator protocol -------------------------------------------------------------

    def get_params(self, deep=True):
        """Constructor parameters, as sklearn estimators return them."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {n: getattr(self, n) for n in names}

    def set_params(self, **params):
        """Set constructor parameters; returns self."""
        valid = self.get_params()
        for k, v in params.items():
            if k not in valid:
                raise ValueError(f"Invalid parameter {k!r} for GaussianMixture; valid: "
                                 f"{sorted(valid)}")
            setattr(self, k, v)
        return self

    def __repr__(self):
        return f"GaussianMixture(n_components={self.n_components}, " \
               f"covariance_type={self.covariance_type!r}, backend={self.backend!r})"

    # fitting ---------------------------------------------------------------------------------

    def _check_params(self):
        if self.covariance_type not in ("diag", "full"):
            raise ValueError("The 'covariance_type' must be 'diag' or 'full'. "
                             f"Got {self.covariance_type!r} instead.")
        if int(self.n_components) < 1:
            raise ValueError(f"The 'n_components' must be an int >= 1. Got {self.n_components!r} "
                             "instead.")
        if self.init_params not in ("kmeans", "original", "random"):
            raise ValueError("The 'init_params' must be 'kmeans', 'original' or 'random'. "
                             f"Got {self.init_params!r} instead.")
        if int(self.n_init) < 1 or int(self.max_iter) < 0 or self.tol < 0 or self.reg_covar < 0:
            raise ValueError("n_init must be >= 1, max_iter >= 0, tol >= 0 and reg_covar >= 0; got "
                             f"{self.n_init}, {self.max_iter}, {self.tol}, {self.reg_covar}")

    def _initial(self, X, xp, dtype, rng, var_floor):
        M, ct = int(self.n_components), self.covariance_type
        if self.init_params == "kmeans":
            w, mu, cov, pc = kmeans_seed(X, M, ct, xp=xp, dtype=dtype, rng=rng,
                                         reg_covar=self.reg_covar, var_floor=var_floor)
        elif self.init_params == "original":
            w, mu, cov = original_seed(X, M, ct, xp=xp, dtype=dtype)
            pc = compute_precision_cholesky(cov, ct, xp=xp)
        else:  # random responsibilities, as sklearn's 'random'
            n = X.shape[0]
            resp = rng.uniform(size=(n, M))
            resp /= resp.sum(axis=1, keepdims=True)
            resp = xp.asarray(resp)
            X64 = xp.astype(X, xp.float64)
            Nk = xp.sum(resp, axis=0)
            rT = xp.permute_dims(resp, (1, 0))
            S1 = xp.matmul(rT, X64)
            if ct == "diag":
                S2 = xp.matmul(rT, X64 * X64)
            else:
                D = X.shape[1]
                rx = xp.reshape(resp[:, :, None] * X64[:, None, :], (n, M * D))
                S2 = xp.reshape(xp.matmul(xp.permute_dims(rx, (1, 0)), X64), (M, D, D))
            w, mu, cov, pc = mstep(Nk, S1, S2, S1, ct, xp=xp, dtype=dtype,
                                   reg_covar=self.reg_covar, var_floor=var_floor)
        if self.weights_init is not None:
            w = xp.asarray(np.asarray(self.weights_init, dtype=np.float64), dtype=dtype)
        if self.means_init is not None:
            mu = xp.asarray(np.asarray(self.means_init, dtype=np.float64), dtype=dtype)
        if self.precisions_init is not None:
            prec = np.asarray(self.precisions_init, dtype=np.float64)
            if ct == "diag":
                cov, pc = 1.0 / prec, np.sqrt(prec)
            else:
                cov, pc = np.linalg.inv(prec), np.linalg.cholesky(prec)
            cov, pc = xp.asarray(cov, dtype=dtype), xp.asarray(pc, dtype=dtype)
        return w, mu, cov, pc

    def fit(self, X, y=None):
        """Estimate the parameters with EM.

        sklearn semantics: stop when the mean log-likelihood per frame changes by less than
        ``tol``.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self
        """
        self._check_params()
        xp = get_xp(self.backend)
        dtype = _resolve_dtype(xp, self.dtype, "float64")
        X = _check_frames(X, xp=xp, dtype=dtype, n_features=None)
        n, D = X.shape
        M, ct = int(self.n_components), self.covariance_type
        if n < max(M, 2):
            raise InputError(None, f"X has {n} frames for {M} components; GaussianMixture needs at "
                                   f"least {max(M, 2)} frames")
        var_floor = None
        if self.relative_floor is not None:
            X64 = xp.astype(X, xp.float64)
            var = xp.sum((X64 - xp.mean(X64, axis=0)) ** 2, axis=0) / (n - 1)
            var_floor = xp.full((D,), float(xp.mean(var)) * self.relative_floor,
                                dtype=xp.float64)
        rng = _host_rng(self.random_state)
        # EM in coordinates centred on the data mean (float32 accuracy), as GMMSet.fit does
        shift = xp.astype(xp.mean(xp.astype(X, xp.float64), axis=0), dtype)
        Z = frame_design(X - shift, ct, xp=xp)
        best = None
        for _ in range(int(self.n_init)):
            w, mu, cov, pc = self._initial(X, xp, dtype, rng, var_floor)
            lower, converged, it = -np.inf, False, 0
            for it in range(1, int(self.max_iter) + 1):
                prev = lower
                L, Nk, S1, S2 = estep(Z, scoring_params(w, mu - shift, pc, ct, xp=xp), ct, xp=xp)
                lower = L / n
                w, mu, cov, pc = mstep(Nk, S1, S2, mu - shift, ct, xp=xp, dtype=dtype,
                                       reg_covar=self.reg_covar, var_floor=var_floor)
                mu = mu + shift
                if abs(lower - prev) < self.tol:
                    converged = True
                    break
            log.debug("GaussianMixture init: %d iterations, lower bound %s", it, lower)
            if best is None or lower > best[0]:
                best = (lower, converged, it, (w, mu, cov, pc))
        lower, converged, it, (w, mu, cov, pc) = best
        if not converged and int(self.max_iter) > 0:
            warnings.warn(f"GaussianMixture did not converge in {self.max_iter} iterations; "
                          "try a larger max_iter or tol, or check the data.", ConvergenceWarning,
                          stacklevel=2)
        self._gmm = GMMSet(w, mu, cov, [M], ct, xp=xp, dtype=dtype, reg_covar=self.reg_covar,
                           var_floor=var_floor, precisions_cholesky=pc)
        self.weights_ = to_numpy(w).copy()
        self.means_ = to_numpy(mu).copy()
        self.covariances_ = to_numpy(cov).copy()
        self.precisions_cholesky_ = to_numpy(pc).copy()
        if ct == "diag":
            self.precisions_ = self.precisions_cholesky_ ** 2
        else:
            self.precisions_ = self.precisions_cholesky_ @ self.precisions_cholesky_.transpose(
                0, 2, 1)
        self.converged_ = bool(converged)
        self.n_iter_ = int(it)
        self.lower_bound_ = float(lower)
        self.n_features_in_ = int(D)
        return self

    def fit_predict(self, X, y=None):
        """Fit, then return the most likely component of every frame."""
        return self.fit(X).predict(X)

    # scoring ---------------------------------------------------------------------------------

    def _fitted(self):
        if not hasattr(self, "_gmm"):
            raise AttributeError("This GaussianMixture instance is not fitted yet; call fit first.")
        return self._gmm

    def score_samples(self, X):
        """Log-likelihood of every frame, ndarray of shape (n_samples,)."""
        return to_numpy(self._fitted().log_likelihood(X))[:, 0].copy()

    def score(self, X, y=None):
        """Mean log-likelihood per frame (as sklearn)."""
        return float(np.mean(self.score_samples(X)))

    def predict_proba(self, X):
        """Component posteriors, ndarray of shape (n_samples, n_components)."""
        return to_numpy(self._fitted().predict_proba(X, 0)).copy()

    def predict(self, X):
        """Most likely component of every frame, ndarray of shape (n_samples,)."""
        return to_numpy(self._fitted().predict(X, 0)).astype(np.int64)

    def _n_parameters(self):
        M, D = self.means_.shape
        cov = M * D if self.covariance_type == "diag" else M * D * (D + 1) // 2
        return int(cov + M * D + M - 1)

    def bic(self, X):
        """Bayesian information criterion of the model on X (lower is better)."""
        n = np.asarray(X).shape[0] if not hasattr(X, "shape") else X.shape[0]
        return -2 * self.score(X) * n + self._n_parameters() * np.log(n)

    def aic(self, X):
        """Akaike information criterion of the model on X (lower is better)."""
        n = X.shape[0] if hasattr(X, "shape") else np.asarray(X).shape[0]
        return -2 * self.score(X) * n + 2 * self._n_parameters()

    def sample(self, n_samples=1):
        """Draw frames from the fitted model (host random numbers, as sklearn).

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,)
            Component of each frame.
        """
        self._fitted()
        if n_samples < 1:
            raise ValueError(f"Invalid value for 'n_samples': {n_samples}. It must be >= 1.")
        rng = _host_rng(self.random_state)
        counts = rng.multinomial(n_samples, self.weights_ / self.weights_.sum())
        xs, ys = [], []
        for k, c in enumerate(counts):
            if self.covariance_type == "diag":
                x = self.means_[k] + rng.standard_normal((c, self.means_.shape[1])) * np.sqrt(
                    self.covariances_[k])
            else:
                x = rng.multivariate_normal(self.means_[k], self.covariances_[k], c)
            xs.append(x)
            ys.append(np.full(c, k, dtype=np.int64))
        return np.vstack(xs), np.concatenate(ys)
