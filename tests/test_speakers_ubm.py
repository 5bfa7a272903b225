"""Tests of diarizer.speakers.ubm: background model training and its CLI runner."""

import argparse

import numpy as np
import pytest
from speakers_synth import blob_speaker, write_solo

from diarizer.exceptions import ConfigError, InputError
from diarizer.gmm import load_gmms
from diarizer.speakers import train_ubm
from diarizer.speakers.ubm import add_ubm_arguments, expand_sources, run_ubm


def test_ubm_covers_the_speakers(rng):
    data = [(8.0 * np.eye(4)[k] + rng.standard_normal((500, 4))) for k in range(4)]
    ubm, period = train_ubm(data, n_components=4, max_iter=20)
    assert period is None and ubm.n_gmms == 1 and list(ubm.n_components) == [4]
    means = ubm.to_numpy()["means"]
    centres = np.array([X.mean(axis=0) for X in data])
    # every speaker's centre has a component within 0.5 (the blobs are 11 apart)
    d = np.linalg.norm(centres[:, None] - means[None], axis=2)
    assert d.min(axis=1).max() < 0.5


def test_memory_bound_subsamples_evenly(rng, monkeypatch):
    seen = {}
    from diarizer.gmm import GMMSet

    real = GMMSet.initialize.__func__

    def spy(cls, X, *a, **k):
        seen["n"] = X.shape[0]
        return real(cls, X, *a, **k)

    monkeypatch.setattr(GMMSet, "initialize", classmethod(spy))
    train_ubm([blob_speaker(0, 1000, rng), blob_speaker(1, 30, rng)], n_components=2,
              max_frames=200, max_iter=1)
    assert seen["n"] == 100 + 30


def test_ubm_errors(rng):
    with pytest.raises(InputError, match="39 speech frames are too few .* 4 components"):
        train_ubm([blob_speaker(0, 39, rng)], n_components=4)
    with pytest.raises(InputError, match="different feature dimensions"):
        train_ubm([blob_speaker(0, 50, rng), blob_speaker(0, 50, rng, d=3)], n_components=2)
    with pytest.raises(InputError, match="no recordings"):
        train_ubm([], n_components=2)
    with pytest.raises(ConfigError, match="'n_components' must be an int >= 1"):
        train_ubm([blob_speaker(0, 50, rng)], n_components=0)


def test_run_ubm_with_list_file(tmp_path):
    a = write_solo(tmp_path / "a.wav", 0, 2.0, seed=1)
    write_solo(tmp_path / "b.wav", 1, 2.0, seed=2)
    (tmp_path / "all.lst").write_text("# recordings\nb.wav\n")
    assert expand_sources([str(a), str(tmp_path / "all.lst")]) == [str(a),
                                                                   str(tmp_path / "b.wav")]
    assert expand_sources([str(tmp_path)]) == [str(a), str(tmp_path / "b.wav")]
    parser = add_ubm_arguments(argparse.ArgumentParser())
    args = parser.parse_args([str(tmp_path), "-o", str(tmp_path / "ubm.gmm"),
                              "--components", "4", "--iterations", "2"])
    assert run_ubm(args) == 0
    ubm = load_gmms(tmp_path / "ubm.gmm", xp="numpy")
    assert ubm.n_gmms == 1 and ubm.n_features == 19 and list(ubm.n_components) == [4]
    with pytest.raises(InputError, match="missing.wav: no such file"):
        expand_sources([str(tmp_path / "missing.wav")])
    args = parser.parse_args([str(a), "-o", str(tmp_path / "u.gmm"), "--components", "0"])
    with pytest.raises(ConfigError, match="'--components' option must be an int >= 1"):
        run_ubm(args)
