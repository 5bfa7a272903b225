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
