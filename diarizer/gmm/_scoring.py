"""Scoring methods of :class:`.model.GMMSet`: frame log-likelihoods, posteriors, decoding.

``GMMSet`` inherits them from :class:`_GMMScoring`; they read the set's parameters and never
change them. Every frame is scored against every GMM in one matrix product per frame chunk,
in coordinates centred on the mean of the component means.
"""

import numpy as np

from ._checks import _gather
from ._kernels import (
    DIAG_CHUNK,
    component_log_prob,
    default_chunk_size,
    diag_design,
    estep,
    frame_design,
    logsumexp_cols,
    scoring_params,
)
from ._threads import _map_gmms

__all__ = []


_LSE_WHOLE_GMMS = 4
"""At most this many GMMs of one size: :func:`_lse_components` reduces the whole (G, M, n) block
at once (2048 frames, float32: 105 against 247 us for one GMM of 35 components, 49 against 91 us
for two of 5); with more, one component slice at a time (16 x 5: 351 against 394 us)."""


def _lse_components(a):
    """Log-sum-exp (numpy) over axis 1 of a (G, M, n) array.

    The maximum, the shifted exponentials and their sum in component order are the operations
    of the generic line in :meth:`_GMMScoring._per_gmm_lse` (numpy sums a short middle axis in
    order), so the values are identical whichever way they run: for a few GMMs as whole-block
    numpy reductions, for many one component slice at a time (reductions over a short strided
    axis and the (G, M, n) temporaries then cost about 1.1-2x more; see
    :data:`_LSE_WHOLE_GMMS`).
    """
    if a.shape[0] <= _LSE_WHOLE_GMMS:
        m = np.max(a, axis=1)
        m[~np.isfinite(m)] = 0.0
        s = np.sum(np.exp(a - m[:, None, :]), axis=1)
        np.log(s, out=s)
        s += m
        return s
    M = a.shape[1]
    m = a[:, 0, :].copy()
    for k in range(1, M):
        np.maximum(m, a[:, k, :], out=m)
    m[~np.isfinite(m)] = 0.0
    s = np.exp(a[:, 0, :] - m)
    t = np.empty_like(s)
    for k in range(1, M):
        np.subtract(a[:, k, :], m, out=t)
        np.exp(t, out=t)
        s += t
    np.log(s, out=s)
    s += m
    return s


