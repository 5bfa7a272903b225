import librosa
import numpy as np
import pytest
import soundfile as sf

import diarizer.io.audio as audio_mod
from diarizer.exceptions import InputError
from diarizer.io.audio import AudioStream, audio_duration, read_audio


def _sine(freq, sr, seconds, amp=0.5):
    t = np.arange(int(round(sr * seconds))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_mono_16k_pcm16_is_returned_as_decoded(tmp_path, rng):
    y = (0.3 * rng.standard_normal(16000)).clip(-1, 1).astype(np.float32)
    path = tmp_path / "a.wav"
    sf.write(path, y, 16000, subtype="PCM_16")
    out, rate = read_audio(path)
    assert rate == 16000
    assert out.dtype == np.float32 and out.shape == (16000,)
    np.testing.assert_allclose(out, y, atol=1.0 / 32768)
    assert audio_duration(path) == pytest.approx(1.0)


def test_stereo_is_averaged_without_resampling(tmp_path, rng):
    left = (0.2 * rng.standard_normal(8000)).astype(np.float32)
    right = (0.2 * rng.standard_normal(8000)).astype(np.float32)
    path = tmp_path / "st.wav"
    sf.write(path, np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    out, rate = read_audio(path)
    assert rate == 16000
    np.testing.assert_allclose(out, (left + right) / 2, rtol=1e-6, atol=1e-7)


def test_stereo_block_boundaries(tmp_path, rng, monkeypatch):
    monkeypatch.setattr(audio_mod, "_BLOCK_SECONDS", 0.0123)  # 196-sample blocks
    x = (0.2 * rng.standard_normal((1001, 3))).astype(np.float32)
    path = tmp_path / "three.wav"
    sf.write(path, x, 16000, subtype="FLOAT")
    out, _ = read_audio(path)
    np.testing.assert_allclose(out, x.mean(axis=1), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("file_rate,channels", [(44100, 2), (8000, 1), (22050, 1)])
def test_resampled_to_16k(tmp_path, file_rate, channels):
    y = _sine(300.0, file_rate, 1.0)
    data = np.stack([y] * channels, axis=1) if channels > 1 else y
    path = tmp_path / "r.wav"
    sf.write(path, data, file_rate, subtype="FLOAT")
    out, rate = read_audio(path, sample_rate=16000)
    assert rate == file_rate
    assert out.dtype == np.float32
    assert abs(out.size - 16000) <= 1
    expected = _sine(300.0, 16000, 1.0)
    # away from the filter's edge transients the resampled sine is the 16 kHz sine
    np.testing.assert_allclose(out[400:-400], expected[400:out.size - 400], atol=2e-3)


def test_flac_is_read(tmp_path):
    y = _sine(200.0, 16000, 0.5)
    path = tmp_path / "a.flac"
    sf.write(path, y, 16000, subtype="PCM_16")
    out, _ = read_audio(path)
    np.testing.assert_allclose(out, y, atol=2.0 / 32768)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.wav"
    with pytest.raises(InputError, match=r"nope\.wav: file not found$"):
        read_audio(path)
    with pytest.raises(InputError, match="file not found"):
        audio_duration(path)


def test_directory(tmp_path):
    with pytest.raises(InputError, match="is a directory, not an audio file"):
        read_audio(tmp_path)


def test_random_bytes_named_wav(tmp_path, rng):
    path = tmp_path / "junk.wav"
    path.write_bytes(rng.integers(0, 256, 2000, dtype=np.uint8).tobytes())
    with pytest.raises(InputError, match=r"junk\.wav: not a readable audio file \(.+\)$") as info:
        read_audio(path)
    assert "\n" not in str(info.value)
    assert str(path) not in info.value.problem  # the soundfile reason is shortened


def test_zero_samples(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), 16000, subtype="PCM_16")
    with pytest.raises(InputError, match="audio has no samples"):
        read_audio(path)


def test_non_finite_samples_are_counted(tmp_path):
    y = _sine(100.0, 16000, 0.1)
    y[[3, 10, 50]] = [np.nan, np.inf, -np.inf]
    path = tmp_path / "nan.wav"
    sf.write(path, y, 16000, subtype="FLOAT")
    with pytest.raises(InputError, match=r"audio has 3 non-finite samples \(NaN or inf\) of 1600"):
        read_audio(path)


def test_digital_silence(tmp_path):
    path = tmp_path / "silent.wav"
    sf.write(path, np.zeros(16000, dtype=np.float32), 16000, subtype="PCM_16")
    with pytest.raises(InputError, match=r"silent\.wav: audio is silent"):
        read_audio(path)


def test_shorter_than_one_window(tmp_path):
    path = tmp_path / "short.wav"
    sf.write(path, _sine(100.0, 16000, 0.02), 16000, subtype="PCM_16")
    msg = r"shorter than one analysis window \(0\.0200 s < 0\.03 s\)"
    with pytest.raises(InputError, match=msg):
        read_audio(path)
    out, _ = read_audio(path, min_duration=0.01)
    assert out.size == 320


def test_bad_sample_rate_argument(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, _sine(100.0, 16000, 0.1), 16000)
    with pytest.raises(ValueError, match="sample_rate must be a positive int"):
        read_audio(path, sample_rate=0)


@pytest.mark.parametrize("block_seconds", [10.0, 0.0123, 0.25])
@pytest.mark.parametrize("file_rate,channels", [(16000, 1), (16000, 2), (44100, 2), (8000, 1),
                                                (22050, 1), (48000, 3)])
def test_stream_is_bit_identical_to_librosa_resample(tmp_path, rng, file_rate, channels,
                                                     block_seconds):
    n = int(1.3 * file_rate) + 11
    x = (0.2 * rng.standard_normal((n, channels))).astype(np.float32)
    path = tmp_path / "s.wav"
    sf.write(path, x, file_rate, subtype="FLOAT")
    # the oracle: the whole file, channels averaged, then librosa.resample (soxr_hq, fix=True)
    y = sf.read(path, dtype="float32", always_2d=True)[0].mean(axis=1, dtype=np.float32)
    if file_rate != 16000:
        y = librosa.resample(y, orig_sr=file_rate, target_sr=16000, res_type="soxr_hq")
    stream = AudioStream(path, block_seconds=block_seconds)
    assert stream.info is None and (stream.file_rate, stream.channels) == (file_rate, channels)
    blocks = list(stream)
    assert all(b.dtype == np.float32 and b.ndim == 1 for b in blocks)
    np.testing.assert_array_equal(np.concatenate(blocks), y)
    np.testing.assert_array_equal(read_audio(path)[0], y)
    assert stream.info.n_samples == y.size == int(np.ceil(n * 16000 / file_rate))
    assert stream.expected_samples() == y.size  # the WAV header is exact


def test_stream_checks_at_the_end_with_read_audio_messages(tmp_path):
    y = _sine(100.0, 16000, 0.5)
    y[7000] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, y, 16000, subtype="FLOAT")
    stream = AudioStream(path, block_seconds=0.1)
    it = iter(stream)
    first = next(it)  # the blocks before the bad one are yielded
    assert first.size == 1600
    with pytest.raises(InputError, match=r"audio has 1 non-finite samples \(NaN or inf\) of 8000"):
        list(it)
    assert stream.info is None


def test_stream_header_errors_are_immediate(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        AudioStream(tmp_path / "nope.wav")
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), 16000, subtype="PCM_16")
    with pytest.raises(InputError, match="audio has no samples"):
        AudioStream(path)
    sf.write(tmp_path / "a.wav", _sine(100.0, 16000, 0.1), 16000)
    with pytest.raises(ValueError, match="sample_rate must be a positive int"):
        AudioStream(tmp_path / "a.wav", sample_rate=-1)


def test_stream_logs_like_read_audio(tmp_path, caplog):
    path = tmp_path / "a.wav"
    sf.write(path, _sine(100.0, 44100, 0.5), 44100)
    with caplog.at_level("INFO", logger="diarizer.io.audio"):
        list(AudioStream(path))
    assert caplog.messages == [f"{path}: 0.50 s, 1 channel(s), 44100 Hz"]


def test_header_size_hint_may_be_wrong(tmp_path, rng, monkeypatch):
    y = (0.2 * rng.standard_normal(5000)).astype(np.float32)
    path = tmp_path / "a.wav"
    sf.write(path, y, 16000, subtype="FLOAT")
    for hint in (1, 100000):
        monkeypatch.setattr(AudioStream, "expected_samples", lambda self, h=hint: h)
        out, _ = read_audio(path)
        np.testing.assert_array_equal(out, y)
