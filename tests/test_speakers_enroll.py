"""Tests of diarizer.speakers.enroll: the speakers folder, enrollment rules and the CLI runner."""

import argparse
import json

import numpy as np
import pytest
from speakers_synth import blob_speaker, blob_ubm, write_solo

from diarizer.config import make_settings
from diarizer.exceptions import ConfigError, InputError
from diarizer.gmm import GMMSet, dump_gmms, load_gmms, map_adapt
from diarizer.speakers import enroll, load_speakers
from diarizer.speakers.enroll import add_enroll_arguments, model_file, run_enroll


@pytest.fixture(scope="module")
def ubm():
    return blob_ubm()


def test_folder_format_and_models(tmp_path, ubm, rng):
    X0, X1 = blob_speaker(0, 400, rng), blob_speaker(1, 500, rng)
    folder = tmp_path / "spk"
    enroll("anna", [X0], folder, ubm=ubm)
    db = enroll("bob", [X1[:300], X1[300:]], folder, ubm=ubm)
    index = json.loads((folder / "index.json").read_text())
    assert index["format"] == "diarizer-speakers" and index["version"] == 2
    assert index["feature_setup"]["n_features"] == 4
    assert index["feature_setup"]["frame_period"] == 0.01
    assert index["feature_setup"]["n_mfcc"] == 19 and index["feature_setup"]["sample_rate"] == 16000
    assert index["relevance_factor"] == 4.0  # the enroll_relevance_factor setting
    assert [s["name"] for s in index["speakers"]] == ["anna", "bob"]
    assert [s["model"] for s in index["speakers"]] == [model_file("anna"), model_file("bob")]
    assert index["speakers"][0]["speech_seconds"] == 4.0   # 400 frames at 10 ms
    assert index["speakers"][1]["speech_seconds"] == 5.0
    assert index["speakers"][1]["sources"] == ["<array>", "<array>"]
    assert sorted(p.name for p in (folder / "models").iterdir()) == sorted(
        [model_file("anna")[7:], model_file("bob")[7:]])
    assert not (folder / "speakers.gmm").exists()
    bob = load_gmms(folder / model_file("bob"), xp="numpy")
    assert bob.n_gmms == 1 and list(bob.n_components) == [8]
    # the stored model is exactly the MAP adaptation of the UBM to the speaker's frames
    want = map_adapt(ubm, X1, [np.arange(500)], relevance_factor=4.0)
    np.testing.assert_allclose(bob.to_numpy()["means"], want.to_numpy()["means"],
                               rtol=1e-6, atol=1e-6)
    again = load_speakers(folder)
    assert again.names == db.names == ["anna", "bob"]
    assert again.ubm.n_gmms == 1 and again.ubm.n_features == 4
    models = again.models
    assert models.n_gmms == 2 and list(models.n_components) == [8, 8]
    np.testing.assert_allclose(models.to_numpy()["means"][8:], want.to_numpy()["means"],
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(models.to_numpy()["covariances"][:8],
                               ubm.to_numpy()["covariances"], rtol=1e-12)


def test_model_file_names():
    assert model_file("anna") == "models/anna-2bc1ecb4.npz"
    assert model_file("Anna Lee/2") == "models/Anna_Lee_2-459667e9.npz"
    assert model_file("..").startswith("models/_-")
    assert model_file("Anna") != model_file("anna")   # case-insensitive file systems


def test_enrolling_one_more_speaker_leaves_the_others_files_alone(tmp_path, ubm, rng):
    folder = tmp_path / "spk"
    for k, name in enumerate(["anna", "bob", "carl"]):
        enroll(name, [blob_speaker(k, 400, rng)], folder, ubm=ubm)
    files = sorted((folder / "models").iterdir()) + [folder / "ubm.gmm"]
    before = {f: (f.stat().st_mtime_ns, f.stat().st_ino, f.read_bytes()) for f in files}
    enroll("dora", [blob_speaker(3, 400, rng)], folder)
    after = {f: (f.stat().st_mtime_ns, f.stat().st_ino, f.read_bytes()) for f in files}
    assert after == before   # not rewritten (atomic writes would change the inode)
    assert len(list((folder / "models").iterdir())) == 4
    # enrolling does not read the other speakers' models: a damaged one goes unnoticed ...
    (folder / model_file("anna")).write_bytes(b"garbage")
    db = enroll("emil", [blob_speaker(4, 400, rng)], folder)
    assert db.names == ["anna", "bob", "carl", "dora", "emil"]
    # ... until the models are used
    with pytest.raises(InputError, match=r"anna-2bc1ecb4\.npz: not a readable \.npz GMM file"):
        load_speakers(folder).models
    (folder / model_file("anna")).unlink()
    with pytest.raises(InputError, match="model of enrolled speaker 'anna' is missing; enroll "
                       "the speaker again with --replace"):
        load_speakers(folder).models


def _write_v1(folder, ubm, models, names):
    folder.mkdir()
    dump_gmms(folder / "ubm.gmm", ubm)
    dump_gmms(folder / "speakers.gmm", models)
    index = {"format": "diarizer-speakers", "version": 1,
             "feature_setup": {"n_features": 4, "frame_period": 0.01},
             "relevance_factor": 16.0, "adapted": ["means"], "ubm": "ubm.gmm",
             "models": "speakers.gmm",
             "speakers": [{"name": n, "sources": ["<array>"], "speech_seconds": 4.0}
                          for n in names]}
    (folder / "index.json").write_text(json.dumps(index))


def test_version1_folder_is_read_and_converted(tmp_path, ubm, rng):
    X = [blob_speaker(k, 400, rng) for k in range(3)]
    models = map_adapt(ubm, np.concatenate(X[:2]), [np.arange(400), np.arange(400, 800)])
    folder = tmp_path / "v1"
    _write_v1(folder, ubm, models, ["anna", "bob"])
    db = load_speakers(folder)
    assert db.names == ["anna", "bob"]
    np.testing.assert_array_equal(db.models.to_numpy()["means"], models.to_numpy()["means"])
    db = enroll("carl", [X[2]], folder)
    index = json.loads((folder / "index.json").read_text())
    assert index["version"] == 2 and "models" not in index
    assert [s["model"] for s in index["speakers"]] == [model_file(n)
                                                       for n in ("anna", "bob", "carl")]
    assert not (folder / "speakers.gmm").exists()
    again = load_speakers(folder).models.to_numpy()["means"]
    np.testing.assert_allclose(again[:16], models.to_numpy()["means"], rtol=1e-12)
    want = map_adapt(ubm, X[2], [np.arange(400)]).to_numpy()["means"]
    np.testing.assert_allclose(again[16:], want, rtol=1e-6, atol=1e-6)


def test_version1_folder_with_wrong_model_count(tmp_path, ubm, rng):
    models = map_adapt(ubm, blob_speaker(0, 400, rng), [np.arange(400)])
    _write_v1(tmp_path / "v1", ubm, models, ["anna", "ghost"])
    with pytest.raises(InputError, match=r"speakers\.gmm: holds 1 GMMs .* lists 2 speakers"):
        load_speakers(tmp_path / "v1").models


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
    want = map_adapt(ubm, X, [np.arange(400)], relevance_factor=4.0).to_numpy()["means"]
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
    with pytest.raises(ConfigError, match="relevance factor 4; got 16"):
        enroll("bob", [blob_speaker(1, 400, rng)], folder, relevance_factor=16.0)
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
    index["speakers"].append({"name": "ghost", "model": "models/ghost.npz", "sources": [],
                              "speech_seconds": 9})
    (folder / "index.json").write_text(json.dumps(index))
    with pytest.raises(InputError, match="model of enrolled speaker 'ghost' is missing"):
        load_speakers(folder).models
    dump_gmms(folder / "models" / "ghost.npz", GMMSet.concat([ubm, ubm]))
    with pytest.raises(InputError, match=r"ghost\.npz: holds 2 GMM\(s\) of 4 features"):
        load_speakers(folder).models
    index["version"] = 3
    (folder / "index.json").write_text(json.dumps(index))
    with pytest.raises(InputError, match="unsupported version 3 .*versions 1 and 2"):
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
                              "--relevance-factor", "4"])
    assert run_enroll(args) == 0
