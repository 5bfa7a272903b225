"""GMMSet: many diagonal- or full-covariance GMMs of different sizes, trained and scored together.

The parameters of all G GMMs are stored concatenated over their C = sum(M_g) components, on the
``xp`` device. Training runs each GMM's EM on its own frames only (gathered once per call), so the
cost is ``sum_g N_g * M_g * D`` rather than ``N * C * D``; scoring every frame against every GMM is
one matrix product per frame chunk (the scoring methods live in :mod:`._scoring`).
"""

import logging
from dataclasses import dataclass

import numpy as np

from .._xp import get_xp, to_numpy
from ..exceptions import InputError, NumericalError
from ._checks import (
    Frames,
    _check_frames,
    _check_group_size,
    _dtype_name,
    _gather,
    _parse_groups,
    _resolve_dtype,
)
from ._chunks import chunk_design
from ._em import UNIT_FRAMES, em_diag_unit, plan_units
from ._init import kmeans_seed, original_seed
from ._kernels import (
    compute_precision_cholesky,
    diag_chunk_size,
    estep,
    frame_design,
    mstep,
    scoring_params,
)
from ._scoring import _GMMScoring
from ._threads import _blas_limit, _engine_threads, _map_gmms
from ._unions import em_diag_unions, screened

__all__ = ["GMMSet", "FitResult"]

log = logging.getLogger(__name__)

_COV_TYPES = ("diag", "full")


@dataclass(frozen=True)
class FitResult:
    """Outcome of :meth:`GMMSet.fit`.

    Attributes
    ----------
    log_likelihood : ndarray of shape (G,), float64
        Total log-likelihood of each GMM on its frames after a final E-step with the final
        parameters (0 for a GMM without frames when ``allow_empty``).
    n_iter : ndarray of shape (G,), int
        M-steps run per GMM.
    converged : ndarray of shape (G,), bool
        Whether the GMM met the convergence rule.
    kept : ndarray of shape (G,), bool or None
        :meth:`GMMSet.fit_unions` with ``screen``: the GMMs trained past the screening.
    """

    log_likelihood: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray
    kept: np.ndarray = None


