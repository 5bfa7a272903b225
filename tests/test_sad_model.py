import logging
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from synth import make_meeting  # noqa: E402

from diarizer.features.mfcc import log_energy, mfcc  # noqa: E402
from diarizer.features.sad import (  # noqa: E402
    _dilate,
    _model_features,
    energy_sad,
    mask_to_runs,
    model_sad,
)
from diarizer.io.audio import read_audio  # noqa: E402


def _score(mask, ref):
    return np.count_nonzero(mask & ~ref), np.count_nonzero(~mask & ref)


@pytest.fixture(scope="module")
def meeting(tmp_path_factory):
    """A 30 s two-speaker synthetic meeting: (MFCC, log-energy, reference speech mask)."""
    path = tmp_path_factory.mktemp("sad") / "m.wav"
    ref_turns = make_meeting(path, seconds=30, n_speakers=2, seed=4)
    y, _ = read_audio(path)
    e, X = log_energy(y), mfcc(y)
    ref = np.zeros(e.size, dtype=bool)
    for a, b, _ in ref_turns:
        ref[int(round(a * 100)):int(round(b * 100))] = True
    return X, e, ref


def test_model_sad_finds_the_turns(meeting):
    X, e, ref = meeting
    mask = model_sad(X, e)
    fa, miss = _score(mask, ref)
    assert mask.dtype == bool and mask.shape == e.shape
    assert (fa + miss) / ref.sum() < 0.02
    # it starts from the energy detector and is not worse than it on this easy case
    fa0, miss0 = _score(energy_sad(e), ref)
    assert fa + miss <= fa0 + miss0


def test_model_sad_unclipped_llr_extended_every_turn(meeting):
    # regression: the moving average of the raw LLR let loud speech frames (LLR of tens) pull
    # the average above 0 in the pause after a turn, so every turn grew by a few frames
    X, e, ref = meeting
    fa_clipped, _ = _score(model_sad(X, e), ref)
    fa_raw, _ = _score(model_sad(X, e, clip=None), ref)
    assert fa_clipped < 20  # at most a few frames in all (of ~2600 speech frames)
    assert fa_raw > 5 * fa_clipped


def test_model_sad_sampled_training_agrees_with_full(meeting):
    X, e, _ = meeting
    full = model_sad(X, e, max_train=10**6)
    sampled = model_sad(X, e, max_train=500)
    assert np.mean(full == sampled) > 0.99


def test_model_sad_on_array_api_strict_matches_numpy(meeting):
    X, e, _ = meeting
    a = model_sad(X, e, backend="numpy")
    b = model_sad(X, e, backend="array_api_strict")
    assert np.mean(a == b) > 0.999


@pytest.mark.parametrize("tol,rounds", [(1.0, 1), (0.0, 3)])
def test_model_sad_stops_when_decisions_stop_changing(meeting, caplog, tol, rounds):
    # tol=1: the first round always changes fewer than all frames -> stop after it;
    # tol=0: "fewer than 0 changes" never holds -> all `iterations` rounds run
    X, e, _ = meeting
    with caplog.at_level(logging.DEBUG, logger="diarizer.features.sad"):
        model_sad(X, e, iterations=3, tol=tol)
    logged = [r.getMessage() for r in caplog.records if "model SAD round" in r.getMessage()]
    assert len(logged) == rounds
    assert logged[-1].startswith(f"model SAD round {rounds}:")


def test_model_features_are_standardised_on_the_sample():
    rng = np.random.default_rng(0)
    X = rng.normal(3.0, 2.0, size=(400, 3)).astype(np.float32)
    e = np.cumsum(rng.standard_normal(400))
    rows = np.arange(0, 400, 4)
    F = _model_features(X, e, rows)
    assert F.shape == (400, 5) and F.dtype == np.float32
    np.testing.assert_allclose(F[rows].mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(F[rows].std(axis=0), 1.0, rtol=1e-4)
    # column 3 is the log-energy, column 4 its central difference (e[t+1] - e[t-1]) / 2
    d = np.concatenate([[e[1] - e[0]], (e[2:] - e[:-2]) / 2, [e[-1] - e[-2]]])
    np.testing.assert_allclose(F[:, 4], (d - d[rows].mean()) / d[rows].std(), rtol=1e-4,
                               atol=1e-4)
    np.testing.assert_allclose(F[:, 3], (e - e[rows].mean()) / e[rows].std(), rtol=1e-4,
                               atol=1e-4)


def test_model_sad_single_class_falls_back_to_energy():
    rng = np.random.default_rng(0)
    e = np.full(500, 5.0) + 0.01 * rng.standard_normal(500)
    X = rng.standard_normal((500, 4))
    assert model_sad(X, e).all()  # no contrast: everything is speech, nothing to train


@pytest.mark.parametrize("X,e,kw,match", [
    (np.zeros((10, 3)), np.zeros(11), {}, r"Got \(10, 3\) and \(11,\) instead"),
    (np.zeros(10), np.zeros(10), {}, "X must be of shape"),
    (np.zeros((10, 3)), np.zeros(10), {"iterations": 0}, "iterations=0"),
    (np.zeros((10, 3)), np.zeros(10), {"max_train": 50}, "max_train=50"),
    (np.zeros((10, 3)), np.zeros(10), {"clip": -1.0}, "clip=-1.0"),
    (np.zeros((10, 3)), np.zeros(10), {"smooth": 0}, "smooth=0"),
    (np.zeros((10, 3)), np.zeros(10), {"pad": -0.1}, "pad=-0.1"),
])
def test_model_sad_rejects_bad_input(X, e, kw, match):
    with pytest.raises(ValueError, match=match):
        model_sad(X, e, **kw)


def _m(s):
    return np.array([c == "#" for c in s], dtype=bool)


@pytest.mark.parametrize("raw,width,expected", [
    ("....#....", 2, "..#####.."),
    ("#.......#", 2, "###...###"),  # clipped at both ends
    ("..#..#..", 1, ".######."),  # a 2-frame gap closes when both runs grow by 1
    ("..#...#..", 1, ".###.###."),  # a 3-frame gap keeps 1 frame
    ("..#....#.", 1, ".###..###"),
    ("..#.#", 0, "..#.#"),
    ("", 3, ""),
])
def test_dilate(raw, width, expected):
    assert _dilate(_m(raw), width).tolist() == _m(expected).tolist()


def test_model_sad_pad_grows_every_run(meeting):
    X, e, _ = meeting
    plain = model_sad(X, e)
    padded = model_sad(X, e, pad=0.05)
    assert not (plain & ~padded).any()  # padding only adds speech
    for s, t in zip(*[a[v] for a, v in [(x, mask_to_runs(plain)[2])
                                         for x in mask_to_runs(plain)[:2]]]):
        assert padded[max(s - 5, 0):min(t + 5, e.size)].all()  # 5 frames each side
    # turns are separated by more than 0.3 s + 2 * 0.05 s here, so nothing merges and each
    # interior run edge moved by exactly 5 frames
    assert padded.sum() - plain.sum() == 10 * int(mask_to_runs(plain)[2].sum()) - (
        5 if plain[0] else 0) - (5 if plain[-1] else 0)
