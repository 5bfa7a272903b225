import warnings

import numpy as np
import pytest

from diarizer.exceptions import DiarizerError, InputError
from diarizer.io.spnsp import mask_to_segments, read_spnsp, segments_to_mask, write_spnsp


@pytest.fixture
def rng():
    return np.random.default_rng(2024)


def _file(tmp_path, text, name="a.spch", mode="w"):
    p = tmp_path / name
    if mode == "wb":
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return p


def _read_quiet(path, **kw):
    """read_spnsp that fails the test on any warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return read_spnsp(path, **kw)


# --------------------------------------------------------------------------- layouts and rule

@pytest.mark.parametrize("line", [
    "IS1008a 1 0.02 0.05",            # original: fields 2-3
    "IS1008a 1 0.02 0.05 extra junk",  # original, more fields
    "0.02 0.05",                      # two columns
    "0.02 0.05 sp",                   # VBx .lab style
    "  0.02\t0.05  ",                 # any whitespace
])
def test_layouts_and_inclusive_end(tmp_path, line):
    # st = floor(2 + .5) = 2, en = floor(5 + .5) = 5 -> frames 2..5 inclusive -> [2, 6)
    segs = _read_quiet(_file(tmp_path, line + "\n"))
    assert segs.dtype == np.int64
    assert segs.tolist() == [[2, 6]]


def test_comments_blank_lines_and_bom(tmp_path):
    text = "\ufeff# header\n\n;; another comment\n   \nx 1 1.00 1.99\n# 5 6\n"
    assert _read_quiet(_file(tmp_path, text)).tolist() == [[100, 200]]


@pytest.mark.parametrize("text, fp, expected", [
    ("0.004 0.015", 0.01, [[0, 3]]),     # 0.4+.5 -> 0 ; 1.5+.5 -> 2 -> [0, 3)
    ("0.125 0.125", 0.01, [[13, 14]]),   # 12.5 exactly -> 13
    ("0.235 0.235", 0.01, [[24, 25]]),   # 100 * t = 23.5 -> 24 as the original (t / fp -> 23)
    ("0.016 0.04", 0.008, [[2, 6]]),     # rate 125: 2.0 -> 2, 5.0 -> 5
    ("0.09 0.15", 0.03, [[3, 6]]),       # non-integral rate: t / fp = 3.0000000000000004, 5
    ("1.00 1.00", 0.01, [[100, 101]]),   # zero-length line still covers one frame (original)
])
def test_seconds_to_frames_rule(tmp_path, text, fp, expected):
    assert _read_quiet(_file(tmp_path, text + "\n"), frame_period=fp).tolist() == expected


def test_empty_and_comment_only_files(tmp_path):
    for text in ["", "# nothing\n\n"]:
        segs = _read_quiet(_file(tmp_path, text))
        assert segs.shape == (0, 2) and segs.dtype == np.int64


# --------------------------------------------------------------------------- sorting / merging

def test_touching_segments_merge_silently(tmp_path):
    # 0..100 and 100..200 inclusive share frame 100
    segs = _read_quiet(_file(tmp_path, "a 1 0.00 1.00\na 1 1.00 2.00\n"))
    assert segs.tolist() == [[0, 201]]


def test_adjacent_segments_merge_silently(tmp_path):
    segs = _read_quiet(_file(tmp_path, "0.00 0.99\n1.00 1.49\n1.60 1.70\n"))
    assert segs.tolist() == [[0, 150], [160, 171]]


def test_overlap_warns_and_merges(tmp_path):
    p = _file(tmp_path, "0.00 1.00\n0.50 2.00\n3.00 3.50\n")
    with pytest.warns(UserWarning, match=r"overlapping speech segments \(line 2\); merging"):
        segs = read_spnsp(p)
    assert segs.tolist() == [[0, 201], [300, 351]]


def test_unsorted_warns_and_sorts(tmp_path):
    p = _file(tmp_path, "2.00 3.00\n0.00 1.00\n")
    with pytest.warns(UserWarning, match=r"not in time order \(line 2\); sorting"):
        segs = read_spnsp(p)
    assert segs.tolist() == [[0, 101], [200, 301]]


def test_contained_segment_warns(tmp_path):
    p = _file(tmp_path, "0.00 5.00\n1.00 2.00\n")
    with pytest.warns(UserWarning, match="overlapping"):
        assert read_spnsp(p).tolist() == [[0, 501]]


# --------------------------------------------------------------------------- features' end

def test_end_one_frame_past_is_clipped(tmp_path):
    # n_frames 100: "0 1.00" ends at inclusive frame 100 (one past the last, 99) -> clipped
    assert _read_quiet(_file(tmp_path, "0 1.00\n"), n_frames=100).tolist() == [[0, 100]]
    assert _read_quiet(_file(tmp_path, "0 0.99\n"), n_frames=100).tolist() == [[0, 100]]


def test_end_more_than_one_frame_past_is_error(tmp_path):
    with pytest.raises(InputError, match=r"line 2: segment ends at 1.01 s, past the end of the"
                                         r" features, which last 1.000 s \(100 frames"):
        read_spnsp(_file(tmp_path, "0 0.5\n0.6 1.01\n"), n_frames=100)


def test_start_at_or_after_end_is_error(tmp_path):
    with pytest.raises(InputError, match=r"line 1: segment starts at 1.0 s, at or after the end"
                                         r" of the features, which last 1.000 s"):
        read_spnsp(_file(tmp_path, "1.0 1.2\n"), n_frames=100)


def test_n_frames_zero_rejects_any_segment(tmp_path):
    with pytest.raises(InputError, match="at or after the end"):
        read_spnsp(_file(tmp_path, "0 0\n"), n_frames=0)
    assert read_spnsp(_file(tmp_path, "# none\n"), n_frames=0).shape == (0, 2)


# --------------------------------------------------------------------------- errors

@pytest.mark.parametrize("text, match", [
    ("0.5\n", r"line 1: expected 'start end'"),
    ("a 1 0.5 zz\n", r"line 1: cannot parse end time 'zz'"),
    ("# c\nabc 1.0\n", r"line 2: cannot parse start time 'abc'"),
    ("0 1\n2.0 1.5\n", r"line 2: segment ends at 1.5 s, before it starts at 2.0 s"),
    ("-0.5 1\n", r"line 1: start time -0.5 is negative"),
    ("a 1 nan 1\n", r"line 1: start time 'nan' is not a finite number"),
    ("0 inf\n", r"line 1: end time 'inf' is not a finite number"),
    ("0 1e308\n", r"line 1: time 1e\+308 s is too large"),
    ("0 1e17\n", r"line 1: time 1e\+17 s is too large"),
])
def test_read_errors(tmp_path, text, match):
    p = _file(tmp_path, text)
    with pytest.raises(InputError, match=match) as info:
        read_spnsp(p)
    assert str(info.value).startswith(str(p) + ": ")


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="x.spch: file not found"):
        read_spnsp(tmp_path / "x.spch")


def test_directory(tmp_path):
    with pytest.raises(InputError, match="is a directory"):
        read_spnsp(tmp_path)


def test_binary_file(tmp_path):
    with pytest.raises(InputError, match="not a UTF-8 text file"):
        read_spnsp(_file(tmp_path, b"0 1\n\xff\xfe\x00", mode="wb"))


@pytest.mark.parametrize("kw, match", [({"frame_period": 0}, "frame_period must be"),
                                       ({"frame_period": "x"}, "frame_period must be"),
                                       ({"n_frames": -1}, "n_frames must be >= 0")])
def test_bad_arguments(tmp_path, kw, match):
    with pytest.raises(ValueError, match=match):
        read_spnsp(_file(tmp_path, "0 1\n"), **kw)


# --------------------------------------------------------------------------- writing

def test_write_layout(tmp_path):
    p = tmp_path / "o.spch"
    write_spnsp(p, [[150, 301], [0, 124]], basename="IS1008a")
    assert p.read_text() == "IS1008a 1 0.000 1.230\nIS1008a 1 1.500 3.000\n"
    write_spnsp(p, np.array([[5, 6]]))
    assert p.read_text() == "<NA> 1 0.050 0.050\n"
    assert read_spnsp(p).tolist() == [[5, 6]]


@pytest.mark.parametrize("fp", [0.01, 0.008, 0.0125, 0.03, 0.001])
def test_write_read_round_trip(tmp_path, rng, fp):
    mask = rng.random(3000) < 0.6
    segs = mask_to_segments(mask)
    assert len(segs) > 100
    p = tmp_path / "r.spch"
    write_spnsp(p, segs, frame_period=fp, basename="m")
    back = _read_quiet(p, frame_period=fp, n_frames=3000)
    np.testing.assert_array_equal(back, segs)


@pytest.mark.parametrize("segs, kw, match", [
    ([[3, 3]], {}, r"0 <= start < end. Segment 0 is \[3, 3\)"),
    ([[0, 2], [-1, 4]], {}, r"Segment 1 is \[-1, 4\)"),
    ([[0.0, 2.0]], {}, "integer array of shape"),
    ([1, 2], {}, "integer array of shape"),
    ([[0, 2]], {"basename": "a b"}, "whitespace"),
    ([[0, 2]], {"frame_period": -0.01}, "frame_period must be"),
])
def test_write_errors(tmp_path, segs, kw, match):
    with pytest.raises(ValueError, match=match):
        write_spnsp(tmp_path / "w.spch", segs, **kw)
    assert not (tmp_path / "w.spch").exists()


def test_write_empty(tmp_path):
    write_spnsp(tmp_path / "e.spch", np.zeros((0, 2), dtype=np.int64))
    assert (tmp_path / "e.spch").read_text() == ""


# --------------------------------------------------------------------------- mask helpers

def test_segments_to_mask_hand_example():
    mask = segments_to_mask([[1, 3], [4, 5]], 6)
    assert mask.dtype == bool
    assert mask.tolist() == [False, True, True, False, True, False]


def test_segments_to_mask_overlapping_and_empty():
    assert segments_to_mask([[0, 3], [2, 4], [2, 3]], 5).tolist() == [1, 1, 1, 1, 0]
    assert segments_to_mask(np.zeros((0, 2), dtype=np.int64), 3).tolist() == [0, 0, 0]
    assert segments_to_mask([], 0).shape == (0,)


def test_mask_to_segments_hand_examples():
    assert mask_to_segments([0, 1, 1, 0, 1, 0]).tolist() == [[1, 3], [4, 5]]
    assert mask_to_segments([1, 1, 1]).tolist() == [[0, 3]]
    assert mask_to_segments([0, 0]).shape == (0, 2)
    assert mask_to_segments([]).shape == (0, 2)
    assert mask_to_segments([1, 0, 1]).dtype == np.int64


def test_mask_round_trip(rng):
    for _ in range(20):
        mask = rng.random(int(rng.integers(0, 200))) < rng.random()
        segs = mask_to_segments(mask)
        np.testing.assert_array_equal(segments_to_mask(segs, mask.size), mask)
        if len(segs):  # canonical: sorted, disjoint, non-adjacent
            assert np.all(segs[1:, 0] > segs[:-1, 1])


@pytest.mark.parametrize("call, match", [
    (lambda: segments_to_mask([[0, 7]], 6), r"ends after n_frames \(6\)"),
    (lambda: segments_to_mask([[2, 1]], 6), "0 <= start < end"),
    (lambda: segments_to_mask([[0, 1]], -1), "n_frames must be >= 0"),
    (lambda: mask_to_segments([[True]]), "one-dimensional"),
])
def test_mask_helper_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------------------- fuzz

def test_fuzz_reader_raises_only_diarizer_errors(tmp_path, rng):
    tokens = ["0", "1.5", "-1", "nan", "inf", "1e400", "abc", "IS1008a", "1", "0.01", "2.5",
              "#", ";;", "sp", "1e18", "", "\t", "99.99", ".", "1,5"]
    p = tmp_path / "fuzz.spch"
    outcomes = {"ok": 0, "error": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(300):
            lines = [" ".join(rng.choice(tokens, size=int(rng.integers(0, 6))).tolist())
                     for _ in range(int(rng.integers(0, 5)))]
            text = "\n".join(lines)
            if i % 5 == 0:  # random bytes, sometimes not UTF-8
                p.write_bytes(rng.integers(0, 256, size=int(rng.integers(0, 40)),
                                           dtype=np.uint8).tobytes())
            else:
                p.write_text(text)
            n_frames = None if i % 2 else int(rng.integers(0, 500))
            try:
                segs = read_spnsp(p, n_frames=n_frames)
            except DiarizerError as exc:
                assert isinstance(exc, InputError) and "\n" not in str(exc)
                outcomes["error"] += 1
            else:
                assert segs.ndim == 2 and segs.shape[1] == 2 and segs.dtype == np.int64
                if len(segs):
                    assert np.all(segs[:, 1] > segs[:, 0]) and np.all(segs[:, 0] >= 0)
                    assert np.all(segs[1:, 0] > segs[:-1, 1])
                    if n_frames is not None:
                        assert segs[-1, 1] <= n_frames
                outcomes["ok"] += 1
    assert outcomes["ok"] > 30 and outcomes["error"] > 30


def test_committed_fixture_matches_htk_fixture():
    from pathlib import Path

    from diarizer.io.htk import read_htk

    data = Path(__file__).parent / "data"
    feats = read_htk(data / "htk_fbank.htk")
    segs = _read_quiet(data / "spnsp_kaldi_test.spch", frame_period=feats.frame_period,
                       n_frames=feats.n_frames)
    assert segs.tolist() == [[10, 61], [80, 142]]
    assert segments_to_mask(segs, feats.n_frames).sum() == 51 + 62