class GMMSet(_GMMScoring):
    """G Gaussian mixture models over D features, GMM g having ``n_components[g]`` components.

    Parameters
    ----------
    weights : array of shape (C,)
        Component weights, concatenated over the GMMs (each GMM's weights sum to 1).
    means : array of shape (C, D)
    covariances : array of shape (C, D) for 'diag' or (C, D, D) for 'full'
    n_components : sequence of int of length G
        Components per GMM; ``sum(n_components) == C``.
    covariance_type : {'diag', 'full'}, default='diag'
    xp : namespace or str
        Array namespace (or backend name for :func:`diarizer._xp.get_xp`).
    dtype : {'float32', 'float64'} or xp dtype, optional
        Parameter and computation dtype (default float64).
    reg_covar : float, default=0.0
        Added to every covariance diagonal after every M-step, as scikit-learn does.
    var_floor : float or array of shape (D,), optional
        Absolute per-dimension variance floor added to every covariance diagonal after every
        M-step (the original diarizer's ``avgvar``); components with fewer than one frame of soft
        count then keep their mean and get covariance ``var_floor + reg_covar``.
    precisions_cholesky : array, optional
        Precomputed Cholesky factors of the precisions (computed from ``covariances`` if omitted).

    Attributes
    ----------
    weights, means, covariances, precisions_cholesky : xp arrays
    owner : xp int array of shape (C,)
        GMM index of every component (sorted, contiguous).
    n_gmms : int
    n_components : ndarray of shape (G,), int
    n_features : int
    covariance_type : str
    xp : namespace
    dtype : xp dtype

    Raises
    ------
    InputError
        Inconsistent shapes.
    NumericalError
        A covariance is not positive definite.
    """

    def __init__(self, weights, means, covariances, n_components, covariance_type="diag", *, xp,
                 dtype=None, reg_covar=0.0, var_floor=None, precisions_cholesky=None):
        xp = get_xp(xp)
        if covariance_type not in _COV_TYPES:
            raise ValueError(f"The 'covariance_type' must be one of {_COV_TYPES}. "
                             f"Got {covariance_type!r} instead.")
        self.xp = xp
        self.covariance_type = covariance_type
        self.dtype = _resolve_dtype(xp, dtype, "float64")
        self.weights = xp.astype(xp.asarray(weights), self.dtype)
        self.means = xp.astype(xp.asarray(means), self.dtype)
        self.covariances = xp.astype(xp.asarray(covariances), self.dtype)
        n_components = np.asarray(n_components, dtype=np.int64).reshape(-1)
        C = int(n_components.sum())
        if self.means.ndim != 2:
            raise InputError(None, f"means must have shape (C, D); got {tuple(self.means.shape)}")
        D = self.means.shape[1]
        cov_shape = (C, D) if covariance_type == "diag" else (C, D, D)
        if (np.any(n_components < 1) or self.weights.shape != (C,) or self.means.shape != (C, D)
                or tuple(self.covariances.shape) != cov_shape):
            raise InputError(None, f"inconsistent GMM parameters: n_components sum to {C}, "
                                   f"weights {tuple(self.weights.shape)}, means "
                                   f"{tuple(self.means.shape)}, covariances "
                                   f"{tuple(self.covariances.shape)} (expected {cov_shape})")
        self.n_components = n_components
        self._offsets = np.concatenate([[0], np.cumsum(n_components)]).astype(np.int64)
        self.owner = xp.asarray(np.repeat(np.arange(n_components.size), n_components))
        self.reg_covar = float(reg_covar)
        if var_floor is not None:
            var_floor = xp.zeros((D,), dtype=xp.float64) + xp.astype(xp.asarray(var_floor),
                                                                       xp.float64)
        self.var_floor = var_floor
        if precisions_cholesky is None:
            precisions_cholesky = compute_precision_cholesky(self.covariances, covariance_type,
                                                             xp=xp)
        self.precisions_cholesky = xp.astype(xp.asarray(precisions_cholesky), self.dtype)

    # ---------------------------------------------------------------------------------------
    # basic properties

    @property
    def n_gmms(self):
        """Number of GMMs G."""
        return int(self.n_components.size)

    @property
    def n_features(self):
        """Feature dimension D."""
        return int(self.means.shape[1])

    def __repr__(self):
        return (f"GMMSet(n_gmms={self.n_gmms}, n_components={self.n_components.tolist()}, "
                f"n_features={self.n_features}, covariance_type={self.covariance_type!r}, "
                f"dtype={_dtype_name(self.dtype)})")

    def _slice(self, g):
        a, b = int(self._offsets[g]), int(self._offsets[g + 1])
        return (self.weights[a:b], self.means[a:b, ...], self.covariances[a:b, ...],
                self.precisions_cholesky[a:b, ...])

    def _same_kind(self, weights, means, covariances, n_components, precisions_cholesky=None):
        return GMMSet(weights, means, covariances, n_components, self.covariance_type, xp=self.xp,
                      dtype=self.dtype, reg_covar=self.reg_covar, var_floor=self.var_floor,
                      precisions_cholesky=precisions_cholesky)

    # ---------------------------------------------------------------------------------------
    # input checks

    def prepare(self, X):
        """Frames checked and converted once for this set's backend and dtype.

        Pass the result instead of ``X`` to :meth:`fit`, :meth:`log_likelihood`, :meth:`score`
        ... of this or any other GMMSet of the same backend and dtype: the NaN/inf check and
        the dtype conversion then run once instead of once per call.

        Parameters
        ----------
        X : array of shape (N, D)

        Returns
        -------
        Frames

        Raises
        ------
        InputError
            Wrong shape or non-finite frames.
        """
        return Frames(self._frames(X), self.xp, self.dtype)

    def _frames(self, X):
        return _check_frames(X, xp=self.xp, dtype=self.dtype, n_features=self.n_features)

    def _groups(self, groups, n_frames):
        return _parse_groups(groups, n_frames, self.n_gmms)

    # ---------------------------------------------------------------------------------------
    # construction

    @classmethod
    def initialize(cls, X, groups, n_components, *, init="original", covariance_type="diag", xp,
                   dtype=None, random_state=None, reg_covar=0.0, relative_floor=1e-6,
                   absolute_floor=1e-10):
        """Seed one GMM per group of frames.

        Parameters
        ----------
        X : array of shape (N, D)
            All frames (numpy or xp array).
        groups : list of int arrays or int array of shape (N,)
            Frame indices of each GMM (may overlap), or a frame -> GMM label array with values in
            ``[-1, G)`` (-1: frame used by no GMM).
        n_components : int or sequence of int
            Components of each GMM.
        init : {'original', 'kmeans'}, default='original'
            'original': the original diarizer's seeding (see :func:`._init.original_seed`) on the
            GMM's own frames, plus the variance floor; 'kmeans': k-means++ on the host then
            Lloyd on ``xp``.
        covariance_type : {'diag', 'full'}, default='diag'
        xp : namespace or str
        dtype : {'float32', 'float64'}, optional
        random_state : int or None
            Seed of the host generator ('kmeans').
        reg_covar : float, default=0.0
        relative_floor : float or None, default=1e-6
            ``var_floor = mean over dims of var(X) * relative_floor`` (the original's
            ``avgvar``); None disables the floor.
        absolute_floor : float, default=1e-10
            Lower bound of that floor, so constant data still trains.

        Returns
        -------
        GMMSet
        """
        xp = get_xp(xp)
        dtype = _resolve_dtype(xp, dtype, "float64")
        X = _check_frames(X, xp=xp, dtype=dtype, n_features=None)
        N, D = X.shape
        if isinstance(groups, (list, tuple)) and groups and np.ndim(groups[0]) == 1:
            G = len(groups)
        else:
            lab = to_numpy(groups) if not isinstance(groups, (list, tuple)) else np.asarray(groups)
            G = int(lab.max()) + 1 if lab.size else 0
        idx = _parse_groups(groups, N, G)
        M = np.broadcast_to(np.asarray(n_components, dtype=np.int64), (G,)).copy()
        var_floor = None
        if relative_floor is not None:
            X64 = xp.astype(X, xp.float64)
            mu = xp.mean(X64, axis=0)
            var = xp.sum((X64 - mu) ** 2, axis=0) / max(N - 1, 1)
            value = max(float(xp.mean(var)) * relative_floor, absolute_floor)
            var_floor = xp.full((D,), value, dtype=xp.float64)
        rng = np.random.default_rng(random_state)
        parts = []
        for g in range(G):
            Xg = _gather(X, idx[g], xp=xp)
            _check_group_size(g, Xg.shape[0], int(M[g]), minimum=2)
            if init == "original":
                w, mu, cov = original_seed(Xg, M[g], covariance_type, xp=xp, dtype=dtype)
                if var_floor is not None:
                    # Deviation from the original (which floors only after M-steps): floor the
                    # seed too, so a group of identical frames does not start with zero variance.
                    fl = xp.astype(var_floor, dtype)
                    cov = cov + (fl if covariance_type == "diag" else fl * xp.eye(D, dtype=dtype))
                parts.append((w, mu, cov))
            elif init == "kmeans":
                with _blas_limit(xp):  # skinny (M, D) x (D, n) products: 1 thread is fastest
                    parts.append(kmeans_seed(Xg, M[g], covariance_type, xp=xp, dtype=dtype,
                                             rng=rng, reg_covar=reg_covar,
                                             var_floor=var_floor)[:3])
            else:
                raise ValueError(f"The 'init' must be 'original' or 'kmeans'. "
                                 f"Got {init!r} instead.")
        w, mu, cov = (xp.concat([p[i] for p in parts], axis=0) for i in range(3))
        return cls(w, mu, cov, M, covariance_type, xp=xp, dtype=dtype, reg_covar=reg_covar,
                   var_floor=var_floor)

    def select(self, gmm_indices):
        """Subset of the GMMs, in the given order (repeats allowed).

        Parameters
        ----------
        gmm_indices : sequence of int

        Returns
        -------
        GMMSet
        """
        gi = np.asarray(gmm_indices, dtype=np.int64).reshape(-1)
        if gi.size and (gi.min() < -self.n_gmms or gi.max() >= self.n_gmms):
            raise IndexError(f"GMM index out of range for {self.n_gmms} GMMs: {gi.tolist()}")
        gi = gi % max(self.n_gmms, 1)
        comp = np.concatenate([np.arange(self._offsets[g], self._offsets[g + 1]) for g in gi])
        ci = self.xp.asarray(comp)
        take = lambda a: self.xp.take(a, ci, axis=0)  # noqa: E731
        return self._same_kind(take(self.weights), take(self.means), take(self.covariances),
                               self.n_components[gi], take(self.precisions_cholesky))

    @staticmethod
    def concat(sets):
        """Concatenate GMM sets (same backend, dtype, covariance type and D) into one.

        The floors are those of the first set.
        """
        sets = list(sets)
        if not sets:
            raise ValueError("GMMSet.concat needs at least one GMMSet")
        first = sets[0]
        for s in sets[1:]:
            if (s.covariance_type != first.covariance_type or s.n_features != first.n_features
                    or _dtype_name(s.dtype) != _dtype_name(first.dtype)):
                raise InputError(None, f"cannot concatenate {s!r} with {first!r}")
        xp = first.xp
        cat = lambda name: xp.concat([getattr(s, name) for s in sets], axis=0)  # noqa: E731
        return first._same_kind(cat("weights"), cat("means"), cat("covariances"),
                                np.concatenate([s.n_components for s in sets]),
                                cat("precisions_cholesky"))

    def to_numpy(self):
        """Parameters as host arrays.

        Returns
        -------
        dict
            ``weights``, ``means``, ``covariances``, ``precisions_cholesky``, ``n_components``,
            ``covariance_type``, ``reg_covar``, ``var_floor`` (None or (D,)).
        """
        return {
            "weights": to_numpy(self.weights).copy(),
            "means": to_numpy(self.means).copy(),
            "covariances": to_numpy(self.covariances).copy(),
            "precisions_cholesky": to_numpy(self.precisions_cholesky).copy(),
            "n_components": self.n_components.copy(),
            "covariance_type": self.covariance_type,
            "reg_covar": self.reg_covar,
            "var_floor": None if self.var_floor is None else to_numpy(self.var_floor).copy(),
        }

    # ---------------------------------------------------------------------------------------
    # training

    def fit(self, X, groups, *, max_iter=3, min_iter=1, tol=None, allow_empty=False,
            chunk_size=None):
        """Batched EM, in place: every GMM on its own frames, warm-started from its parameters.

        Each GMM runs ``E, (M, E), (M, E) ...`` and stops after an M-step + E-step pair once
        ``it >= min_iter`` and (``it >= max_iter`` or converged), where converged means
        ``|L_t - L_{t-1}| <= eps_g`` on its total log-likelihood. With ``tol=None`` the original's
        ``eps_g = (1 + D + D(D+1)/2) * ln(N_g * D) * 1e-4``; otherwise ``eps_g = tol``.

        Parameters
        ----------
        X : array of shape (N, D) or Frames
            Frames (a :class:`Frames` from :meth:`prepare` skips the per-call checks).
        groups : list of int arrays or int array of shape (N,)
            Frame indices of each GMM (G lists; may overlap) or a frame -> GMM label array with
            values in ``[-1, G)``.
        max_iter : int, default=3
        min_iter : int, default=1
        tol : float, optional
        allow_empty : bool, default=False
            Leave GMMs without frames unchanged (log-likelihood 0, 0 iterations) instead of raising.
        chunk_size : int, optional
            Frames per E-step chunk (default: 512 for GMMs of fewer than 16 384 frames, 2048
            for larger ones; see :func:`._kernels.diag_chunk_size`).

        Returns
        -------
        FitResult
            Per-GMM log-likelihood after a final E-step with the final parameters, iterations run
            and convergence flags.

        Raises
        ------
        InputError
            Non-finite frames, wrong D, an empty group or fewer frames than components.
        NumericalError
            A covariance became singular; the message names the GMM and the setting to increase.
        """
        xp = self.xp
        X = self._frames(X)
        idx = self._groups(groups, X.shape[0])
        G, D = self.n_gmms, self.n_features
        for g in range(G):
            if idx[g].size == 0 and allow_empty:
                continue
            _check_group_size(g, idx[g].size, int(self.n_components[g]))
        lls = np.zeros(G)
        n_iter = np.zeros(G, dtype=np.int64)
        conv = np.zeros(G, dtype=bool)
        if self.covariance_type == "diag":
            return self._fit_diag(X, idx, max_iter, min_iter, tol, chunk_size)

        def one(g):
            w, mu, cov, pc = self._slice(g)
            if idx[g].size == 0:
                return 0.0, 0, False, (w, mu, cov, pc)
            Xg = _gather(X, idx[g], xp=xp)
            # EM runs in coordinates centred on the mean of the GMM's frames (float32 accuracy;
            # the statistics E[x^2] - mu^2 then cancel far less). Means are shifted back after.
            shift = xp.astype(xp.mean(xp.astype(Xg, xp.float64, copy=False), axis=0),
                              self.dtype)
            Z = frame_design(Xg - shift, self.covariance_type, xp=xp)
            eps = (tol if tol is not None
                   else (1 + D + D * (D + 1) / 2) * np.log(idx[g].size * D) * 1e-4)
            try:
                out = self._em_one(Z, (w, mu - shift, cov, pc), eps, max_iter, min_iter,
                                   chunk_size, gmm=g)
            except NumericalError as exc:
                raise NumericalError(f"GMM {g}: {exc}") from None
            w, mu, cov, pc = out[3]
            return out[0], out[1], out[2], (w, mu + shift, cov, pc)

        new = []
        for g, out in enumerate(_map_gmms(one, G, xp, [i.size for i in idx])):
            lls[g], n_iter[g], conv[g] = out[:3]
            new.append(out[3])
        self.weights, self.means, self.covariances, self.precisions_cholesky = (
            xp.concat([p[i] for p in new], axis=0) for i in range(4))
        log.debug("EM of %d GMMs: iterations %s, log-likelihoods %s", G, n_iter.tolist(),
                  lls.tolist())
        return FitResult(lls, n_iter, conv)

    def fit_unions(self, X, blocks, members, *, max_iter=3, min_iter=1, tol=None, screen=None):
        """Batched EM, in place, of GMMs whose frames are unions of shared blocks of frames.

        GMM ``g`` trains on the frames of the blocks ``members[g]``, as :meth:`fit` on their
        union would (the same iterations and convergence rule; values equal up to the order of
        float sums). For diagonal GMMs every block is scored against all the GMMs containing it
        in one matrix product per E-step (:mod:`._unions`): the clustering's merge candidates
        (one per pair of clusters) then read every cluster's frames once per E-step instead of
        gathering ``G - 1`` unions.

        Parameters
        ----------
        X : array of shape (N, D) or Frames
        blocks : list of int arrays
            Disjoint frame indices of every block.
        members : list of sequence of int
            Blocks of every GMM (``len(members) == n_gmms``), at least one each.
        max_iter, min_iter : int
        tol : float, optional
            As in :meth:`fit`.
        screen : tuple (k, baseline), optional
            ``k`` int and ``baseline`` array of shape (G,): after the first EM iteration only the
            ``k`` GMMs of highest ``L - baseline`` train on (at least one more iteration when
            ``max_iter >= 2``); the others keep their one-iteration parameters and likelihood.

        Returns
        -------
        FitResult
            With ``kept``, the GMMs trained past the screening (all without ``screen``).
        """
        xp = self.xp
        X = self._frames(X)
        blocks = [np.asarray(b, dtype=np.int64).reshape(-1) for b in blocks]
        members = [[int(c) for c in ms] for ms in members]
        if len(members) != self.n_gmms:
            raise ValueError(f"{len(members)} member lists for {self.n_gmms} GMMs")
        for g, ms in enumerate(members):
            if not ms or len(set(ms)) != len(ms) or min(ms) < 0 or max(ms) >= len(blocks):
                raise ValueError(f"GMM {g}: invalid blocks {ms} of {len(blocks)}")
        sizes = [sum(int(blocks[c].size) for c in ms) for ms in members]
        for g, n in enumerate(sizes):
            _check_group_size(g, n, int(self.n_components[g]))
        if self.covariance_type != "diag":
            groups = [np.sort(np.concatenate([blocks[c] for c in ms])) for ms in members]
            if screen is None or not 0 < screen[0] < self.n_gmms or max_iter < 2:
                res = self.fit(X, groups, max_iter=max_iter, min_iter=min_iter, tol=tol)
                return FitResult(res.log_likelihood, res.n_iter, res.converged,
                                 np.ones(self.n_gmms, dtype=bool))
            first = self.fit(X, groups, max_iter=1, min_iter=1, tol=tol)
            rough = first.log_likelihood - np.asarray(screen[1], dtype=np.float64)
            keep = screened(rough, screen[0])
            top = self.select(keep.tolist())
            res = top.fit(X, [groups[i] for i in keep], max_iter=max_iter - 1, min_iter=1,
                          tol=tol)
            lls, n_iter = first.log_likelihood.copy(), first.n_iter.copy()
            conv, kept = first.converged.copy(), np.zeros(self.n_gmms, dtype=bool)
            lls[keep], n_iter[keep], conv[keep], kept[keep] = (
                res.log_likelihood, res.n_iter + 1, res.converged, True)
            pieces = [top._slice(int(np.searchsorted(keep, g))) if kept[g] else self._slice(g)
                      for g in range(self.n_gmms)]
            self.weights, self.means, self.covariances, self.precisions_cholesky = (
                xp.concat([p[i] for p in pieces], axis=0) for i in range(4))
            return FitResult(lls, n_iter, conv, kept)
        eps = np.asarray([self._eps(n, tol) for n in sizes], dtype=np.float64)
        L, n_iter, conv, kept, params = em_diag_unions(
            X, blocks, members,
            (self.weights, self.means, self.covariances, self.precisions_cholesky),
            self.n_components, eps, max_iter, min_iter, xp=xp, dtype=self.dtype,
            reg_covar=self.reg_covar, var_floor=self.var_floor, screen=screen)
        self.weights, self.means, self.covariances, self.precisions_cholesky = params
        return FitResult(L, n_iter, conv, kept)

    def _eps(self, n, tol):
        D = self.n_features
        return tol if tol is not None else (1 + D + D * (D + 1) / 2) * np.log(n * D) * 1e-4

    def _fit_diag(self, X, idx, max_iter, min_iter, tol, chunk_size):
        """Diagonal EM of all GMMs in batched work units (see :mod:`._em`); in place."""
        xp, G = self.xp, self.n_gmms
        sizes = [int(i.size) for i in idx]
        # a GMM's chunk size depends on its own frame count only, so its numbers do not
        # depend on the other GMMs or on the threads
        cs_of = [int(chunk_size) if chunk_size else diag_chunk_size(n) for n in sizes]
        units = plan_units(sizes, self.n_components.tolist(), _engine_threads(), UNIT_FRAMES,
                           chunk_sizes=cs_of)
        debug = log.isEnabledFor(logging.DEBUG)

        def note(g, it, L_new, change):
            log.debug("GMM %d, EM iteration %d: log-likelihood %.6f (change %.4g)", g, it,
                      L_new, change)

        def run(k):
            gmms = units[k]
            cs = cs_of[gmms[0]]
            # EM runs in coordinates centred on the mean of every GMM's frames (float32
            # accuracy: E[x^2] - mu^2 then cancels far less); means are shifted back after.
            design, shifts = chunk_design(X, [idx[g] for g in gmms], chunk_size=cs, xp=xp)
            comp = xp.asarray(np.concatenate([np.arange(self._offsets[g], self._offsets[g + 1])
                                              for g in gmms]))
            M = int(self.n_components[gmms[0]])
            shift_rows = xp.repeat(xp.stack(shifts), M, axis=0)  # (len(gmms) * M, D)
            w, mu, cov, pc = (xp.take(a, comp, axis=0) for a in
                              (self.weights, self.means, self.covariances,
                               self.precisions_cholesky))
            eps = np.asarray([self._eps(sizes[g], tol) for g in gmms], dtype=np.float64)
            L, it, cv, (w, mu, cov, pc) = em_diag_unit(
                design, [sizes[g] for g in gmms], (w, mu - shift_rows, cov, pc), eps,
                max_iter, min_iter, xp=xp, dtype=self.dtype, reg_covar=self.reg_covar,
                var_floor=self.var_floor, gmm_ids=gmms, chunk_size=cs,
                on_iteration=note if debug else None)
            return L, it, cv, (w, mu + shift_rows, cov, pc)

        outs = _map_gmms(run, len(units), xp, [sum(sizes[g] for g in u) for u in units])
        lls = np.zeros(G)
        n_iter = np.zeros(G, dtype=np.int64)
        conv = np.zeros(G, dtype=bool)
        where = {}
        for k, (gmms, out) in enumerate(zip(units, outs)):
            lls[gmms], n_iter[gmms], conv[gmms] = out[0], out[1], out[2]
            for j, g in enumerate(gmms):
                where[g] = (k, j)
        # reassemble the parameters in GMM order (GMMs without frames keep theirs)
        pieces = []
        for g in range(G):
            if g not in where:
                pieces.append(self._slice(g))
                continue
            k, j = where[g]
            M = int(self.n_components[g])
            pieces.append(tuple(a[j * M:(j + 1) * M, ...] for a in outs[k][3]))
        self.weights, self.means, self.covariances, self.precisions_cholesky = (
            xp.concat([p[i] for p in pieces], axis=0) for i in range(4))
        log.debug("EM of %d GMMs: iterations %s, log-likelihoods %s", G, n_iter.tolist(),
                  lls.tolist())
        return FitResult(lls, n_iter, conv)

    def _em_one(self, Z, params, eps, max_iter, min_iter, chunk_size, gmm=0):
        xp, ct = self.xp, self.covariance_type
        w, mu, cov, pc = params
        top = max(max_iter, min_iter)
        want_stats = top > 0
        L, Nk, S1, S2 = estep(Z, scoring_params(w, mu, pc, ct, xp=xp), ct, xp=xp,
                              chunk_size=chunk_size, stats=want_stats)
        it, converged = 0, False
        while it < min_iter or (it < max_iter and not converged):
            w, mu, cov, pc = mstep(Nk, S1, S2, mu, ct, xp=xp, dtype=self.dtype,
                                   reg_covar=self.reg_covar, var_floor=self.var_floor)
            it += 1
            want_stats = it < top
            L_new, Nk, S1, S2 = estep(Z, scoring_params(w, mu, pc, ct, xp=xp), ct, xp=xp,
                                      chunk_size=chunk_size, stats=want_stats)
            converged = abs(L_new - L) <= eps
            if log.isEnabledFor(logging.DEBUG):
                log.debug("GMM %d, EM iteration %d: log-likelihood %.6f (change %.4g)", gmm,
                          it, float(L_new), float(L_new - L))
            L = L_new
        return L, it, converged, (w, mu, cov, pc)
