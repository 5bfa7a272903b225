"""Frame-label helpers of diarizer.segments: bridging short pauses inside a speaker's turn."""

import numpy as np

from diarizer.segments import bridge_gaps, label_order, labels_to_turns

L = np.array([-1, 0, 0, -1, -1, 0, -1, 1, -1, -1, -1, 1, -1, 2, -1, -1, 1])


def test_only_gaps_between_the_same_label_shorter_than_the_limit():
    out = bridge_gaps(L, 3)
    # the 2-frame gap inside label 0 is filled; the 3-frame gap inside label 1 is not (not < 3);
    # gaps between different labels and at the ends never are
    assert out.tolist() == [-1, 0, 0, 0, 0, 0, -1, 1, -1, -1, -1, 1, -1, 2, -1, -1, 1]
    assert bridge_gaps(L, 4)[8:11].tolist() == [1, 1, 1]
    assert L[3] == -1  # the input is not modified


def test_gaps_outside_the_allowed_frames_stay():
    allowed = np.ones(L.size, dtype=bool)
    allowed[4] = False
    out = bridge_gaps(L, 4, allowed)
    assert out[3:5].tolist() == [-1, -1] and out[8:11].tolist() == [1, 1, 1]


def test_zero_and_degenerate_inputs():
    assert np.array_equal(bridge_gaps(L, 0), L)
    assert bridge_gaps(np.array([0, -1]), 5).tolist() == [0, -1]
    assert bridge_gaps(np.array([-1, -1, -1]), 5).tolist() == [-1, -1, -1]
    assert bridge_gaps(np.array([0, 0, 0]), 5).tolist() == [0, 0, 0]


def test_bridged_turns_merge():
    turns = labels_to_turns(bridge_gaps(L, 3), ["a", "b", "c"])
    assert [(t.start, t.end, t.label) for t in turns][:2] == [(1, 6, "a"), (7, 8, "b")]


def test_label_order_is_a_stable_argsort():
    rng = np.random.default_rng(3)
    for n_labels in (1, 5, 40000):
        labels = rng.integers(-1, n_labels, 5000)
        order = label_order(labels, n_labels)
        assert order.tolist() == np.argsort(labels, kind="stable").tolist()
    # hand-countable: label -1 first, then 0, 1, 2, each in time order
    assert label_order(np.array([2, 0, -1, 0, 2, 1]), 3).tolist() == [2, 1, 3, 5, 0, 4]
