"""Dump and load a :class:`GMMSet`: the original diarizer's plain-text format, or ``.npz``.

Text format (the original ``write_to_GMM``; floats written with ``repr`` so they read back
exactly)::

    Number of clusters: <G>
    Covariance type: full                  (only for full covariances)
    Variance floor: <v_0> ... <v_D-1>      (only when a floor is set)
    Reg covar: <r>                         (only when non-zero)
    Cluster <g>
    Number of Gaussians: <M_g>
    Gaussian: <m>
    Weight: <w>
    Feature <f> Mean <mu> Var <var>        (one line per dimension; var = covariance diagonal)
    Covariance <f>: <c_f0> ... <c_f,D-1>   (full covariances only: row f of the matrix)

A file without the optional lines is exactly what the original writes and loads as 'diag'. Paths
ending in ``.npz`` use numpy's archive format instead. Writes are atomic.
"""

import os

import numpy as np

from ..exceptions import InputError
from ..io._atomic import atomic_open
from .model import GMMSet

__all__ = ["dump_gmms", "load_gmms", "format_gmms"]


def _r(x):
    return repr(float(x))


def format_gmms(gmms):
    """Text dump of a :class:`GMMSet` (see the module docstring).

    Parameters
    ----------
    gmms : GMMSet

    Returns
    -------
    str
    """
    p = gmms.to_numpy()
    full = p["covariance_type"] == "full"
    lines = [f"Number of clusters: {gmms.n_gmms}"]
    if full:
        lines.append("Covariance type: full")
    if p["var_floor"] is not None:
        lines.append("Variance floor: " + " ".join(_r(v) for v in p["var_floor"]))
    if p["reg_covar"]:
        lines.append(f"Reg covar: {_r(p['reg_covar'])}")
    k = 0
    for g, M in enumerate(p["n_components"]):
        lines += [f"Cluster {g}", f"Number of Gaussians: {int(M)}"]
        for m in range(int(M)):
            lines += [f"Gaussian: {m}", f"Weight: {_r(p['weights'][k])}"]
            cov = p["covariances"][k]
            var = np.diagonal(cov) if full else cov
            lines += [f"Feature {f} Mean {_r(mu)} Var {_r(v)}"
                      for f, (mu, v) in enumerate(zip(p["means"][k], var))]
            if full:
                lines += [f"Covariance {f}: " + " ".join(_r(c) for c in row)
                          for f, row in enumerate(cov)]
            k += 1
    return "\n".join(lines) + "\n"


def dump_gmms(path, gmms):
    """Write a :class:`GMMSet` to ``path`` atomically (text, or ``.npz`` by extension).

    Parameters
    ----------
    path : str or os.PathLike
    gmms : GMMSet

    Raises
    ------
    InputError
        The path cannot be written.
    """
    path = os.fspath(path)
    if path.endswith(".npz"):
        p = gmms.to_numpy()
        arrays = {k: p[k] for k in ("weights", "means", "covariances", "precisions_cholesky",
                                    "n_components")}
        arrays["covariance_type"] = np.array(p["covariance_type"])
        arrays["reg_covar"] = np.array(p["reg_covar"])
        if p["var_floor"] is not None:
            arrays["var_floor"] = p["var_floor"]
        with atomic_open(path, "wb") as fh:
            np.savez(fh, **arrays)
        return
    with atomic_open(path, "w") as fh:
        fh.write(format_gmms(gmms))


def load_gmms(path, *, xp, dtype=None):
    """Read a GMM dump written by :func:`dump_gmms` (or by the original diarizer).

    Parameters
    ----------
    path : str or os.PathLike
    xp : namespace or str
    dtype : {'float32', 'float64'}, optional
        Default: the stored dtype for ``.npz``, float64 for text.

    Returns
    -------
    GMMSet

    Raises
    ------
    InputError
        The file is missing or malformed (the message names the line).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError(path, "GMM file does not exist")
    if path.endswith(".npz"):
        try:
            with np.load(path, allow_pickle=False) as z:
                d = {k: z[k] for k in z.files}
        except (OSError, ValueError) as exc:
            raise InputError(path, f"not a readable .npz GMM file ({exc})") from None
        need = {"weights", "means", "covariances", "n_components", "covariance_type"}
        if not need <= set(d):
            raise InputError(path, f"missing arrays {sorted(need - set(d))}")
        return GMMSet(d["weights"], d["means"], d["covariances"], d["n_components"],
                      str(d["covariance_type"]), xp=xp,
                      dtype=dtype if dtype is not None else d["means"].dtype.name,
                      reg_covar=float(d.get("reg_covar", 0.0)), var_floor=d.get("var_floor"),
                      precisions_cholesky=d.get("precisions_cholesky"))
    with open(path, encoding="utf-8") as fh:
        lines = [ln.strip() for ln in fh]
    return _parse_text(path, lines, xp=xp, dtype=dtype)


def _parse_text(path, lines, *, xp, dtype):
    pos = 0
    last = 0  # index of the line last taken (for errors raised while converting it)

    def fail(problem, at=None):
        raise InputError(path, f"line {(pos if at is None else at) + 1}: {problem}")

    def take(prefix):
        nonlocal pos, last
        while pos < len(lines) and not lines[pos]:
            pos += 1
        if pos >= len(lines) or not lines[pos].startswith(prefix):
            fail(f"expected '{prefix} ...', got {lines[pos] if pos < len(lines) else 'EOF'!r}")
        rest = lines[pos][len(prefix):].strip()
        last = pos
        pos += 1
        return rest

    def peek(prefix):
        nonlocal pos
        while pos < len(lines) and not lines[pos]:
            pos += 1
        return pos < len(lines) and lines[pos].startswith(prefix)

    try:
        G = int(take("Number of clusters:"))
        ctype, var_floor, reg = "diag", None, 0.0
        if peek("Covariance type:"):
            ctype = take("Covariance type:")
        if peek("Variance floor:"):
            var_floor = [float(v) for v in take("Variance floor:").split()]
        if peek("Reg covar:"):
            reg = float(take("Reg covar:"))
        full = ctype == "full"
        weights, means, covs, sizes = [], [], [], []
        for g in range(G):
            if int(take("Cluster")) != g:
                fail(f"expected cluster {g}")
            M = int(take("Number of Gaussians:"))
            sizes.append(M)
            for _ in range(M):
                take("Gaussian")
                weights.append(float(take("Weight:")))
                mu, var = [], []
                while peek("Feature"):
                    parts = take("Feature").split()
                    if len(parts) != 5 or parts[1] != "Mean" or parts[3] != "Var":
                        fail("expected 'Feature <f> Mean <mu> Var <var>'")
                    mu.append(float(parts[2]))
                    var.append(float(parts[4]))
                means.append(mu)
                if full:
                    rows = []
                    for f in range(len(mu)):
                        row = take(f"Covariance {f}:").split()
                        rows.append([float(c) for c in row])
                    covs.append(rows)
                else:
                    covs.append(var)
    except ValueError as exc:
        fail(f"malformed number ({exc})", at=last)
    try:
        return GMMSet(np.array(weights), np.array(means), np.array(covs), sizes, ctype, xp=xp,
                      dtype=dtype, reg_covar=reg, var_floor=var_floor)
    except (InputError, ValueError) as exc:
        raise InputError(path, f"inconsistent GMM dump ({exc})") from None
