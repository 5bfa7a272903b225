"""Tests of diarizer.speakers.enroll: the speakers folder, enrollment rules and the CLI runner."""

import argparse
import json

import numpy as np
import pytest
from speakers_synth import blob_speaker, blob_ubm, write_solo

from diarizer.config import make_settings
from diarizer.exceptions import ConfigError, InputError
from diarizer.gmm import dump_gmms, load_gmms, map_adapt
from diarizer.speakers import enroll, load_speakers
from diarizer.speakers.enroll import add_enroll_arguments, run_enroll


@pytest.fixture(scope="module")
def ubm():
    return blob_ubm()


def test_folder_format_and_models(tmp_path, ubm, rng):
    X0, X1 = blob_speaker(0, 400, rng), blob_speaker(1, 500, rng)
    folder = tmp_path / "spk"
    enroll("anna", [X0], folder, ubm=ubm)
    db = enroll("bob", [X1[:300], X1[300:]], folder, ubm=ubm)
    index = json.loads((folder / "index.json").read_text())
    assert index["format"] == "diarizer-speakers" and index["version"] == 1
    assert index["feature_setup"]["n_features"] == 4
    assert index["feature_setup"]["frame_period"] == 0.01
    assert index["feature_setup"]["n_mfcc"] == 19 and index["feature_setup"]["sample_rate"] == 16000
    assert index["relevance_factor"] == 16.0
    assert [s["name"] for s in index["speakers"]] == ["anna", "bob"]
    assert index["speakers"][0]["speech_seconds"] == 4.0   # 400 frames at 10 ms
    assert index["speakers"][1]["speech_seconds"] == 5.0
    assert index["speakers"][1]["sources"] == ["<array>", "<array>"]
    models = load_gmms(folder / "speakers.gmm", xp="numpy")
    assert models.n_gmms == 2 and list(models.n_components) == [8, 8]
    # the stored model is exactly the MAP adaptation of the UBM to the speaker's frames
    want = map_adapt(ubm, X1, [np.arange(500)], relevance_factor=16.0)
    np.testing.assert_allclose(models.to_numpy()["means"][8:], want.to_numpy()["means"],
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(models.to_numpy()["covariances"][:8],
                               ubm.to_numpy()["covariances"], rtol=1e-12)
    again = load_speakers(folder)
    assert again.names == db.names == ["anna", "bob"]
    assert again.ubm.n_gmms == 1 and again.ubm.n_features == 4


def test_too_little_speech_names_file_and_seconds(tmp_path, ubm, rng):
    with pytest.raises(InputError, match=r"<array>: only 2\.99 s of speech found for 'anna'"):
        enroll("anna", [blob_speaker(0, 299, rng)], tmp_path / "spk", ubm=ubm)
    path = write_solo(tmp_path / "short.wav", 0, 2.0, seed=1)
    with pytest.raises(InputError, match=r"short\.wav: only 1\.[0-9]+ s of speech found"):
        enroll("anna", [str(path)], tmp_path / "spk", ubm=ubm)


def test_duplicate_name_needs_replace(tmp_path, ubm, rng):
    folder = tmp_path / "spk"
    enroll("anna", [blob_speaker(0, 400, rng)], folder, ubm=ubm)
    enroll("bob", [blob_speaker(1, 400, rng)], folder, ubm=ubm)
    with pytest.raises(InputError, match="speaker 'anna' is already enrolled .*--replace"):
        enroll("anna", [blob_speaker(2, 400, rng)], folder)
    X = blob_speaker(2, 400, rng)
    db = enroll("anna", [X], folder, replace=True)
    assert db.names == ["bob", "anna"]
    want = map_adapt(ubm, X, [np.arange(400)]).to_numpy()["means"]
    np.testing.assert_allclose(load_speakers(folder).models.to_numpy()["means"][8:], want,
                               rtol=1e-6, atol=1e-6)


def test_feature_setup_mismatch(tmp_path, ubm, rng):
    folder = tmp_path / "spk"
    enroll("anna", [blob_speaker(0, 400, rng)], folder, ubm=ubm)
    with pytest.raises(InputError, match="enrolled with 4 features per frame, but <array> has 5"):
        enroll("bob", [blob_speaker(1, 400, rng, d=5)], folder)
    slow = make_settings({"mfcc_hop": 0.02}, check_required=False)
    with pytest.raises(InputError, match="frame period of 0.01 s, but <array> has 0.02 s"):
        enroll("bob", [blob_speaker(1, 400, rng)], folder, settings=slow)
    db = load_speakers(folder)
    with pytest.raises(InputError, match="4 features per frame, but meeting.wav has 19"):
        db.check_features(19, 0.01, "meeting.wav")


def test_other_ubm_or_relevance_is_refused(tmp_path, ubm, rng):
    folder = tmp_path / "spk"
    enroll("anna", [blob_speaker(0, 400, rng)], folder, ubm=ubm)
    other = blob_ubm(seed=1, speakers=range(40, 50))
    with pytest.raises(InputError, match="differs from the folder's"):
        enroll("bob", [blob_speaker(1, 400, rng)], folder, ubm=other)
    with pytest.raises(ConfigError, match="relevance factor 16; got 4"):
        enroll("bob", [blob_speaker(1, 400, rng)], folder, relevance_factor=4.0)
    with pytest.raises(ConfigError, match="without spaces"):
        enroll("anna b", [blob_speaker(1, 400, rng)], folder)


def test_load_errors(tmp_path, ubm, rng):
    with pytest.raises(InputError, match="not a speakers folder"):
        load_speakers(tmp_path)
    (tmp_path / "index.json").write_text("{}")
    with pytest.raises(InputError, match="not a speakers index"):
        load_speakers(tmp_path)
    folder = tmp_path / "spk"
    enroll("anna", [blob_speaker(0, 400, rng)], folder, ubm=ubm)
    index = json.loads((folder / "index.json").read_text())
    index["speakers"].append({"name": "ghost", "sources": [], "speech_seconds": 9})
    (folder / "index.json").write_text(json.dumps(index))
    with pytest.raises(InputError, match="holds 1 GMMs .* lists 2 speakers"):
        load_speakers(folder)


def test_run_enroll_from_audio(tmp_path):
    from diarizer.speakers import train_ubm

    ubm_files = [str(write_solo(tmp_path / f"u{k}.wav", k, 3.0, seed=k)) for k in range(10, 14)]
    ubm, _ = train_ubm(ubm_files, n_components=4, max_iter=3)
    dump_gmms(tmp_path / "ubm.gmm", ubm)
    audio = str(write_solo(tmp_path / "anna.wav", 0, 4.5, seed=3))
    parser = add_enroll_arguments(argparse.ArgumentParser())
    args = parser.parse_args(["anna", audio, "-o", str(tmp_path / "spk"), "--ubm",
                              str(tmp_path / "ubm.gmm")])
    assert run_enroll(args) == 0
    db = load_speakers(tmp_path / "spk")
    assert db.names == ["anna"]
    assert db.setup["n_features"] == 19 and db.setup["frame_period"] == 0.01
    assert db.entries[0]["sources"] == [audio]
    assert 3.0 < db.entries[0]["speech_seconds"] <= 4.5
    args = parser.parse_args(["anna", audio, "-o", str(tmp_path / "spk")])
    with pytest.raises(InputError, match="already enrolled"):
        run_enroll(args)
    args = parser.parse_args(["anna", audio, "-o", str(tmp_path / "spk"), "--replace",
                              "--relevance-factor", "16"])
    assert run_enroll(args) == 0