class _GMMScoring:
    """Scoring half of :class:`.model.GMMSet` (log-likelihoods, eval/decode/predict, score)."""

    def component_log_likelihood(self, X, *, chunk_size=None):
        """Weighted component log-densities ``log w_k + log N(x_n | k)`` of every frame.

        Parameters
        ----------
        X : array of shape (N, D)
        chunk_size : int, optional

        Returns
        -------
        xp array of shape (N, C)
            A transposed view of a component-major (C, N) array.
        """
        X = self._frames(X)
        return self._T(self._component_lp_all(X, chunk_size))

    def _T(self, a):
        return self.xp.permute_dims(a, (1, 0))

    def _component_lp_all(self, X, chunk_size=None):
        return self.xp.concat(list(self._iter_component_chunks(X, chunk_size)), axis=1)

    def _chunk_scorer(self, X, chunk_size):
        """(function of a chunk start -> component-major (C, n) log-densities, chunk starts)."""
        xp, ct = self.xp, self.covariance_type
        # Work in coordinates centred on the mean of the component means: the matrix-product
        # form then loses far less to cancellation in float32 when features have large offsets.
        shift = xp.mean(self.means, axis=0)
        params = scoring_params(self.weights, self.means - shift, self.precisions_cholesky, ct,
                                xp=xp)
        C, D = self.means.shape
        n = X.shape[0]
        if chunk_size is None:
            chunk_size = DIAG_CHUNK if ct == "diag" else default_chunk_size(C * D)

        def score(s):
            Xc = X[s:min(s + chunk_size, n), ...]
            if ct == "diag":
                Z = diag_design([Xc], chunk_size=Xc.shape[0], xp=xp, shifts=[shift])
                return xp.matmul(params[0], Z[0, ...])
            return component_log_prob(frame_design(Xc - shift, ct, xp=xp), params, ct, xp=xp)

        return score, range(0, n, chunk_size)

    def _iter_component_chunks(self, X, chunk_size):
        """Component-major (C, n) log-densities of consecutive frame chunks."""
        score, starts = self._chunk_scorer(X, chunk_size)
        for s in starts:
            yield score(s)

    def _per_gmm_lse(self, lp):
        """(C, n) component log-densities -> (G, n) GMM log-likelihoods.

        GMMs with the same number of components share one log-sum-exp over a (G_M, M, n) block
        (no Python loop over GMMs); the operations and their order per GMM are those of
        :func:`logsumexp_cols`, so the values do not depend on the other GMMs.
        """
        xp = self.xp
        parts, order = self._lse_plan()
        out = []
        fast = "numpy" in getattr(xp, "__name__", "")
        for rows, n_g, M in parts:
            a = lp[rows, ...] if isinstance(rows, slice) else xp.take(lp, rows, axis=0)
            a = xp.reshape(a, (n_g, M, lp.shape[1]))
            if fast:  # the same values, component by component on contiguous (G_M, n) slices
                out.append(_lse_components(a))
                continue
            m = xp.max(a, axis=1, keepdims=True)
            m = xp.where(xp.isfinite(m), m, xp.zeros_like(m))
            out.append(xp.log(xp.sum(xp.exp(a - m), axis=1)) + m[:, 0, :])
        out = out[0] if len(out) == 1 else xp.concat(out, axis=0)
        return out if order is None else xp.take(out, order, axis=0)

    def _lse_plan(self):
        """GMMs grouped by component count: ([(rows, G_M, M)], GMM order of the result or None)."""
        key = self.n_components.tobytes()
        if getattr(self, "_lse_key", None) == key:
            return self._lse_cache
        sizes, off = self.n_components, self._offsets
        parts, first = [], []
        for M in sorted(set(sizes.tolist())):
            gmms = np.flatnonzero(sizes == M)
            rows = np.concatenate([np.arange(off[g], off[g + 1]) for g in gmms])
            if np.all(np.diff(rows) == 1):
                rows = slice(int(rows[0]), int(rows[-1]) + 1)
            else:
                rows = self.xp.asarray(rows)
            parts.append((rows, int(gmms.size), int(M)))
            first.extend(gmms.tolist())
        order = np.argsort(np.asarray(first, dtype=np.int64), kind="stable")
        order = None if np.array_equal(order, np.arange(order.size)) else self.xp.asarray(order)
        self._lse_key, self._lse_cache = key, (parts, order)
        return self._lse_cache

    def log_likelihood(self, X, *, chunk_size=None):
        """Log-likelihood of every frame under every GMM.

        Parameters
        ----------
        X : array of shape (N, D) or Frames
            Frames (a :class:`Frames` from :meth:`prepare` skips the per-call checks).
        chunk_size : int, optional
            Frames per chunk (memory is O(chunk_size * C)).

        Returns
        -------
        xp array of shape (N, G)
            ``log p(x_n | GMM g)`` (a transposed view of a GMM-major (G, N) array).
        """
        X = self._frames(X)
        score, starts = self._chunk_scorer(X, chunk_size)
        sizes = [min(X.shape[0] - s, starts.step) for s in starts]
        out = _map_gmms(lambda i: self._per_gmm_lse(score(starts[i])), len(starts), self.xp,
                        sizes)
        return self._T(self.xp.concat(out, axis=1))

    def _gmm_component_lp(self, X, gmm):
        """Component-major log-densities: (C, N) for all GMMs, (M_g, N) for one."""
        X = self._frames(X)
        if gmm is None:
            return self._component_lp_all(X)
        w, mu, _, pc = self._slice(int(gmm))
        shift = self.xp.mean(mu, axis=0)
        params = scoring_params(w, mu - shift, pc, self.covariance_type, xp=self.xp)
        if self.covariance_type == "diag":
            Z = diag_design([X], chunk_size=DIAG_CHUNK, xp=self.xp, shifts=[shift])
        else:
            Z = frame_design(X - shift, self.covariance_type, xp=self.xp)
        return component_log_prob(Z, params, self.covariance_type, xp=self.xp)[:, :X.shape[0]]

    def eval(self, X, gmm=None):
        """Per-frame log-likelihood and component posteriors, as the original GMM specializer.

        Parameters
        ----------
        X : array of shape (N, D)
        gmm : int or None
            One GMM (posteriors (N, M_g), log-likelihood (N,)) or all (posteriors (N, C) normalised
            within each GMM, log-likelihood (N, G)).

        Returns
        -------
        loglik : xp array of shape (N,) or (N, G)
        posteriors : xp array of shape (N, M_g) or (N, C)
        """
        xp = self.xp
        lp = self._gmm_component_lp(X, gmm)
        if gmm is not None:
            ll = logsumexp_cols(lp, xp=xp)
            return ll, self._T(xp.exp(lp - ll[None, :]))
        ll = self._per_gmm_lse(lp)
        return self._T(ll), self._T(xp.exp(lp - xp.take(ll, self.owner, axis=0)))

    def predict_proba(self, X, gmm=None):
        """Component posteriors (see :meth:`eval`)."""
        return self.eval(X, gmm)[1]

    def decode(self, X, gmm=None):
        """Per-frame log-likelihood and most likely component (index within its GMM).

        Returns
        -------
        loglik : xp array of shape (N,) or (N, G)
        best : xp int array of shape (N,) or (N, G)
        """
        xp = self.xp
        lp = self._gmm_component_lp(X, gmm)
        if gmm is not None:
            return logsumexp_cols(lp, xp=xp), xp.argmax(lp, axis=0)
        ll = self._per_gmm_lse(lp)
        best = [xp.argmax(lp[int(self._offsets[g]):int(self._offsets[g + 1]), ...], axis=0)
                for g in range(self.n_gmms)]
        return self._T(ll), xp.stack(best, axis=1)

    def predict(self, X, gmm=None):
        """Most likely component per frame (see :meth:`decode`)."""
        return self.decode(X, gmm)[1]

    def score(self, X, groups):
        """Total log-likelihood of each GMM on its own frames.

        Parameters
        ----------
        X : array of shape (N, D)
        groups : list of int arrays or int array of shape (N,)
            As in :meth:`fit`.

        Returns
        -------
        ndarray of shape (G,), float64
        """
        X = self._frames(X)
        idx = self._groups(groups, X.shape[0])
        out = np.zeros(self.n_gmms)
        for g in range(self.n_gmms):
            w, mu, _, pc = self._slice(g)
            shift = self.xp.mean(mu, axis=0)
            params = scoring_params(w, mu - shift, pc, self.covariance_type, xp=self.xp)
            Z = frame_design(_gather(X, idx[g], xp=self.xp) - shift, self.covariance_type,
                             xp=self.xp)
            out[g] = estep(Z, params, self.covariance_type, xp=self.xp, stats=False)[0]
        return out
