import numpy as np
import pytest

from diarizer.cli import main
from diarizer.exceptions import ConfigError, InputError
from diarizer.io.htk import write_htk
from diarizer.io.rttm import read_rttm
from diarizer.pipeline import diarize

TURN = 1000  # frames (10 s)


def two_speakers(n_turns=6, d=8, seed=0):
    """Two well-separated Gaussians alternating in long turns; returns X and the true labels."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(n_turns) % 2, TURN)
    centres = np.stack([np.zeros(d), np.full(d, 6.0)])
    X = centres[labels] + rng.standard_normal((labels.size, d))
    return X.astype(np.float32), labels


@pytest.mark.parametrize("resegmentation", ["viterbi", "majority"])
def test_two_speakers_found_with_boundaries_within_one_window(resegmentation):
    X, truth = two_speakers()
    # Exact Gaussian data has no model mismatch: two clusters of the same Gaussian score a
    # delta-BIC of 0 +/- noise (real speech gains clearly), so a small merge tolerance is needed.
    result = diarize(X, initial_clusters=8, M_mfcc=3, seg_length=250, merge_tolerance=0.05,
                     resegmentation=resegmentation)
    assert result.n_speakers == 2
    assert [t.label for t in result.turns] == ["spk00", "spk01"] * 3
    starts = [t.start for t in result.turns]
    for got, want in zip(starts, range(0, truth.size, TURN)):
        assert abs(got - want) <= 250
    assert result.turns[-1].end == truth.size


def test_turns_cover_speech_only_and_map_back(tmp_path):
    X, _ = two_speakers(n_turns=4)
    path = tmp_path / "a.htk"
    write_htk(path, X, samp_period=100000, parm_kind="USER")
    spnsp = tmp_path / "a.spch"
    # speech: frames 0..1499 and 2000..3999 (inclusive ends, the original's rule)
    spnsp.write_text("a 1 0.00 14.99\na 1 20.00 39.99\n")
    out = tmp_path / "a.rttm"
    assert main(["--mfcc-feats", str(path), "--spnsp-file", str(spnsp), "--output-cluster",
                 str(out), "--initial-clusters", "6", "--M-mfcc", "3"]) == 0
    turns = read_rttm(out)
    assert turns and all(t.uri == "a" for t in turns)
    for t in turns:  # nothing in the non-speech gap [15 s, 20 s)
        assert t.end <= 15.0 + 1e-9 or t.start >= 20.0 - 1e-9
    assert (tmp_path / "a.gmm").read_text().startswith("Number of clusters: ")


def test_frame_period_from_htk_header(tmp_path):
    X, _ = two_speakers(n_turns=2)
    path = tmp_path / "b.htk"
    write_htk(path, X, samp_period=200000, parm_kind="USER")  # 20 ms frames
    out = tmp_path / "b.rttm"
    assert main(["--mfcc-feats", str(path), "--output-cluster", str(out),
                 "--initial-clusters", "4", "--M-mfcc", "2"]) == 0
    turns = read_rttm(out)
    assert max(t.end for t in turns) == pytest.approx(X.shape[0] * 0.02)


def test_deterministic_bytes(tmp_path):
    X, _ = two_speakers(n_turns=4, seed=3)
    path = tmp_path / "c.htk"
    write_htk(path, X + np.float32(0.5) * np.random.default_rng(1).standard_normal(
        X.shape).astype(np.float32))
    outs = []
    for i in range(2):
        out = tmp_path / f"c{i}.rttm"
        assert main(["--mfcc-feats", str(path), "--output-cluster", str(out), "--basename", "c",
                     "--gmm-output", str(tmp_path / f"c{i}.gmm"), "--seed", "7",
                     "--initial-clusters", "6", "--M-mfcc", "3"]) == 0
        outs.append((out.read_bytes(), (tmp_path / f"c{i}.gmm").read_bytes()))
    assert outs[0] == outs[1]


def test_too_few_frames_for_clusters():
    X, _ = two_speakers(n_turns=1)
    with pytest.raises(ConfigError, match="'initial_clusters' .*'M_mfcc'.* need at least"):
        diarize(X[:300], initial_clusters=16, M_mfcc=40)


def test_too_little_speech():
    X, _ = two_speakers(n_turns=1)
    with pytest.raises(InputError, match="s of speech; at least 1 s is needed"):
        diarize(X[:50])


def test_basename_with_space_refused(tmp_path):
    X, _ = two_speakers(n_turns=2)
    with pytest.raises(ConfigError, match="'basename' setting must not contain spaces"):
        diarize(X, basename="a b")


def test_missing_output_dir_fails_before_work(tmp_path, capsys):
    X, _ = two_speakers(n_turns=2)
    path = tmp_path / "d.htk"
    write_htk(path, X)
    code = main(["--mfcc-feats", str(path), "--output-cluster", str(tmp_path / "no" / "d.rttm")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "does not exist" in err[0]


def test_uem_restricts_and_unknown_uri(tmp_path):
    X, _ = two_speakers(n_turns=4)
    path = tmp_path / "e.htk"
    write_htk(path, X)
    uem = tmp_path / "e.uem"
    uem.write_text("e 1 10.0 30.0\n")
    result = diarize(str(path), uem=str(uem), initial_clusters=4, M_mfcc=3)
    assert min(t.start for t in result.turns) >= 1000 and max(t.end for t in result.turns) <= 3000
    uem.write_text("other 1 0 10\n")
    with pytest.raises(InputError, match="no region for meeting 'e'"):
        diarize(str(path), uem=str(uem))


@pytest.mark.parametrize("kw,n_features", [
    ({"deltas": True}, 16), ({"feature_norm": "cmvn"}, 8),
    ({"feature_norm": "cmvn", "norm_window": 300}, 8), ({"feature_norm": "warp"}, 8)])
def test_feature_options(kw, n_features):
    X, _ = two_speakers(n_turns=4)
    result = diarize(X + np.float32(100.0), initial_clusters=4, M_mfcc=2, **kw)
    assert result.gmms.n_features == n_features
    means = result.gmms.to_numpy()["means"]
    if "feature_norm" in kw:  # normalised features: the models sit near the origin
        assert np.abs(means).max() < 10
    else:
        assert np.abs(means[:, :8]).max() > 50


@pytest.mark.parametrize("kw,expected", [
    ({}, 4),  # 60 s of speech / (2 x 15 s) = 2 clusters: no growth above initial_clusters
    ({"ccr_long": 5.0}, 6),  # 60 s / (2 x 5 s) = 6 clusters
    ({"ccr_long": 2.0}, 9),  # 60 s / (2 x 2 s) = 15, capped at max_initial_clusters
    ({"ccr_long": 2.0, "max_initial_clusters": 3}, 4),  # never below initial_clusters
    ({"ccr_long": 5.0, "ccr": 20.0}, 2),  # ccr still lowers the count of short recordings,
    # but not below the automatic minimum of two speakers
    ({"ccr_long": 5.0, "ccr": 20.0, "min_speakers": 1}, 1),
], ids=["default", "grows", "capped", "cap-below", "ccr", "ccr-one-speaker"])
def test_initial_clusters_grow_with_speech(monkeypatch, kw, expected):
    import diarizer.pipeline as pl

    seen = []
    real = pl.agglomerative_clustering

    def spy(X, **k):
        seen.append(k["initial_clusters"])
        return real(X, **k)

    monkeypatch.setattr(pl, "agglomerative_clustering", spy)
    X, _ = two_speakers()  # 6000 frames = 60 s, all speech
    settings = {"initial_clusters": 4, "M_mfcc": 2, "max_initial_clusters": 9, **kw}
    diarize(X, merge_tolerance=0.05, **settings)
    assert seen == [expected]
