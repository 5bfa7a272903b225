import numpy as np
import pytest

from diarizer._xp import to_numpy
from diarizer.exceptions import InputError
from diarizer.gmm import GMMSet, dump_gmms, load_gmms
from diarizer.gmm.serialize import format_gmms


def _set(rng, ctype, dtype="float64", floor=True):
    sizes = [2, 3]
    C, d = 5, 3
    w = np.concatenate([rng.dirichlet(np.ones(m)) for m in sizes])
    mu = rng.normal(size=(C, d)) / 3.0
    if ctype == "diag":
        cov = rng.uniform(0.1, 2.0, size=(C, d))
    else:
        A = rng.normal(size=(C, d, d))
        cov = A @ A.transpose(0, 2, 1) + np.eye(d)
    return GMMSet(w, mu, cov, sizes, ctype, xp="numpy", dtype=dtype, reg_covar=1e-6 if floor else 0,
                  var_floor=[1e-7, 2e-7, 3e-7] if floor else None)


@pytest.mark.parametrize("ext", [".gmm", ".npz"])
@pytest.mark.parametrize("ctype", ["diag", "full"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_round_trip_exact(tmp_path, rng, xp, ext, ctype, dtype):
    s = _set(rng, ctype, dtype)
    path = tmp_path / ("out" + ext)
    dump_gmms(path, s)
    t = load_gmms(path, xp=xp, dtype=dtype)
    a, b = s.to_numpy(), t.to_numpy()
    for k in ("weights", "means", "covariances", "n_components", "var_floor"):
        np.testing.assert_array_equal(a[k], b[k])
        assert a[k].dtype == b[k].dtype
    assert b["covariance_type"] == ctype and b["reg_covar"] == a["reg_covar"]
    np.testing.assert_allclose(to_numpy(t.log_likelihood(np.zeros((2, 3)))),
                               to_numpy(s.log_likelihood(np.zeros((2, 3)))), rtol=1e-6)
    assert not list(tmp_path.glob("*.tmp"))


def test_text_is_the_original_format(rng):
    s = GMMSet([0.25, 0.75], [[0.1, 2.0], [-1.0, 0.5]], [[1.0, 2.0], [0.3, 4.0]], [2], xp="numpy")
    assert format_gmms(s) == (
        "Number of clusters: 1\nCluster 0\nNumber of Gaussians: 2\n"
        "Gaussian: 0\nWeight: 0.25\nFeature 0 Mean 0.1 Var 1.0\nFeature 1 Mean 2.0 Var 2.0\n"
        "Gaussian: 1\nWeight: 0.75\nFeature 0 Mean -1.0 Var 0.3\nFeature 1 Mean 0.5 Var 4.0\n")


def test_full_text_lines(rng):
    s = GMMSet([1.0], [[0.0, 1.0]], [[[2.0, 0.5], [0.5, 1.0]]], [1], "full", xp="numpy")
    text = format_gmms(s)
    assert "Covariance type: full\n" in text
    assert "Feature 1 Mean 1.0 Var 1.0\nCovariance 0: 2.0 0.5\nCovariance 1: 0.5 1.0\n" in text


def test_load_errors(tmp_path):
    with pytest.raises(InputError, match="missing.gmm: GMM file does not exist"):
        load_gmms(tmp_path / "missing.gmm", xp="numpy")
    bad = tmp_path / "bad.gmm"
    bad.write_text("Number of clusters: 1\nCluster 0\nNumber of Gaussians: 1\nGaussian: 0\n"
                   "Weight: abc\n")
    with pytest.raises(InputError, match=r"bad.gmm: line 5: malformed number"):
        load_gmms(bad, xp="numpy")
    bad.write_text("Number of clusters: 2\nCluster 0\nNumber of Gaussians: 1\nGaussian: 0\n"
                   "Weight: 1.0\nFeature 0 Mean 0.0 Var 1.0\n")
    with pytest.raises(InputError, match=r"line 7: expected 'Cluster \.\.\.', got 'EOF'"):
        load_gmms(bad, xp="numpy")
    with pytest.raises(InputError, match="output directory .* does not exist"):
        dump_gmms(tmp_path / "nodir" / "x.gmm",
                  GMMSet([1.0], [[0.0]], [[1.0]], [1], xp="numpy"))
