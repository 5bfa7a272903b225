"""Tests of diarizer.speakers.naming: LLR scores against an independent oracle, naming rules."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal
from speakers_synth import blob_speaker, blob_ubm

from diarizer.exceptions import InputError
from diarizer.pipeline import Features, diarize
from diarizer.speakers import enroll, load_speakers, name_clusters, score_clusters
from diarizer.speakers.naming import tnorm_scores


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    rng = np.random.default_rng(7)
    path = tmp_path_factory.mktemp("spk") / "speakers"
    ubm = blob_ubm()
    for k, name in enumerate(["anna", "bob", "carl"]):
        enroll(name, [blob_speaker(k, 500, rng)], path, ubm=ubm)
    return path


def _gmm_logpdf(p, g, X):
    M = int(p["n_components"][g])
    a = int(np.sum(p["n_components"][:g]))
    dens = [p["weights"][a + m] * multivariate_normal(p["means"][a + m],
                                                      np.diag(p["covariances"][a + m])).pdf(X)
            for m in range(M)]
    return np.log(np.sum(dens, axis=0))


def test_llr_matches_scipy_oracle(folder, rng):
    db = load_speakers(folder)
    X = np.concatenate([blob_speaker(1, 30, rng), blob_speaker(9, 20, rng)])
    labels = np.r_[np.zeros(30, int), np.ones(20, int)]
    labels[5] = -1
    got = score_clusters(db, X, labels)
    pm, pu = db.models.to_numpy(), db.ubm.to_numpy()
    bg = _gmm_logpdf(pu, 0, X)
    want = np.array([[np.mean((_gmm_logpdf(pm, s, X) - bg)[labels == c]) for s in range(3)]
                     for c in range(2)])
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)
    assert np.argmax(got[0]) == 1  # bob's frames score best against bob


def test_names_above_threshold_only(folder, rng):
    db = load_speakers(folder)
    X = np.concatenate([blob_speaker(2, 200, rng), blob_speaker(0, 200, rng),
                        blob_speaker(11, 200, rng)])
    labels = np.repeat([0, 1, 2], 200)
    llr = score_clusters(db, X, labels)
    new, scores = name_clusters(db, X, labels, ["spk00", "spk01", "spk02"], id_threshold=0.5)
    assert new[:2] == ["carl", "anna"]
    assert scores["spk00"]["speaker"] == "carl"
    assert scores["spk00"]["llr"] == pytest.approx(llr[0, 2], abs=1e-4)
    # the unenrolled blob keeps its label iff its best LLR is below the threshold
    assert new[2] == ("spk02" if llr[2].max() <= 0.5 else db.names[int(np.argmax(llr[2]))])
    high = float(llr.max()) + 1.0
    assert name_clusters(db, X, labels, ["a", "b", "c"], id_threshold=high)[0] == ["a", "b", "c"]


def test_pipeline_names_clusters_and_pools_same_name(folder, rng):
    # two well separated blob speakers, 3 s each, alternating in 1 s turns
    parts = [blob_speaker(k, 100, rng) for k in (0, 1, 0, 1, 0, 1)]
    X = np.concatenate(parts)
    feats = Features(X=X, frame_period=0.01, speech=np.ones(X.shape[0], dtype=bool))
    # 1 s turns in 6 s of frames: the original clustering (no ccr, 0.5 s majority windows)
    result = diarize(feats, initial_clusters=4, M_mfcc=2, speakers=str(folder),
                     id_threshold=0.5, seg_length=50, ccr=0, resegmentation="majority")
    assert sorted(set(result.speaker_names)) == ["anna", "bob"]
    assert {t.label for t in result.turns} == {"anna", "bob"}
    assert set(result.speaker_scores) == {f"spk{i:02d}" for i in range(len(result.speaker_names))}
    assert result.n_speakers == 2  # distinct labels of the output
    truth = np.repeat(["anna", "bob", "anna", "bob", "anna", "bob"], 100)
    hyp = np.array([result.speaker_names[i] for i in result.labels])
    assert np.mean(hyp == truth) > 0.9
    # adjacent turns never repeat a label (clusters sharing a name are pooled)
    labels = [t.label for t in result.turns]
    ends = [t.end for t in result.turns]
    starts = [t.start for t in result.turns]
    for i in range(1, len(labels)):
        assert not (labels[i] == labels[i - 1] and starts[i] == ends[i - 1])


def test_pipeline_rejects_other_feature_setup(folder, rng):
    X = np.concatenate([blob_speaker(0, 200, rng, d=5), blob_speaker(1, 200, rng, d=5)])
    with pytest.raises(InputError, match="enrolled with 4 features per frame, but <array> has 5"):
        diarize(X, initial_clusters=2, M_mfcc=2, speakers=str(folder))
    X = np.concatenate([blob_speaker(0, 200, rng), blob_speaker(1, 200, rng)])
    with pytest.raises(InputError, match="frame period of 0.01 s, but <array> has 0.02 s"):
        diarize(X, initial_clusters=2, M_mfcc=2, speakers=str(folder), mfcc_hop=0.02)


def test_tnorm_hand_values():
    llr = np.array([[4.0, 1.0, 2.0, 3.0]])
    # speaker 0: others 1, 2, 3 -> mean 2, std sqrt(2/3); speaker 2: others 4, 1, 3
    want = [2.0 / np.sqrt(2 / 3), -2.0 / np.sqrt(2 / 3),
            (2 - 8 / 3) / np.sqrt(26 / 3 - 64 / 9), (3 - 7 / 3) / np.sqrt(21 / 3 - 49 / 9)]
    np.testing.assert_allclose(tnorm_scores(llr, min_cohort=3)[0], want, rtol=1e-12)
    assert np.isnan(tnorm_scores(llr, min_cohort=4)).all()          # cohort of 3 < 4
    odd = np.array([[1.0, -np.inf, 0.0], [2.0, 0.5, 0.5]])
    got = tnorm_scores(odd, min_cohort=2)
    assert np.isnan(got[0]).all()                                    # a cluster without frames
    assert np.isnan(got[1, 0]) and np.isfinite(got[1, 1:]).all()     # identical cohort: no std


def test_tnorm_matches_loop(rng):
    llr = rng.normal(0.5, 0.3, size=(5, 12)) + 100.0   # offset: no loss from cancellation
    got = tnorm_scores(llr, min_cohort=11)
    for c in range(5):
        for s in range(12):
            o = np.delete(llr[c], s)
            assert got[c, s] == pytest.approx((llr[c, s] - o.mean()) / o.std(), rel=1e-9)


def test_naming_rule_raw_and_tnorm(monkeypatch):
    import diarizer.speakers.naming as naming

    class DB:
        names = [f"s{i}" for i in range(12)]

    cohort = np.tile([0.1, -0.1], 6)[:11]
    llr = np.array([np.r_[2.0, cohort],                  # far above its cohort: named
                    np.r_[1.0, cohort + 0.9],            # raw 1.0 but T-score 1 / 0.1 = ~1
                    np.r_[0.5, cohort - 2.0]])           # T-score high, raw below 0.8
    monkeypatch.setattr(naming, "score_clusters", lambda db, X, labels: llr)
    old = ["spk00", "spk01", "spk02"]
    new, scores = naming.name_clusters(DB(), None, None, old, id_threshold=0.8)
    assert new == ["s0", "spk01", "spk02"]
    assert scores["spk00"]["tnorm"] == pytest.approx(
        (2.0 - cohort.mean()) / cohort.std(), abs=1e-4)
    assert scores["spk01"]["llr"] == 1.0 and scores["spk01"]["tnorm"] < 4.5
    # a cohort smaller than min_cohort: the raw threshold alone decides
    new, scores = naming.name_clusters(DB(), None, None, old, id_threshold=0.8, min_cohort=12)
    assert new == ["s0", "s0", "spk02"] and scores["spk01"]["tnorm"] is None
    new, _ = naming.name_clusters(DB(), None, None, old, id_threshold=0.4, tnorm_threshold=1e9,
                                  min_cohort=12)
    assert new == ["s0", "s0", "s0"]


def test_cluster_llr_hand_values():
    from diarizer.speakers.naming import cluster_llr

    llr = np.array([[1.0, 0.0], [3.0, 2.0], [5.0, 5.0], [7.0, 1.0]])
    got = cluster_llr(llr, np.array([0, 0, 2, -1]), 3)
    assert got[0].tolist() == [2.0, 1.0] and got[2].tolist() == [5.0, 5.0]
    assert np.all(np.isneginf(got[1]))  # cluster 1 has no frame


def test_identify_applies_both_thresholds():
    from diarizer.speakers.naming import identify

    cohort = np.tile([0.1, -0.1], 6)[:11]
    llr = np.array([np.r_[2.0, cohort], np.r_[1.0, cohort + 0.9], np.r_[0.5, cohort - 2.0],
                    np.full(12, -np.inf)])
    who, best, value, z = identify(llr, id_threshold=0.8)
    assert who.tolist() == [0, -1, -1, -1]
    assert best.tolist() == [0, 0, 0, -1] and value[:3].tolist() == [2.0, 1.0, 0.5]
    assert z[0] == pytest.approx((2.0 - cohort.mean()) / cohort.std()) and np.isnan(z[3])
    # with a cohort the LLR bound is cohort_threshold: row 2 (0.5, T-score high) passes 0.4
    assert identify(llr, id_threshold=0.8, cohort_threshold=0.4)[0].tolist() == [0, -1, 0, -1]
    # without one (min_cohort 12 > 11 others) id_threshold alone decides, whatever the other
    assert identify(llr, id_threshold=0.8, cohort_threshold=0.4,
                    min_cohort=12)[0].tolist() == [0, 0, -1, -1]


def test_identity_constraints_forbid_two_known_people(folder, rng):
    from diarizer.speakers.naming import identity_constraints

    db = load_speakers(folder)
    # anna, bob, anna again, an unenrolled voice
    X = np.concatenate([blob_speaker(0, 200, rng), blob_speaker(1, 200, rng),
                        blob_speaker(0, 200, rng), blob_speaker(13, 200, rng)])
    cannot = identity_constraints(db, X, id_threshold=0.5)
    labels = np.repeat([0, 1, 2, 3], 200)
    llr = score_clusters(db, X, labels)
    assert np.argmax(llr[0]) == 0 and np.argmax(llr[1]) == 1 and np.argmax(llr[2]) == 0
    forbid = cannot(np.arange(X.shape[0]), labels)
    assert forbid.shape == (4, 4) and np.array_equal(forbid, forbid.T)
    assert forbid[0, 1] and forbid[1, 2] and not forbid[0, 2] and not forbid[0, 0]
    # the unenrolled voice is constrained only if it would be named (after its best match)
    named3 = llr[3].max() > 0.5
    assert forbid[3, 1] == (named3 and np.argmax(llr[3]) != 1)
    assert not identity_constraints(db, X, id_threshold=1e9)(np.arange(800), labels).any()
    # the frames handed over select the rows of the per-frame scores (decimated clustering)
    sub = np.arange(0, X.shape[0], 2)
    alone = identity_constraints(db, X[sub], id_threshold=0.5)
    assert np.array_equal(cannot(sub, labels[sub]), alone(np.arange(sub.size), labels[sub]))
    # precomputed per-frame scores name as the scoring does, and constrain as X does
    from diarizer.speakers.naming import frame_llr

    names = ["spk00", "spk01", "spk02", "spk03"]
    llr_frames = frame_llr(db, X)
    assert (name_clusters(db, X, labels, names, id_threshold=0.5)
            == name_clusters(db, None, labels, names, id_threshold=0.5, llr=llr_frames))
    given = identity_constraints(db, None, id_threshold=0.5, llr=llr_frames)
    assert np.array_equal(given(np.arange(800), labels), forbid)


def test_pipeline_constraints_setting(folder, rng):
    parts = [blob_speaker(k, 100, rng) for k in (0, 1, 0, 1, 0, 1)]
    X = np.concatenate(parts)
    feats = Features(X=X, frame_period=0.01, speech=np.ones(X.shape[0], dtype=bool))
    kw = dict(initial_clusters=4, M_mfcc=2, speakers=str(folder), id_threshold=0.5,
              seg_length=50, ccr=0, resegmentation="majority")
    on = diarize(feats, **kw)
    off = diarize(feats, id_constraints=False, **kw)
    for result in (on, off):
        assert sorted(set(result.speaker_names)) == ["anna", "bob"]


def test_verify_turns_rules(rng):
    from diarizer.segments import Turn
    from diarizer.speakers.naming import verify_turns

    # frames 0-9; the scored (speech) frames skip 4 and 5
    frames = np.array([0, 1, 2, 3, 6, 7, 8, 9])
    llr = np.array([[1.0, 0.0, 0.0]] * 4 + [[0.1, 1.5, 0.0]] * 2 + [[0.3, 0.5, 0.6]] * 2)
    turns = [Turn(0, 4, "anna"), Turn(4, 8, "anna"), Turn(8, 10, "anna")]
    kw = dict(turn_threshold=0.2, id_threshold=0.8, fallback={"anna": "spk00"})
    out, n = verify_turns(turns, frames, llr, ["anna", "bob", "carl"], **kw)
    # turn 2 (frames 6, 7 scored): anna 0.1 < 0.2, bob 1.5 > 0.8 -> bob; turn 3: anna 0.3 kept
    assert [(t.start, t.end, t.label) for t in out] == [(0, 4, "anna"), (4, 8, "bob"),
                                                        (8, 10, "anna")]
    assert n == 1
    # nobody convincing: the cluster's own label; spkNN turns are never checked
    low = llr.copy()
    low[4:6] = [0.1, 0.5, 0.0]
    out, n = verify_turns(turns + [Turn(10, 12, "spk01")], frames, low,
                          ["anna", "bob", "carl"], **kw)
    assert [t.label for t in out] == ["anna", "spk00", "anna", "spk01"] and n == 1
    # an anonymous turn takes a name by the clusters' rule (3 speakers: raw threshold only)
    out, n = verify_turns([Turn(6, 8, "spk01"), Turn(8, 10, "spk02")], frames, llr,
                          ["anna", "bob", "carl"], **kw)
    assert [t.label for t in out] == ["bob", "spk02"] and n == 1  # 1.5 > 0.8; 0.6 is not
    # with a cohort, the T-score must pass too
    extra = np.zeros((8, 11))
    extra[:4] = 1.4  # the others fit frames 0-3 better than anna does
    extra[4:6] = rng.normal(0.0, 0.1, size=(2, 11))
    many = np.concatenate([llr, extra], axis=1)
    names = ["anna", "bob", "carl"] + [f"x{i}" for i in range(11)]
    out, n = verify_turns([Turn(6, 8, "spk01")], frames, many, names, **kw)
    assert [t.label for t in out] == ["bob"]  # bob 1.5 stands out of 0.1, 0.0 and 11 x ~0
    out, n = verify_turns([Turn(0, 4, "spk01")], frames, many, names, **kw)
    assert [t.label for t in out] == ["spk01"] and n == 0  # anna 1.0 among 11 x 1.4
    # a failed named turn takes another name above cohort_threshold when there is a cohort
    weak = many.copy()
    weak[4:6, :3] = [0.1, 0.6, 0.0]  # anna fails (0.1 < 0.2); bob 0.6 is below 0.8
    out, _ = verify_turns([Turn(4, 8, "anna")], frames, weak, names, **kw)
    assert [t.label for t in out] == ["spk00"]
    out, _ = verify_turns([Turn(4, 8, "anna")], frames, weak, names, cohort_threshold=0.5, **kw)
    assert [t.label for t in out] == ["bob"]
    # ... and only then: with 3 speakers (no cohort) 0.8 still applies
    out, _ = verify_turns([Turn(4, 8, "anna")], frames, weak[:, :3], names[:3],
                          cohort_threshold=0.5, **kw)
    assert [t.label for t in out] == ["spk00"]
    # adjacent turns that end with one label are joined (a turn without scored frames stays)
    out, n = verify_turns([Turn(0, 4, "carl"), Turn(4, 6, "anna")], frames, llr,
                          ["anna", "bob", "carl"], **kw)
    assert [(t.start, t.end, t.label) for t in out] == [(0, 6, "anna")] and n == 1


def test_pipeline_verifies_turns(folder, rng, caplog):
    caplog.set_level("INFO", logger="diarizer")
    # anna, then an unenrolled voice, alternating; one cluster would take anna's name for both
    # with 30 non-speech frames between the parts, so that every part is a turn
    gap = np.zeros((30, 4), dtype=np.float32)
    parts = [blob_speaker(k, 150, rng) for k in (0, 13, 0, 13)]
    X = np.concatenate([p for part in parts for p in (part, gap)])
    speech = np.tile(np.r_[np.ones(150, bool), np.zeros(30, bool)], 4)
    feats = Features(X=X, frame_period=0.01, speech=speech)
    kw = dict(initial_clusters=1, M_mfcc=4, speakers=str(folder), id_threshold=0.5,
              seg_length=50, ccr=0, resegmentation="majority", bridge_pauses=0)
    off = diarize(feats, id_verify_turns=False, **kw)
    assert {t.label for t in off.turns} == {"anna"}  # one cluster, named anna
    db = load_speakers(folder)
    llr = score_clusters(db, X, np.where(speech, np.repeat([0, 1, 0, 1], 180), -1))
    assert llr[1, 0] < 0.2  # the unenrolled turns do not sound like anna on their own
    on = diarize(feats, **kw)
    labels = [t.label for t in on.turns]
    assert labels[0] == "anna" and labels[2] == "anna"
    assert labels[1] != "anna" and labels[3] != "anna"
    assert "turns relabelled by their own LLR" in caplog.text
    # linking gets one vector per RTTM label, the checked turns' labels included
    from diarizer.config import make_settings
    from diarizer.speakers.batch_link import link_payload

    payload = link_payload(make_settings({"speakers": str(folder)}, check_required=False),
                           feats, on)
    assert payload["labels"] == list(dict.fromkeys(labels))
    assert len(payload["vectors"]) == len(payload["labels"])
    assert payload["names"] == [lab if lab in db.names else "" for lab in payload["labels"]]
