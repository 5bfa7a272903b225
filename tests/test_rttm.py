import os

import pytest

from diarizer.exceptions import InputError
from diarizer.io.rttm import RTTMTurn, format_rttm, read_rttm, turns_to_rttm, write_rttm
from diarizer.segments import Turn


def write(tmp_path, text, name="x.rttm"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_read_keeps_speaker_lines_only_and_accepts_9_or_10_fields(tmp_path):
    path = write(tmp_path, (
        ";; a comment\n"
        "\n"
        "SPKR-INFO m1 1 <NA> <NA> <NA> unknown A <NA> <NA>\n"
        "SPEAKER m1 1 0.50 1.25 <NA> <NA> A <NA> <NA>\n"
        "  SPEAKER   m1 1 2 3 <NA> <NA> B <NA>\n"
        "LEXEME m1 1 0.5 0.2 hello lex A <NA> <NA>\n"
        "# another comment\n"
        "speaker m2 2 4.0 1.0 <NA> <NA> C 0.9 <NA> extra\n"
    ))
    assert read_rttm(path) == [
        RTTMTurn("m1", 0.5, 1.25, "A", "1"),
        RTTMTurn("m1", 2.0, 3.0, "B", "1"),
        RTTMTurn("m2", 4.0, 1.0, "C", "2"),
    ]


def test_na_uri_stays_a_string_and_non_ascii_round_trips(tmp_path):
    turns = [RTTMTurn("<NA>", 1.0, 2.0, "MÉO069"), RTTMTurn("trñ00", 0.0, 0.5, "<NA>")]
    path = tmp_path / "out.rttm"
    write_rttm(path, turns)
    back = read_rttm(path)
    assert back == sorted(turns, key=lambda t: t.uri)
    assert back[0].uri == "<NA>" and isinstance(back[0].uri, str)
    assert back[0].speaker == "MÉO069" and back[1].speaker == "<NA>"


def test_format_is_sorted_fixed_precision_and_deterministic():
    turns = [RTTMTurn("b", 0.0, 1.0, "S1"), RTTMTurn("a", 2.0, 1.0, "S2"),
             RTTMTurn("a", 2.0, 0.5, "S3"), RTTMTurn("a", 0.1234, 1.0005, "S1")]
    text = format_rttm(turns)
    assert text == (
        "SPEAKER a 1 0.123 1.000 <NA> <NA> S1 <NA> <NA>\n"
        "SPEAKER a 1 2.000 0.500 <NA> <NA> S3 <NA> <NA>\n"
        "SPEAKER a 1 2.000 1.000 <NA> <NA> S2 <NA> <NA>\n"
        "SPEAKER b 1 0.000 1.000 <NA> <NA> S1 <NA> <NA>\n"
    )
    assert format_rttm(list(reversed(turns))) == text
    assert all(len(line.split()) == 10 for line in text.splitlines())


def test_write_read_write_is_byte_identical(tmp_path):
    turns = [RTTMTurn("m", 0.01 * i, 0.37, f"spk{i % 3}") for i in range(20)]
    write_rttm(tmp_path / "a.rttm", turns)
    write_rttm(tmp_path / "b.rttm", read_rttm(tmp_path / "a.rttm"))
    assert (tmp_path / "a.rttm").read_bytes() == (tmp_path / "b.rttm").read_bytes()


def test_empty_list_writes_empty_file(tmp_path):
    path = tmp_path / "empty.rttm"
    write_rttm(path, [])
    assert path.read_bytes() == b""
    assert read_rttm(path) == []


@pytest.mark.parametrize("turn,match", [
    (RTTMTurn("my meeting", 0.0, 1.0, "A"), "uri must be a non-empty string without whitespace"),
    (RTTMTurn("", 0.0, 1.0, "A"), "uri must be a non-empty string"),
    (RTTMTurn("m", 0.0, 1.0, "spk 1"), "speaker label must be a non-empty string"),
    (RTTMTurn("m", 0.0, 1.0, ""), "speaker label must be a non-empty string"),
    (RTTMTurn("m", 0.0, 1.0, "A", "1\t"), "channel must be"),
    (RTTMTurn("m", 0.0, 0.0, "A"), "must last at least 0.001 s"),
    (RTTMTurn("m", 0.0, -1.0, "A"), "must last at least 0.001 s"),
    (RTTMTurn("m", 0.0, 0.0004, "A"), "must last at least 0.001 s"),
    (RTTMTurn("m", float("nan"), 1.0, "A"), "times must be finite"),
])
def test_format_refuses_what_rttm_cannot_hold(turn, match):
    with pytest.raises(ValueError, match=match):
        format_rttm([turn])


def test_failed_write_leaves_old_file_and_no_temp_file(tmp_path):
    path = tmp_path / "out.rttm"
    path.write_text("old\n")
    with pytest.raises(ValueError, match="uri must be"):
        write_rttm(path, [RTTMTurn("a b", 0.0, 1.0, "A")])
    assert path.read_text() == "old\n"
    write_rttm(path, [RTTMTurn("a", 0.0, 1.0, "A")])
    assert os.listdir(tmp_path) == ["out.rttm"]


def test_write_to_missing_directory_is_input_error(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        write_rttm(tmp_path / "nope" / "out.rttm", [RTTMTurn("a", 0.0, 1.0, "A")])


@pytest.mark.parametrize("line,match", [
    ("SPEAKER m 1 0.0 1.0 <NA> <NA> A", "line 2: a SPEAKER line needs at least 9 fields, got 8"),
    ("SPEAKER m 1 zero 1.0 <NA> <NA> A <NA>", "line 2: start time 'zero' is not a number"),
    ("SPEAKER m 1 0.0 <NA> <NA> <NA> A <NA>", "line 2: duration '<NA>' is not a number"),
    ("SPEAKER m 1 nan 1.0 <NA> <NA> A <NA>", "line 2: start time 'nan' is not finite"),
    ("SPEAKER m 1 0.0 inf <NA> <NA> A <NA>", "line 2: duration 'inf' is not finite"),
    ("SPEAKER m 1 0.0 -1.0 <NA> <NA> A <NA>", "line 2: negative duration -1.0"),
    ("m 0.0 1.0 A", "line 2: unknown RTTM record type 'm' \\(not an RTTM file\\?\\)"),
    ("start end speaker", "line 2: unknown RTTM record type 'start'"),
])
def test_malformed_lines_name_path_and_line(tmp_path, line, match):
    path = write(tmp_path, "SPEAKER m 1 0 1 <NA> <NA> A <NA> <NA>\n" + line + "\n")
    with pytest.raises(InputError, match=match) as info:
        read_rttm(path)
    assert str(info.value).startswith(str(path) + ": ")


def test_unreadable_and_non_utf8_files(tmp_path):
    with pytest.raises(InputError, match="cannot read RTTM file"):
        read_rttm(tmp_path / "missing.rttm")
    path = tmp_path / "latin1.rttm"
    path.write_bytes("SPEAKER m 1 0 1 <NA> <NA> MÉO <NA> <NA>\n".encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        read_rttm(path)


def test_zero_duration_turns_are_dropped_unless_kept(tmp_path):
    path = write(tmp_path, "SPEAKER m 1 0 1 <NA> <NA> A <NA> <NA>\n"
                           "SPEAKER m 1 5 0 <NA> <NA> A <NA> <NA>\n")
    assert read_rttm(path) == [RTTMTurn("m", 0.0, 1.0, "A")]
    assert read_rttm(path, keep_empty=True)[1] == RTTMTurn("m", 5.0, 0.0, "A")


def test_turn_end_property():
    assert RTTMTurn("m", 1.5, 2.25, "A").end == 3.75


def test_turns_to_rttm_converts_frames_to_seconds():
    out = turns_to_rttm("m", [Turn(2, 5, "spk00"), Turn(100, 250, "spk01")], 0.01)
    assert [(t.uri, t.speaker, t.channel) for t in out] == [("m", "spk00", "1"),
                                                             ("m", "spk01", "1")]
    assert [t.start for t in out] == pytest.approx([0.02, 1.0])
    assert [t.duration for t in out] == pytest.approx([0.03, 1.5])
    assert format_rttm(out).splitlines()[1] == "SPEAKER m 1 1.000 1.500 <NA> <NA> spk01 <NA> <NA>"


@pytest.mark.parametrize("period", [0.0, -0.01, float("nan")])
def test_turns_to_rttm_refuses_bad_frame_period(period):
    with pytest.raises(ValueError, match="frame period must be a finite number > 0"):
        turns_to_rttm("m", [Turn(0, 1, "A")], period)
