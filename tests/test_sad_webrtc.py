"""The WebRTC speech detector (sad = webrtc, model_webrtc, model_webrtc_runs)."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from synth import make_meeting  # noqa: E402

from diarizer.config import make_settings  # noqa: E402
from diarizer.exceptions import ConfigError  # noqa: E402
from diarizer.features.mfcc import mfcc  # noqa: E402
from diarizer.features.sad import smooth_mask  # noqa: E402
from diarizer.features.webrtc import (  # noqa: E402
    HIGHPASS,
    RUNS_FRAME,
    WebRTCStream,
    confirmed_runs,
    to_frames,
)
from diarizer.io.audio import read_audio  # noqa: E402
from diarizer.io.level import file_gains  # noqa: E402
from diarizer.pipeline import load_features  # noqa: E402

webrtcvad = pytest.importorskip("webrtcvad")


@pytest.fixture(scope="module")
def meeting(tmp_path_factory):
    """A 30 s two-speaker synthetic meeting: (path, signal, reference speech mask)."""
    path = tmp_path_factory.mktemp("webrtc") / "m.wav"
    turns = make_meeting(path, seconds=30, n_speakers=2, seed=4)
    y, _ = read_audio(path)
    ref = np.zeros(-(-y.size // 160), dtype=bool)
    for a, b, _ in turns:
        ref[int(round(a * 100)):int(round(b * 100))] = True
    return path, y, ref


def test_stream_fed_in_blocks_equals_one_call(meeting):
    _, y, _ = meeting
    whole = WebRTCStream(16000)
    whole.feed(y)
    parts = WebRTCStream(16000)
    for a in range(0, y.size, 7777):  # blocks that cut 10 ms frames anywhere
        parts.feed(y[a:a + 7777])
    d = whole.decisions()
    assert d.shape == (-(-y.size // 160),)
    assert np.array_equal(d, parts.decisions())
    # the same decisions as webrtcvad called on the int16 frames directly
    vad = webrtcvad.Vad(2)
    pcm = np.rint(np.clip(y * 32767.0, -32768, 32767)).astype("<i2")
    direct = [vad.is_speech(pcm[j * 160:(j + 1) * 160].tobytes(), 16000)
              for j in range(y.size // 160)]
    assert d[:len(direct)].tolist() == direct


def test_stream_of_30_ms_frames_equals_webrtcvad(meeting):
    _, y, _ = meeting
    s = WebRTCStream(16000, frame=RUNS_FRAME)
    for a in range(0, y.size, 5000):
        s.feed(y[a:a + 5000])
    d = s.decisions()
    assert d.shape == (-(-y.size // 480),)
    vad = webrtcvad.Vad(2)
    pcm = np.rint(np.clip(y * 32767.0, -32768, 32767)).astype("<i2")
    direct = [vad.is_speech(pcm[j * 480:(j + 1) * 480].tobytes(), 16000)
              for j in range(y.size // 480)]
    assert d[:len(direct)].tolist() == direct
    with pytest.raises(ValueError, match="10, 20 or 30 ms"):
        WebRTCStream(16000, frame=0.025)


def test_confirmed_runs_keeps_or_drops_whole_runs():
    model = np.array([0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 1], dtype=bool)
    found = np.array([1, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0], dtype=bool)
    # runs [1, 6): 2 of 5 found; [8, 12): 1 of 4; [13, 15): 0 of 2
    assert confirmed_runs(model, found, 0.4).tolist() == (
        [False] + [True] * 5 + [False] * 9)
    assert confirmed_runs(model, found, 0.25).tolist() == model.tolist()[:12] + [False] * 3
    assert confirmed_runs(model, found, 0.0).tolist() == model.tolist()
    assert not confirmed_runs(model, np.zeros(15, bool), 0.01).any()
    # found never adds speech outside the model's runs
    assert not (confirmed_runs(model, np.ones(15, bool), 1.0) & ~model).any()


def test_to_frames_of_30_ms_decisions():
    d = np.array([1, 0, 1], dtype=bool)  # 0-30, 30-60, 60-90 ms
    assert to_frames(d, 9, 0.01, 0.03).tolist() == [1, 1, 1, 0, 0, 0, 1, 1, 1]


def test_detector_finds_the_turns(meeting):
    _, y, ref = meeting
    s = WebRTCStream(16000, mode=2)
    s.feed(y)
    d = to_frames(s.decisions(), ref.size, 0.01)
    assert np.count_nonzero(ref & ~d) < 0.1 * ref.sum()  # missed speech
    assert np.count_nonzero(~ref & d) < 0.5 * (~ref).sum()  # false alarm in the pauses


def test_to_frames_takes_the_decision_at_each_frame_middle():
    d = np.array([1, 0, 0, 1, 1, 0], dtype=bool)
    assert to_frames(d, 6, 0.01).tolist() == d.tolist()
    assert to_frames(d, 3, 0.02).tolist() == [False, True, False]  # middles at 10, 30, 50 ms
    assert to_frames(d, 8, 0.01).tolist() == d.tolist() + [False, False]  # past the end


@pytest.mark.parametrize("kw, match", [({"sample_rate": 22050}, "sample_rate"),
                                       ({"sample_rate": 16000, "mode": 4}, "webrtc_mode")])
def test_bad_rate_or_mode_is_a_config_error(kw, match):
    with pytest.raises(ConfigError, match=match):
        WebRTCStream(**kw)


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "webrtcvad", None)
    with pytest.raises(ConfigError, match=r"diarizer\[webrtc\]"):
        WebRTCStream(16000)


def _as_the_pipeline_reads(path, target=None, highpass=HIGHPASS):
    """The signal at the pipeline's level (audio_level) and the further gain of the VAD input
    (high-passed at ``highpass`` Hz: webrtc_highpass)."""
    if target is None:
        target = make_settings({}, check_required=False).audio_level
    _, gain, vad_gain = file_gains(path, target, highpass=highpass)
    return read_audio(path, gain=gain)[0], vad_gain


def test_pipeline_sad_webrtc_and_model_webrtc(meeting):
    path, y, ref = meeting
    out = {}
    # -26 dBFS: WebRTC alone misses much of these crude synthetic voices at the default -32; and
    # their energy below 250 Hz is a weak pulse train, so high-passed (the default) it misses
    # 13 % of them instead of 0.3 %: the detectors' accuracy is checked unfiltered
    for sad in ("webrtc", "model", "model_webrtc"):
        feats = load_features(make_settings({"audio": str(path), "sad": sad, "audio_level": -26,
                                             "webrtc_highpass": 0}, check_required=False))
        out[sad] = feats.speech
        n = min(ref.size, feats.speech.size)
        miss = np.count_nonzero(ref[:n] & ~feats.speech[:n])
        fa = np.count_nonzero(~ref[:n] & feats.speech[:n])
        assert miss + fa < 0.15 * ref.sum(), sad
    # model_webrtc: speech where the model detector and the raw WebRTC decisions both find it,
    # then runs shorter than 0.25 s dropped and silences shorter than 0.4 s filled (the
    # pipeline's sad_min_speech / sad_min_silence); webrtc alone: its raw decisions, smoothed
    y, vad_gain = _as_the_pipeline_reads(path, -26, highpass=0.0)
    vad = WebRTCStream(16000, gain=vad_gain)
    vad.feed(y)
    raw = to_frames(vad.decisions(), out["model"].size, 0.01)
    assert np.array_equal(out["webrtc"], smooth_mask(raw, 25, 40))
    both = smooth_mask(out["model"] & raw, 25, 40)
    assert np.array_equal(out["model_webrtc"], both)
    assert not np.array_equal(out["webrtc"], out["model"])
    # the default webrtc_highpass: the VAD hears the filtered signal at audio_level
    settings = make_settings({"audio": str(path), "sad": "webrtc", "audio_level": -26},
                             check_required=False)
    assert settings.webrtc_highpass == HIGHPASS  # the setting's default is the module's
    high = load_features(settings)
    y, vad_gain = _as_the_pipeline_reads(path, -26)
    vad = WebRTCStream(16000, gain=vad_gain, highpass=HIGHPASS)
    vad.feed(y)
    raw = to_frames(vad.decisions(), out["model"].size, 0.01)
    assert np.array_equal(high.speech, smooth_mask(raw, 25, 40))
    assert not np.array_equal(high.speech, out["webrtc"])


def test_pipeline_model_webrtc_runs_keeps_the_confirmed_model_runs(meeting):
    path, y, ref = meeting
    out = {}
    for sad, share in (("model", 0.3), ("model_webrtc_runs", 0.3), ("model_webrtc_runs", 1.0)):
        feats = load_features(make_settings({"audio": str(path), "sad": sad,
                                             "webrtc_min_share": share}, check_required=False))
        out[sad, share] = feats.speech
    model = out["model", 0.3]
    y, vad_gain = _as_the_pipeline_reads(path)
    vad = WebRTCStream(16000, frame=RUNS_FRAME, gain=vad_gain)
    vad.feed(y)
    raw = to_frames(vad.decisions(), model.size, 0.01, RUNS_FRAME)
    assert np.array_equal(out["model_webrtc_runs", 0.3], confirmed_runs(model, raw, 0.3))
    # the turns of this meeting are speech for both detectors: every run stays as it was
    assert np.array_equal(out["model_webrtc_runs", 0.3], model)
    # share 1.0 keeps only the runs WebRTC finds speech in throughout, and never adds speech
    strict = out["model_webrtc_runs", 1.0]
    assert strict.sum() < model.sum() and not (strict & ~model).any()


def test_htk_input_without_spnsp_clusters_every_frame_with_webrtc(tmp_path, meeting):
    from diarizer.io.htk import write_htk

    _, y, _ = meeting
    htk = tmp_path / "m.htk"
    write_htk(htk, mfcc(y), samp_period=100000)
    feats = load_features(make_settings({"mfcc_feats": str(htk), "sad": "webrtc"},
                                        check_required=False))
    assert feats.speech.all()


def test_highpass_stream_fed_in_blocks_equals_one_call(meeting):
    from diarizer.filters import highpass

    _, y, _ = meeting
    whole = WebRTCStream(16000, highpass=200.0)
    whole.feed(y)
    parts = WebRTCStream(16000, highpass=200.0)
    for a in range(0, y.size, 7777):  # the filter carries its pending samples across blocks
        parts.feed(y[a:a + 7777])
    d = whole.decisions()
    assert np.array_equal(d, parts.decisions())
    # the decisions of the unfiltered stream on the signal filtered beforehand
    pre = WebRTCStream(16000)
    pre.feed(highpass(y, 200.0, 16000))
    assert np.array_equal(d, pre.decisions())


def test_highpass_keeps_speech_and_drops_a_low_rumble(meeting):
    from scipy.signal import butter, sosfilt

    _, y, ref = meeting
    rng = np.random.default_rng(0)
    rumble = sosfilt(butter(8, 100.0, "lowpass", fs=16000, output="sos"),
                     rng.standard_normal(16000 * 5))
    rumble *= 0.03 / np.sqrt(np.mean(rumble ** 2))  # -30 dBFS

    def found(x, highpass):
        s = WebRTCStream(16000, highpass=highpass)
        s.feed(x)
        return s.decisions()

    assert found(rumble, 0.0).mean() > 0.5  # the VAD alone takes the rumble for speech
    assert found(rumble, 200.0).mean() < 0.05
    plain = to_frames(found(y, 0.0), ref.size, 0.01)
    high = to_frames(found(y, 200.0), ref.size, 0.01)
    assert np.count_nonzero(ref & high) >= 0.95 * np.count_nonzero(ref & plain)


def test_highpass_above_nyquist_is_a_config_error():
    with pytest.raises(ConfigError, match="webrtc_highpass"):
        WebRTCStream(8000, highpass=4000.0)
