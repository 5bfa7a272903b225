import librosa
import numpy as np
import pytest

import diarizer.features.mfcc as mfcc_mod
from diarizer.features.mfcc import frame_samples, log_energy, mfcc, n_frames


def _librosa_mfcc(y, sr, n_mfcc, win_n, hop_n, n_mels, top_db=None, **kw):
    """librosa's MFCC on our frames: frame i = y[i*hop : i*hop + win] (see mfcc.py's docstring).

    librosa centres a win_n window inside each n_fft frame, so we shift the signal right by
    (n_fft - win_n) // 2 samples and zero-pad the end to our frame count.
    """
    n_fft = 1 << int(np.ceil(np.log2(win_n)))
    off = (n_fft - win_n) // 2
    nf = -(-y.size // hop_n)
    total = (nf - 1) * hop_n + n_fft
    ypad = np.zeros(total, dtype=np.float64)
    ypad[off:off + y.size] = y
    common = dict(sr=sr, n_fft=n_fft, hop_length=hop_n, win_length=win_n, window="hann",
                  center=False, n_mels=n_mels, **kw)
    if top_db == "librosa_default":
        return librosa.feature.mfcc(y=ypad, n_mfcc=n_mfcc + 1, **common).T
    S = librosa.power_to_db(librosa.feature.melspectrogram(y=ypad, power=2.0, **common),
                            top_db=None)
    return librosa.feature.mfcc(S=S, n_mfcc=n_mfcc + 1).T


@pytest.mark.parametrize("n,expected", [(1, 1), (159, 1), (160, 1), (161, 2), (480, 3),
                                        (481, 4), (16000, 100)])
def test_n_frames_is_ceil_of_samples_over_hop(n, expected):
    assert n_frames(n, 16000, 0.01) == expected
    y = np.ones(n, dtype=np.float32)
    assert log_energy(y).shape == (expected,)
    assert mfcc(y).shape == (expected, 19)


def test_frame_samples():
    assert frame_samples(16000, 0.03, 0.01) == (480, 160)
    assert frame_samples(8000, 0.025, 0.01) == (200, 80)
    with pytest.raises(ValueError, match="window must be >= hop"):
        frame_samples(16000, 0.005, 0.01)
    with pytest.raises(ValueError, match="at least one sample"):
        frame_samples(16000, 0.03, 0.00001)


def test_log_energy_hand_values():
    # 480 ones: frame 0 sees 480 ones, frame 1 sees 320 (+160 padded zeros), frame 2 sees 160
    e = log_energy(np.ones(480, dtype=np.float32))
    np.testing.assert_allclose(e, np.log([480.0, 320.0, 160.0]), rtol=1e-6)
    z = np.zeros(800, dtype=np.float32)
    z[0] = 2.0
    np.testing.assert_allclose(log_energy(z), [np.log(4.0)] + [np.log(1e-10)] * 4, rtol=1e-6)


@pytest.mark.parametrize("k", [0, 159, 160, 479, 480, 1000, 1599])
def test_frame_i_covers_samples_i_hop_to_i_hop_plus_win(k):
    y = np.zeros(1600, dtype=np.float32)
    y[k] = 1.0
    lit = np.flatnonzero(log_energy(y) > -20).tolist()
    assert lit == [i for i in range(10) if i * 160 <= k < i * 160 + 480]


@pytest.mark.parametrize("include_c0", [False, True])
@pytest.mark.parametrize("sr,n_mfcc,n_mels,window", [(16000, 19, 40, 0.03), (8000, 12, 24, 0.025),
                                                     (16000, 13, 64, 0.02)])
def test_matches_librosa_mfcc(rng, include_c0, sr, n_mfcc, n_mels, window):
    n = int(sr * 1.2) + 37
    t = np.arange(n) / sr
    y = 0.1 * rng.standard_normal(n) + 0.3 * np.sin(2 * np.pi * 440 * t) * (t > 0.5)
    ours = mfcc(y.astype(np.float32), sr, n_mfcc=n_mfcc, window=window, n_mels=n_mels,
                include_c0=include_c0)
    win_n, hop_n = frame_samples(sr, window, 0.01)
    ref = _librosa_mfcc(y, sr, n_mfcc, win_n, hop_n, n_mels)
    if not include_c0:
        ref = ref[:, 1:]
    assert ours.dtype == np.float32
    assert ours.shape == ref.shape == (-(-n // hop_n), n_mfcc + include_c0)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=2e-3 * np.abs(ref).max() / 100)


def test_equals_plain_librosa_mfcc_when_range_is_below_80_db(rng):
    y = (0.1 * rng.standard_normal(8000)).astype(np.float32)
    ours = mfcc(y)
    ref = _librosa_mfcc(y.astype(np.float64), 16000, 19, 480, 160, 40, top_db="librosa_default")
    np.testing.assert_allclose(ours, ref[:, 1:], rtol=1e-4, atol=1e-3)


def test_no_top_db_clipping(rng):
    # digital silence in the second half: librosa clips it at max - 80 dB, we floor at -100 dB
    y = np.zeros(16000, dtype=np.float32)
    y[:8000] = 0.5 * rng.standard_normal(8000)
    ours = mfcc(y, include_c0=True)
    assert ours[-5, 0] == pytest.approx(-100.0 * np.sqrt(40), rel=1e-5)  # c0 of a flat -100 dB
    np.testing.assert_allclose(ours[-5, 1:], 0.0, atol=1e-4)
    ref = _librosa_mfcc(y.astype(np.float64), 16000, 19, 480, 160, 40)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=2e-3)


def test_blocks_give_the_same_result(rng, monkeypatch):
    # block size only changes how the float32 matrix products group rows: last-digit rounding
    y = (0.1 * rng.standard_normal(5000)).astype(np.float32)
    whole_m, whole_e = mfcc(y), log_energy(y)
    gen = mfcc_mod._frame_blocks
    monkeypatch.setattr(mfcc_mod, "_frame_blocks", lambda y, w, h: gen(y, w, h, block_frames=7))
    np.testing.assert_allclose(mfcc(y), whole_m, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(log_energy(y), whole_e)


def test_c0_is_the_first_column(rng):
    y = (0.1 * rng.standard_normal(4000)).astype(np.float32)
    with_c0 = mfcc(y, include_c0=True)
    np.testing.assert_allclose(with_c0[:, 1:], mfcc(y), rtol=1e-5, atol=1e-5)
    assert with_c0.shape == (25, 20)


@pytest.mark.parametrize("n", [1, 2, 3, 200, 400, 480, 512, 551, 1103])
def test_hann_window_is_bit_identical_to_scipy(n):
    import scipy.signal

    expected = scipy.signal.get_window("hann", n, fftbins=True)
    got = mfcc_mod.hann_window(n)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("sr,n_fft,n_mels,fmin,fmax", [
    (16000, 512, 40, 0.0, None), (8000, 256, 24, 0.0, None), (16000, 512, 64, 0.0, None),
    (16000, 1024, 40, 133.33, 6855.5), (44100, 2048, 128, 20.0, None),
    (22050, 512, 40, 1200.0, 9000.0),
])
def test_mel_filterbank_is_bit_identical_to_librosa(sr, n_fft, n_mels, fmin, fmax):
    expected = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    got = mfcc_mod.mel_filterbank(sr, n_fft, n_mels, fmin, fmax)
    assert got.dtype == expected.dtype == np.float32
    np.testing.assert_array_equal(got, expected)


def test_plan_is_cached_and_read_only():
    a = mfcc_mod._mfcc_plan(16000, 19, 0.03, 0.01, 40, False)
    assert mfcc_mod._mfcc_plan(16000, 19, 0.03, 0.01, 40, False) is a
    assert a.dct.shape == (40, 19) and a.mel2.shape == (2 * 257, 40)
    with pytest.raises(ValueError, match="read-only"):
        a.window[0] = 1.0


def test_dct_matrix_is_scipy_orthonormal_dct(rng):
    import scipy.fft

    x = rng.standard_normal((5, 40))
    ref = scipy.fft.dct(x, type=2, norm="ortho", axis=1)
    np.testing.assert_allclose(x @ mfcc_mod._dct_matrix(40, 0, 40), ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(x @ mfcc_mod._dct_matrix(40, 1, 20), ref[:, 1:20], atol=1e-12)


def test_import_loads_neither_scipy_signal_nor_librosa():
    import subprocess
    import sys

    code = ("import sys, diarizer.features.mfcc, diarizer.features.stream, diarizer.io.audio;"
            "print(sorted(m for m in ('scipy.signal', 'librosa', 'soxr') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_bad_input():
    with pytest.raises(ValueError, match="1-D signal"):
        mfcc(np.zeros((10, 2)))
    with pytest.raises(ValueError, match="at least one sample"):
        log_energy(np.zeros(0))
    with pytest.raises(ValueError, match=r"n_mfcc must be in \[1, n_mels - 1\]"):
        mfcc(np.ones(1000), n_mfcc=40, n_mels=40)
    with pytest.raises(ValueError, match="window must be >= hop"):
        mfcc(np.ones(1000), window=0.005)
