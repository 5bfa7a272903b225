import numpy as np
import pytest
import soundfile as sf

import diarizer.features.stream as stream_mod
from diarizer.exceptions import InputError
from diarizer.features.mfcc import log_energy, mfcc
from diarizer.features.stream import audio_features
from diarizer.io.audio import AudioStream, read_audio

# float32 rounding of the matrix products (rows grouped differently by block)
TOL = dict(rtol=1e-5, atol=5e-5)


def _write(tmp_path, name, data, rate, subtype="FLOAT"):
    path = tmp_path / name
    sf.write(path, data, rate, subtype=subtype)
    return path


def _noise(rng, n, channels=1, amp=0.1):
    x = (amp * rng.standard_normal((n, channels))).astype(np.float32)
    return x[:, 0] if channels == 1 else x


def _oracle(path, **kw):
    y, rate = read_audio(path)
    return mfcc(y, **kw), log_energy(y), y.size, rate


@pytest.mark.parametrize("block_seconds", [10.0, 0.0173, 0.01, 0.0301, 0.5])
@pytest.mark.parametrize("rate,channels,n", [(16000, 1, 16000 * 2 + 37), (44100, 2, 44100 + 999),
                                             (8000, 1, 12345), (22050, 3, 20000)])
def test_equals_mfcc_of_read_audio(tmp_path, rng, rate, channels, n, block_seconds):
    path = _write(tmp_path, "a.wav", _noise(rng, n, channels), rate)
    X_ref, E_ref, n_ref, _ = _oracle(path)
    X, E, info = audio_features(path, block_seconds=block_seconds)
    assert X.dtype == E.dtype == np.float32
    assert X.shape == X_ref.shape == (-(-n_ref // 160), 19)
    np.testing.assert_allclose(X, X_ref, **TOL)
    np.testing.assert_array_equal(E, E_ref)
    assert (info.file_rate, info.channels, info.sample_rate, info.n_samples) == (
        rate, channels, 16000, n_ref)
    assert info.duration == pytest.approx(n / rate)


def test_pcm16_with_tones_and_silence(tmp_path, rng):
    # a 44.1 kHz stereo PCM file whose silent stretch lies across read-block boundaries
    sr = 44100
    t = np.arange(3 * sr) / sr
    y = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.01 * rng.standard_normal(t.size)
    y[sr // 2:sr + 1234] = 0.0
    path = _write(tmp_path, "t.wav", np.stack([y, 0.5 * y], axis=1), sr, subtype="PCM_16")
    X_ref, E_ref, _, _ = _oracle(path, include_c0=True)
    X, E, _ = audio_features(path, include_c0=True, block_seconds=0.2)
    np.testing.assert_allclose(X, X_ref, rtol=1e-5, atol=2e-4)  # c0 reaches -600 in silence
    np.testing.assert_array_equal(E, E_ref)


def test_other_frame_settings(tmp_path, rng):
    path = _write(tmp_path, "a.wav", _noise(rng, 8000 * 2 + 5), 8000)
    y, _ = read_audio(path, sample_rate=8000)
    kw = dict(sample_rate=8000, n_mfcc=12, window=0.025, hop=0.01, n_mels=24)
    X, E, info = audio_features(path, block_seconds=0.0777, **kw)
    np.testing.assert_allclose(X, mfcc(y, **kw), **TOL)
    np.testing.assert_array_equal(E, log_energy(y, 8000, 0.025, 0.01))
    assert X.shape == (201, 12) and info.n_samples == 16005


def test_energy_false_returns_none(tmp_path, rng):
    path = _write(tmp_path, "a.wav", _noise(rng, 4000), 16000)
    X, E, _ = audio_features(path, energy=False)
    assert E is None and X.shape == (25, 19)


def test_timings_are_filled(tmp_path, rng):
    path = _write(tmp_path, "a.wav", _noise(rng, 4000), 16000)
    timings = {"sad": 1.0}
    audio_features(path, timings=timings, block_seconds=0.05)
    assert sorted(timings) == ["mfcc", "read", "sad"] and timings["sad"] == 1.0
    assert timings["read"] > 0 and timings["mfcc"] > 0


def test_shorter_than_one_window_frame_count(tmp_path, rng):
    # 0.02 s: one partial window, 2 frames, all from the zero-padded tail
    path = _write(tmp_path, "s.wav", _noise(rng, 320), 16000)
    X, E, info = audio_features(path, min_duration=0.01)
    y, _ = read_audio(path, min_duration=0.01)
    assert X.shape == (2, 19) and info.n_samples == 320
    np.testing.assert_allclose(X, mfcc(y), **TOL)
    np.testing.assert_array_equal(E, log_energy(y))


@pytest.mark.parametrize("hint", [1, 10**6])
def test_wrong_size_hint_still_gives_the_frames(tmp_path, rng, monkeypatch, hint):
    path = _write(tmp_path, "a.wav", _noise(rng, 16000 + 7), 16000)
    X_ref, E_ref, _, _ = _oracle(path)
    monkeypatch.setattr(AudioStream, "expected_samples", lambda self: hint)
    X, E, _ = audio_features(path, block_seconds=0.05)
    assert X.shape == X_ref.shape and E.shape == E_ref.shape
    np.testing.assert_allclose(X, X_ref, **TOL)
    np.testing.assert_array_equal(E, E_ref)


def test_blocks_stay_bounded(tmp_path, rng):
    # the signal is never held whole: no yielded block is much longer than a read block
    path = _write(tmp_path, "a.wav", _noise(rng, 44100 * 3, 2), 44100)
    sizes = [b.size for b in AudioStream(path, block_seconds=0.1)]
    assert sum(sizes) == 48000
    assert max(sizes) <= 1600 + 512  # 0.1 s at 16 kHz plus at most the resampler's delay


def test_frame_blocks_smaller_than_read_blocks(tmp_path, rng, monkeypatch):
    path = _write(tmp_path, "a.wav", _noise(rng, 9000), 16000)
    X_ref, E_ref, _, _ = _oracle(path)
    monkeypatch.setattr(stream_mod, "_BLOCK_FRAMES", 7)
    X, E, _ = audio_features(path)
    np.testing.assert_allclose(X, X_ref, **TOL)
    np.testing.assert_array_equal(E, E_ref)


# ------------------------------------------------------------------ errors: read_audio's messages

def test_missing_and_directory(tmp_path):
    with pytest.raises(InputError, match=r"nope\.wav: file not found$"):
        audio_features(tmp_path / "nope.wav")
    with pytest.raises(InputError, match="is a directory, not an audio file"):
        audio_features(tmp_path)


def test_random_bytes(tmp_path, rng):
    path = tmp_path / "junk.wav"
    path.write_bytes(rng.integers(0, 256, 2000, dtype=np.uint8).tobytes())
    with pytest.raises(InputError, match=r"junk\.wav: not a readable audio file \(.+\)$"):
        audio_features(path)


def test_zero_samples(tmp_path):
    path = _write(tmp_path, "e.wav", np.zeros(0, np.float32), 16000, "PCM_16")
    with pytest.raises(InputError, match="audio has no samples"):
        audio_features(path)


@pytest.mark.parametrize("rate", [16000, 44100])
def test_non_finite_counted_over_all_blocks(tmp_path, rng, rate):
    y = _noise(rng, rate)
    y[[3, rate // 2, rate - 1]] = [np.nan, np.inf, -np.inf]  # first, middle and last block
    path = _write(tmp_path, "nan.wav", y, rate)
    msg = rf"nan\.wav: audio has 3 non-finite samples \(NaN or inf\) of {rate}$"
    with pytest.raises(InputError, match=msg):
        audio_features(path, block_seconds=0.1)
    with pytest.raises(InputError, match=msg):
        read_audio(path)


def test_silence_is_checked_over_all_blocks(tmp_path):
    y = np.zeros(16000, np.float32)
    path = _write(tmp_path, "silent.wav", y, 16000, "PCM_16")
    with pytest.raises(InputError, match=r"silent\.wav: audio is silent \(every sample is zero\)"):
        audio_features(path, block_seconds=0.1)
    y[-1] = 0.5  # one sample in the last block is enough
    path = _write(tmp_path, "last.wav", y, 16000, "PCM_16")
    X, _, _ = audio_features(path, block_seconds=0.1)
    assert X.shape == (100, 19)


def test_shorter_than_min_duration(tmp_path, rng):
    path = _write(tmp_path, "short.wav", _noise(rng, 320), 16000, "PCM_16")
    msg = r"shorter than one analysis window \(0\.0200 s < 0\.03 s\)"
    with pytest.raises(InputError, match=msg):
        audio_features(path)


def test_bad_arguments(tmp_path, rng):
    path = _write(tmp_path, "a.wav", _noise(rng, 1600), 16000)
    with pytest.raises(ValueError, match="sample_rate must be a positive int"):
        audio_features(path, sample_rate=0)
    with pytest.raises(ValueError, match=r"n_mfcc must be in \[1, n_mels - 1\]"):
        audio_features(path, n_mfcc=40, n_mels=40)
    with pytest.raises(ValueError, match="window must be >= hop"):
        audio_features(path, window=0.005)
