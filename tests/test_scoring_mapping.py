import pytest

from diarizer.exceptions import ConfigError
from diarizer.io.rttm import RTTMTurn
from diarizer.scoring import score, speaker_mapping


def T(uri, start, end, spk):
    return RTTMTurn(uri, float(start), float(end - start), spk)


def test_mapping_maximises_total_overlap_not_greedy():
    # Greedy would give x->A (6 s) and leave y->B with 0 s; the optimum is x->B, y->A (5 + 5).
    ref = [T("m", 0, 6, "A"), T("m", 6, 11, "B")]
    hyp = [T("m", 1, 11, "x"), T("m", 0, 5, "y")]
    # overlap: x/A 5, x/B 5, y/A 5, y/B 0 -> {x: B, y: A} total 10 beats {x: A} total 5
    assert speaker_mapping(ref, hyp) == {"x": "B", "y": "A"}


def test_unmapped_and_non_overlapping_speakers_are_absent():
    ref = [T("m", 0, 10, "A"), T("m", 10, 20, "B")]
    hyp = [T("m", 0, 12, "x"), T("m", 12, 18, "y"), T("m", 18, 22, "z")]
    assert speaker_mapping(ref, hyp) == {"x": "A", "y": "B"}
    # a system speaker that never overlaps any reference speaker is not mapped
    assert speaker_mapping(ref, [T("m", 30, 40, "w")], uem={"m": [(0, 40)]}) == {}
    assert speaker_mapping(ref, []) == {}


def test_mapping_counts_only_the_evaluated_region():
    ref = [T("m", 0, 10, "A"), T("m", 10, 20, "B")]
    hyp = [T("m", 0, 20, "x"), T("m", 10, 12, "y")]
    # over all time x overlaps A 10 and B 10, y overlaps B 2: x->A, y->B (12) vs x->B (10)
    assert speaker_mapping(ref, hyp) == {"x": "A", "y": "B"}
    # evaluated on [10, 20) only: x/B 10 beats y/B 2
    assert speaker_mapping(ref, hyp, uem={"m": [(10.0, 20.0)]}) == {"x": "B"}


def test_mapping_agrees_with_the_scorer_confusion():
    ref = [T("m", 0, 10, "A"), T("m", 10, 20, "B"), T("m", 15, 25, "C")]
    hyp = [T("m", 0, 8, "1"), T("m", 8, 21, "2"), T("m", 21, 25, "3")]
    mapping = speaker_mapping(ref, hyp)
    assert mapping == {"1": "A", "2": "B", "3": "C"}
    # by hand with that mapping: confusion 8-10 (2 on A) + 20-21 (2 on C) = 3 s;
    # 15-20 has B and C against 2 (mapped to B): 5 s missed, no confusion
    total = score(ref, hyp).total
    assert (total.confusion, total.missed, total.false_alarm) == (3.0, 5.0, 0.0)


def test_uri_selection():
    ref = [T("a", 0, 5, "A"), T("b", 0, 5, "B")]
    hyp = [T("a", 0, 5, "s"), T("b", 0, 5, "s")]
    assert speaker_mapping(ref, hyp, uri="b") == {"s": "B"}
    with pytest.raises(ConfigError, match="needs a uri when the reference holds 2 recordings"):
        speaker_mapping(ref, hyp)
    with pytest.raises(ConfigError, match="The uri 'c' is not in the reference"):
        speaker_mapping(ref, hyp, uri="c")
