"""Tests of diarizer.speakers.linking and the batch's linking step."""

import json

import numpy as np
import pytest
from speakers_synth import blob_speaker, blob_ubm

from diarizer.exceptions import ConfigError
from diarizer.gmm import map_adapt
from diarizer.speakers import cluster_vectors, link_clusters
from diarizer.speakers.linking import global_names, meeting_vectors


def test_link_hand_counted():
    e = np.eye(3)
    # meeting 0: A, B; meeting 1: A', C; meeting 2: B', A''
    vecs = [np.array([e[0], e[1]]), np.array([e[0] + 0.1 * e[2], e[2]]),
            np.array([e[1] + 0.05 * e[0], e[0]])]
    groups = link_clusters(vecs, 0.2)
    assert [g.tolist() for g in groups] == [[0, 1], [0, 2], [1, 0]]
    assert global_names(groups) == [["global_00", "global_01"], ["global_00", "global_02"],
                                    ["global_01", "global_00"]]
    # threshold 0: nothing is linked, except identical directions
    assert [g.tolist() for g in link_clusters(vecs, 0.0)] == [[0, 1], [2, 3], [4, 0]]


def test_same_meeting_never_linked():
    v = np.array([[1.0, 0.0], [1.0, 0.01]])
    assert link_clusters([v], 2.0)[0].tolist() == [0, 1]
    # transitively either: X (meeting 1) is close to both clusters of meeting 0; it joins one
    groups = link_clusters([v, np.array([[1.0, 0.005]])], 2.0)
    assert groups[0].tolist() == [0, 1] and groups[1][0] in (0, 1)


def test_average_linkage_stops_at_threshold():
    a = np.array([[1.0, 0.0]])
    b = np.array([[np.cos(0.5), np.sin(0.5)]])   # cosine distance 1 - cos(0.5) = 0.1224
    assert link_clusters([a, b], 0.12)[1].tolist() == [1]
    assert link_clusters([a, b], 0.13)[1].tolist() == [0]
    assert link_clusters([], 0.5) == []


def test_enrolled_names_link_by_name():
    e = np.eye(3)
    vecs = [np.array([e[0], e[1]]), np.array([e[2], e[0]]), np.array([e[1]])]
    # by distance alone: the two e[0] clusters link, the two e[1] clusters link
    assert [g.tolist() for g in link_clusters(vecs, 0.2)] == [[0, 1], [2, 0], [1]]
    # names overrule the distance: anna (e[0], meeting 0) is anna (e[2], meeting 1), and the
    # e[0] cluster of meeting 1 is bob, so it may not join anna; unnamed clusters go by distance
    names = [["anna", ""], ["anna", "bob"], [""]]
    assert [g.tolist() for g in link_clusters(vecs, 0.2, names)] == [[0, 1], [0, 2], [1]]
    with pytest.raises(ValueError, match="names give 4 clusters, vectors 5"):
        link_clusters(vecs, 0.2, [["a", ""], ["b"], [""]])


def test_cluster_vectors_formula(rng):
    ubm = blob_ubm()
    X = np.concatenate([blob_speaker(0, 300, rng), blob_speaker(1, 200, rng)])
    labels = np.repeat([0, 1], [300, 200])
    V = cluster_vectors(ubm, X, labels, relevance_factor=16.0)
    ad = map_adapt(ubm, X, labels, relevance_factor=16.0).to_numpy()
    p = ubm.to_numpy()
    want = ((ad["means"].reshape(2, 8, 4) - p["means"]) * np.sqrt(p["weights"])[:, None]
            / np.sqrt(p["covariances"])).reshape(2, 32)
    np.testing.assert_allclose(V, want, rtol=1e-7, atol=1e-10)
    names, W = meeting_vectors(ubm, X, labels, ["anna", "anna"])
    assert names == ["anna"] and W.shape == (1, 32)
    np.testing.assert_allclose(W[0], cluster_vectors(ubm, X, np.zeros(500, int))[0], rtol=1e-7)


def test_blob_speakers_link_across_meetings(rng):
    ubm = blob_ubm()
    meetings = [(0, 1, 2), (1, 3), (2, 0, 3)]
    vecs = []
    for spk in meetings:
        X = np.concatenate([blob_speaker(k, 300, rng) for k in spk])
        vecs.append(cluster_vectors(ubm, X, np.repeat(np.arange(len(spk)), 300)))
    groups = link_clusters(vecs, 0.5)
    glob = {}
    for spk, g in zip(meetings, groups):
        for k, i in zip(spk, g.tolist()):
            glob.setdefault(k, set()).add(i)
    assert all(len(v) == 1 for v in glob.values())
    assert len({next(iter(v)) for v in glob.values()}) == 4


def test_batch_links_and_rewrites_rttms(tmp_path):
    from speakers_synth import write_meeting, write_solo

    from diarizer.batch import run_batch
    from diarizer.gmm import dump_gmms
    from diarizer.speakers import train_ubm

    ubm_files = [str(write_solo(tmp_path / f"u{k}.wav", k, 3.0, seed=k)) for k in range(10, 16)]
    dump_gmms(tmp_path / "ubm.gmm", train_ubm(ubm_files, n_components=8, max_iter=3)[0])
    (tmp_path / "in").mkdir()
    write_meeting(tmp_path / "in" / "a.wav", [0, 1], 12.0, seed=1)
    write_meeting(tmp_path / "in" / "b.wav", [1, 0], 12.0, seed=2)
    settings = {"link_speakers": True, "ubm": str(tmp_path / "ubm.gmm"), "link_threshold": 0.3,
                "initial_clusters": 4, "M_mfcc": 3}
    rows = run_batch([str(tmp_path / "in")], tmp_path / "out", settings, jobs=1)
    assert [r["status"] for r in rows] == ["ok", "ok"]
    labels = {}
    for name in ("a", "b"):
        text = (tmp_path / "out" / f"{name}.rttm").read_text()
        labels[name] = {line.split()[7] for line in text.splitlines()}
        assert all(lab.startswith("global_") for lab in labels[name])
        row = json.loads((tmp_path / "out" / ".rows" / f"{name}.json").read_text())
        assert row["global_labels"] == " ".join(
            f"{a}={b}" for a, b in zip(row["_link"]["labels"], row["_link"]["global"]))
        assert "_link" not in rows[0]
    summary = (tmp_path / "out" / "summary.tsv").read_text().splitlines()[0].split("\t")
    assert summary[-1] == "global_labels"
    # a resumed batch maps the already linked RTTMs again to the same labels
    before = {n: (tmp_path / "out" / f"{n}.rttm").read_text() for n in ("a", "b")}
    run_batch([str(tmp_path / "in")], tmp_path / "out", settings, jobs=1)
    assert {n: (tmp_path / "out" / f"{n}.rttm").read_text() for n in ("a", "b")} == before


def test_batch_linking_needs_a_background_model(tmp_path):
    from speakers_synth import write_meeting

    from diarizer.batch import run_batch

    (tmp_path / "in").mkdir()
    write_meeting(tmp_path / "in" / "a.wav", [0, 1], 8.0, seed=1)
    rows = run_batch([str(tmp_path / "in")], tmp_path / "out", {"link_speakers": True,
                     "initial_clusters": 4, "M_mfcc": 3}, jobs=1)
    assert rows[0]["status"] == "failed"
    assert "'link_speakers' setting needs a background model" in rows[0]["error"]
    from diarizer.config import make_settings
    from diarizer.speakers.batch_link import background_model

    with pytest.raises(ConfigError, match="set 'ubm'"):
        background_model(make_settings({}, check_required=False))
