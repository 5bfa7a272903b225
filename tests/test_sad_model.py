import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from synth import make_meeting  # noqa: E402

from diarizer.features.mfcc import log_energy, mfcc  # noqa: E402
from diarizer.features.sad import energy_sad, model_sad  # noqa: E402
from diarizer.io.audio import read_audio  # noqa: E402


def _score(mask, ref):
    return np.count_nonzero(mask & ~ref), np.count_nonzero(~mask & ref)


def test_model_sad_finds_the_turns(tmp_path):
    ref_turns = make_meeting(tmp_path / "m.wav", seconds=30, n_speakers=2, seed=4)
    y, _ = read_audio(tmp_path / "m.wav")
    e, X = log_energy(y), mfcc(y)
    ref = np.zeros(e.size, dtype=bool)
    for a, b, _ in ref_turns:
        ref[int(round(a * 100)):int(round(b * 100))] = True
    mask = model_sad(X, e)
    fa, miss = _score(mask, ref)
    assert mask.dtype == bool and mask.shape == e.shape
    assert (fa + miss) / ref.sum() < 0.05
    # it starts from the energy detector and stays within 1 s of it on this easy case
    fa0, miss0 = _score(energy_sad(e), ref)
    assert fa + miss <= fa0 + miss0 + 100


def test_model_sad_single_class_falls_back_to_energy():
    rng = np.random.default_rng(0)
    e = np.full(500, 5.0) + 0.01 * rng.standard_normal(500)
    X = rng.standard_normal((500, 4))
    assert model_sad(X, e).all()  # no contrast: everything is speech, nothing to train
