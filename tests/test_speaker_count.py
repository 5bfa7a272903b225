import numpy as np
import pytest

from diarizer.exceptions import ConfigError
from diarizer.pipeline import diarize


def three_speakers(seed=0, d=6, turn=600):
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1, 2, 0, 1, 2], turn)
    centres = np.stack([np.zeros(d), np.full(d, 5.0), np.r_[np.full(d // 2, 5.0),
                                                             np.full(d - d // 2, -5.0)]])
    return (centres[labels] + rng.standard_normal((labels.size, d))).astype(np.float32)


SMALL = dict(initial_clusters=6, M_mfcc=2, KL_ntop=0, num_seg_iters_init=1, num_seg_iters=1,
             seg_length=200)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_exact_count(n):
    result = diarize(three_speakers(), num_speakers=n, **SMALL)
    assert result.n_speakers == n


def test_max_count_forces_merges():
    result = diarize(three_speakers(), max_speakers=2, **SMALL)
    assert result.n_speakers <= 2


def test_min_count_stops_merging():
    result = diarize(three_speakers(), min_speakers=4, **SMALL)
    assert result.n_speakers >= 4


def test_initial_clusters_raised_to_max(caplog):
    caplog.set_level("INFO", logger="diarizer")
    result = diarize(three_speakers(), max_speakers=8, **{**SMALL, "initial_clusters": 4})
    assert "initial_clusters raised from 4 to 8" in caplog.text
    assert result.n_speakers <= 8


def test_min_above_max_refused():
    with pytest.raises(ConfigError, match="'min_speakers' setting \\(3\\) must not exceed"):
        diarize(three_speakers(), min_speakers=3, max_speakers=2, **SMALL)


def one_speaker(seed=0, d=6, n=4000):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, d)) * rng.uniform(0.5, 2.0, size=d)).astype(np.float32)


@pytest.mark.parametrize("kw,lo", [
    ({}, 2),  # automatic: a meeting has at least two participants
    ({"max_speakers": 1}, 1),  # the automatic minimum yields to a maximum of one
    ({"max_speakers": 3}, 2),
    ({"min_speakers": 1}, 1),  # recordings that may hold one speaker
    ({"min_speakers": 3}, 3),
    ({"num_speakers": 4}, 4),
])
def test_automatic_minimum_of_two_speakers(kw, lo):
    from diarizer.config import make_settings
    from diarizer.pipeline import _speaker_bounds

    settings = make_settings({"audio": "x.wav", "output_cluster": "x.rttm", **kw})
    assert _speaker_bounds(settings)[0] == lo


def test_one_voice_gives_two_labels_by_default_and_one_with_min_speakers_1():
    X = one_speaker()  # Gaussian frames: merging them needs a tolerance (see test_pipeline)
    assert diarize(X, merge_tolerance=0.05, **SMALL).n_speakers == 2
    assert diarize(X, merge_tolerance=0.05, min_speakers=1, **SMALL).n_speakers == 1
