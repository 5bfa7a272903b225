"""Tests of diarizer.speakers.redecode: decoding the speech among the meeting's named speakers."""

import numpy as np
import pytest
from speakers_synth import blob_speaker, blob_ubm

from diarizer.pipeline import Features, diarize
from diarizer.segments import Turn
from diarizer.speakers import enroll
from diarizer.speakers.redecode import redecode_named

NAMES = ["anna", "bob", "carl"]
KW = dict(min_duration=3, threshold=0.8)


def _llr(*runs):
    """Per-frame LLRs: runs of (n_frames, [llr of anna, bob, carl])."""
    return np.concatenate([np.tile(np.asarray(v, dtype=float), (n, 1)) for n, v in runs])


def _spans(turns):
    return [(t.start, t.end, t.label) for t in turns]


def test_named_turn_joining_two_present_speakers_is_split():
    llr = _llr((6, [2, -1, -1]), (4, [-1, 2, -1]), (6, [2, -1, -1]), (10, [-1, 2, -1]))
    turns = [Turn(0, 16, "anna"), Turn(16, 26, "bob")]
    out, n = redecode_named(turns, np.arange(26), llr, NAMES, **KW)
    assert _spans(out) == [(0, 6, "anna"), (6, 10, "bob"), (10, 16, "anna"), (16, 26, "bob")]
    assert n == 4
    # bob's 4 frames cannot pay for the 4 more a minimum duration of 8 would take from anna
    out, n = redecode_named(turns, np.arange(26), llr, NAMES, min_duration=8, threshold=0.8)
    assert _spans(out) == _spans(turns) and n == 0


def test_anonymous_turns_take_only_present_names_above_threshold():
    frames = np.arange(24)
    turns = [Turn(0, 6, "anna"), Turn(6, 12, "spk01"), Turn(12, 18, "spk02"),
             Turn(18, 24, "spk03")]
    # spk01 sounds like anna (present), spk02 weakly like anna, spk03 like carl (not present)
    llr = _llr((6, [2, -1, -1]), (6, [1.5, -1, -1]), (6, [1.0, -1, -1]), (6, [-1, -1, 3]))
    out, n = redecode_named(turns, frames, llr, NAMES, **KW)
    assert _spans(out) == [(0, 12, "anna"), (12, 18, "spk02"), (18, 24, "spk03")] and n == 6
    # the threshold (+ the stay bonus) decides for spk02: 1.0 < 0.5 + 0.3 fails, passes at 0.5
    out, _ = redecode_named(turns, frames, llr, NAMES, min_duration=3, threshold=0.5)
    assert _spans(out) == [(0, 18, "anna"), (18, 24, "spk03")]
    out, _ = redecode_named(turns, frames, llr, NAMES, min_duration=3, threshold=0.5, bonus=0.6)
    assert _spans(out)[1] == (12, 18, "spk02")


def test_pause_lets_the_label_change_and_nothing_named_changes_nothing():
    # speech frames 0-3 and 10-13 (a pause between): bob for 2 frames after the pause
    frames = np.r_[0:4, 10:14]
    llr = _llr((4, [2, -1, -1]), (2, [-1, 2, -1]), (2, [2, -1, -1]))
    turns = [Turn(0, 4, "bob"), Turn(4, 14, "anna")]
    out, _ = redecode_named(turns, frames, llr, NAMES, min_duration=2, threshold=0.8)
    # the pause is inside anna's turn: the turn keeps its start and is split at frame 12
    assert _spans(out) == [(0, 4, "anna"), (4, 12, "bob"), (12, 14, "anna")]
    anon = [Turn(0, 4, "spk00"), Turn(4, 14, "spk01")]
    assert redecode_named(anon, frames, llr, NAMES, **KW) == (anon, 0)
    # one present name and nothing else to decode
    one = [Turn(0, 14, "anna")]
    assert redecode_named(one, frames, llr, NAMES, **KW) == (one, 0)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    rng = np.random.default_rng(7)
    path = tmp_path_factory.mktemp("spk") / "speakers"
    ubm = blob_ubm()
    for k, name in enumerate(NAMES):
        enroll(name, [blob_speaker(k, 500, rng)], path, ubm=ubm)
    return path


def test_pipeline_splits_a_named_turn(folder, caplog):
    caplog.set_level("INFO", logger="diarizer")
    rng = np.random.default_rng(3)
    gap = np.zeros((30, 4), dtype=np.float32)
    # bob | anna | anna, bob, anna without a pause: the majority vote (200-frame windows) leaves
    # bob's 100 frames inside anna's last turn
    X = np.concatenate([blob_speaker(1, 200, rng), gap, blob_speaker(0, 200, rng), gap,
                        blob_speaker(0, 150, rng), blob_speaker(1, 100, rng),
                        blob_speaker(0, 150, rng)])
    speech = np.r_[np.ones(200), np.zeros(30), np.ones(200), np.zeros(30), np.ones(400)] > 0
    feats = Features(X=X, frame_period=0.01, speech=speech)
    kw = dict(initial_clusters=2, M_mfcc=4, speakers=str(folder), id_threshold=0.5,
              seg_length=200, ccr=0, resegmentation="majority", bridge_pauses=0,
              final_min_duration=50)
    off = diarize(feats, id_redecode=False, **kw)
    assert [t.label for t in off.turns] == ["bob", "anna", "anna"]
    on = diarize(feats, **kw)
    assert [t.label for t in on.turns] == ["bob", "anna", "anna", "bob", "anna"]
    start, end = on.turns[3].start, on.turns[3].end
    assert abs(start - 610) <= 10 and abs(end - 710) <= 10
    assert "relabelled by decoding among the named speakers" in caplog.text
