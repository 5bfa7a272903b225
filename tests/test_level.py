"""Level normalisation (setting audio_level): the speech level estimate and the gains."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

sys.path.insert(0, str(Path(__file__).parent))
from synth import make_meeting  # noqa: E402

from diarizer.cli import main  # noqa: E402
from diarizer.config import make_settings  # noqa: E402
from diarizer.io.audio import read_audio  # noqa: E402
from diarizer.io.level import file_gains, level_gain, speech_level  # noqa: E402

STEP = 20 * math.log10(2)


def _sine(seconds, amp, sr=8000, f=500.0):
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * f * t)).astype(np.float32)


@pytest.mark.parametrize("seconds", [20.0, 300.0])  # read whole / 64 excerpts by seeking
def test_speech_level_of_a_sine(tmp_path, seconds):
    path = tmp_path / "s.wav"
    sf.write(path, _sine(seconds, 0.1), 8000, subtype="FLOAT")
    # a sine of amplitude A has mean square A**2 / 2 in every 10 ms frame of whole periods
    assert speech_level(path) == pytest.approx(20 * math.log10(0.1) - 10 * math.log10(2), abs=0.05)


def test_speech_level_reads_the_whole_file_when_it_cannot_seek(tmp_path, monkeypatch):
    path = tmp_path / "s.wav"
    y = _sine(300, 0.1)
    y[: 8000 * 150] *= 0.01  # the excerpts and the whole file agree only roughly here
    sf.write(path, y, 8000, subtype="FLOAT")
    by_excerpts = speech_level(path)

    monkeypatch.setattr(sf.SoundFile, "seekable", lambda self: False)
    whole = speech_level(path)
    frames = y.reshape(-1, 80).astype(np.float64)
    expect = 10 * math.log10(np.percentile((frames ** 2).mean(axis=1), 95))
    assert whole == pytest.approx(expect, abs=1e-6)
    assert by_excerpts == pytest.approx(expect, abs=0.5)


def test_speech_level_is_the_loud_frames_and_ignores_digital_silence(tmp_path):
    path = tmp_path / "s.wav"
    y = np.zeros(16000 * 30, dtype=np.float32)
    y[16000 * 10:16000 * 14] = _sine(4, 0.5, sr=16000)  # 4 s of tone in 30 s of zeros
    sf.write(path, y, 16000, subtype="FLOAT")
    assert speech_level(path) == pytest.approx(20 * math.log10(0.5) - 10 * math.log10(2), abs=0.05)
    sf.write(path, np.zeros(16000, dtype=np.float32), 16000, subtype="FLOAT")
    assert speech_level(path) is None
    assert level_gain(None, -26.0) == 1.0


@pytest.mark.parametrize("level", [-100.0, -61.3, -40.0, -29.0, -26.0, -23.1, -10.0, 3.0])
def test_level_gain_is_a_power_of_two_within_3_db(level):
    g = level_gain(level, -26.0)
    k = math.log2(g)
    assert k == int(k)
    assert abs(level + 20 * math.log10(g) - (-26.0)) <= STEP / 2 + 1e-9


def test_gain_scales_the_decoded_samples(tmp_path):
    path = tmp_path / "s.wav"
    sf.write(path, _sine(2, 0.3, sr=22050), 22050, subtype="FLOAT")  # resampled to 16 kHz
    y, _ = read_audio(path)
    y8, _ = read_audio(path, gain=8.0)
    assert np.array_equal(y8, y * np.float32(8.0))


@pytest.mark.parametrize("level", [-80.0, -40.0, -26.0, -10.0])
def test_gains_for_the_features_and_for_the_vad(level):
    target = -32.0
    g = level_gain(level, target, amplify_only=True)
    assert g >= 1.0 and (g == 1.0) == (level > target - STEP / 2)
    exact = level_gain(level, target, exact=True)
    assert level + 20 * math.log10(exact) == pytest.approx(target)


TARGET = make_settings({}, check_required=False).audio_level


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """One synthetic meeting as float WAVs at three levels: as made, 24 dB and 60 dB lower."""
    d = tmp_path_factory.mktemp("level")
    make_meeting(d / "m.wav", seconds=30, n_speakers=2, seed=3)
    y, sr = sf.read(d / "m.wav", dtype="float32")
    for name, shift in (("asmade", 0), ("quiet", -4), ("quieter", -10)):
        sf.write(d / f"{name}.wav", y * np.float32(2.0 ** shift), sr, subtype="FLOAT")
    return d


def _run(d, name, *extra):
    out = d / f"{name}{'_'.join(extra)}.rttm"
    rc = main(["--audio", str(d / f"{name}.wav"), "--basename", "m", "--output-cluster", str(out),
               *extra])
    assert rc == 0
    return out.read_bytes()


def test_quiet_recordings_give_the_same_result_whatever_their_level(recorded):
    d = recorded
    # both lie below the target: raised by exact powers of two to the same samples
    assert speech_level(d / "quiet.wav") < TARGET - STEP
    quiet, quieter = _run(d, "quiet"), _run(d, "quieter")
    assert quiet == quieter and quiet.count(b"SPEAKER") > 2
    # without the normalisation the WebRTC VAD finds (almost) no speech in the quieter one
    out = d / "raw.rttm"
    rc = main(["--audio", str(d / "quieter.wav"), "--basename", "m", "--output-cluster",
               str(out), "--audio-level", "0"])
    assert rc != 0 or out.read_bytes() != quiet


def test_louder_recordings_keep_their_samples_and_the_vad_gets_the_target(recorded, caplog):
    import logging

    d = recorded
    with caplog.at_level(logging.INFO, logger="diarizer.pipeline"):
        _run(d, "asmade", "--audio-level", "0")
    assert "speech level" not in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="diarizer.pipeline"):
        _run(d, "asmade")
    level = speech_level(d / "asmade.wav")
    assert level > TARGET + STEP
    assert f"gain 1 (audio_level {TARGET:g})" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="diarizer.pipeline"):
        _run(d, "quieter")
    level, g, vad_gain = file_gains(d / "quieter.wav", TARGET)
    assert g > 1.0 and f"gain {g:g} (audio_level {TARGET:g})" in caplog.text
    assert level + 20 * math.log10(g * vad_gain) == pytest.approx(TARGET)
    assert file_gains(d / "quieter.wav", 0) == (None, 1.0, 1.0)


def test_webrtc_gain_equals_feeding_scaled_samples():
    pytest.importorskip("webrtcvad")
    from diarizer.features.webrtc import WebRTCStream

    rng = np.random.default_rng(0)
    y = (0.01 * rng.standard_normal(16000 * 3)).astype(np.float32)
    y[16000:32000] += _sine(1, 0.02, sr=16000)
    a, b = WebRTCStream(16000, gain=0.25), WebRTCStream(16000)
    a.feed(y)
    b.feed(y * np.float32(0.25))
    assert np.array_equal(a.decisions(), b.decisions())


@pytest.mark.parametrize("seconds", [20.0, 300.0])  # read whole / 64 excerpts by seeking
def test_level_the_webrtc_vad_hears_is_measured_after_its_highpass(tmp_path, seconds):
    path = tmp_path / "s.wav"
    low, high = _sine(seconds, 0.05, f=100.0), _sine(seconds, 0.02, f=1000.0)
    sf.write(path, low + high, 8000, subtype="FLOAT")
    both = 10 * math.log10(0.05 ** 2 / 2 + 0.02 ** 2 / 2)  # -28.7 dBFS
    assert speech_level(path) == pytest.approx(both, abs=0.1)
    # the 100 Hz tone is filtered out (-24 dB): what is left is the 1 kHz one (-37 dBFS)
    heard = 20 * math.log10(0.02) - 10 * math.log10(2)
    assert speech_level(path, highpass=200.0) == pytest.approx(heard, abs=0.2)
    level, gain, vad_gain = file_gains(path, -32.0, highpass=200.0)
    assert level == pytest.approx(both, abs=0.1) and gain == 1.0
    assert 20 * math.log10(vad_gain) == pytest.approx(-32.0 - heard, abs=0.2)
    assert file_gains(path, -32.0)[2] == pytest.approx(10 ** ((-32.0 - level) / 20))
