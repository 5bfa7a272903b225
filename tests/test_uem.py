import os

import pytest

from diarizer.exceptions import InputError
from diarizer.io.uem import format_uem, merge_regions, read_uem, write_uem


def write(tmp_path, text):
    path = tmp_path / "x.uem"
    path.write_text(text, encoding="utf-8")
    return path


def test_read_sorts_merges_and_ignores_comments_and_channel(tmp_path):
    path = write(tmp_path, (
        ";; comment\n"
        "# another\n"
        "\n"
        "m1 1 25 30.4\n"
        "m1 NA 0 15\n"
        "m1 1 10 20\n"
        "  m2 1 4.5 13.24 extra\n"
        "trñ00 1 0 0\n"
        "<NA> 1 1 2\n"
    ))
    assert read_uem(path) == {
        "m1": [(0.0, 20.0), (25.0, 30.4)],
        "m2": [(4.5, 13.24)],
        "trñ00": [],
        "<NA>": [(1.0, 2.0)],
    }


def test_round_trip(tmp_path):
    regions = {"b": [(0.0, 1.5)], "a": [(3.0, 4.0), (0.0, 2.0)], "MÉO": [(0.25, 0.75)]}
    path = tmp_path / "out.uem"
    write_uem(path, regions)
    assert path.read_text(encoding="utf-8") == (
        "MÉO 1 0.250 0.750\na 1 0.000 2.000\na 1 3.000 4.000\nb 1 0.000 1.500\n")
    assert read_uem(path) == {uri: sorted(r) for uri, r in regions.items()}
    assert os.listdir(tmp_path) == ["out.uem"]


def test_merge_regions_touching_and_nested():
    assert merge_regions([(3, 4), (0, 2), (2, 3), (0.5, 1), (6, 6), (5, 7)]) == [
        (0.0, 4.0), (5.0, 7.0)]
    assert merge_regions([]) == []


@pytest.mark.parametrize("line,match", [
    ("m 1 0", "line 2: a UEM line needs 4 fields \\(uri channel start end\\), got 3"),
    ("m 1 a 3", "line 2: start time 'a' is not a number"),
    ("m 1 0 inf", "line 2: end time 'inf' is not finite"),
    ("m 1 5 3", "line 2: end time 3 is before start time 5"),
])
def test_bad_lines_name_path_and_line(tmp_path, line, match):
    path = write(tmp_path, "m 1 0 1\n" + line + "\n")
    with pytest.raises(InputError, match=match) as info:
        read_uem(path)
    assert str(info.value).startswith(str(path) + ": ")


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="cannot read UEM file"):
        read_uem(tmp_path / "none.uem")


@pytest.mark.parametrize("regions,match", [
    ({"a b": [(0.0, 1.0)]}, "uri must be a non-empty string without whitespace"),
    ({"": [(0.0, 1.0)]}, "uri must be a non-empty string"),
    ({"a": [(2.0, 1.0)]}, "end >= start"),
    ({"a": [(0.0, float("nan"))]}, "finite times"),
])
def test_format_refuses_bad_regions(tmp_path, regions, match):
    with pytest.raises(ValueError, match=match):
        format_uem(regions)
    with pytest.raises(ValueError, match=match):
        write_uem(tmp_path / "bad.uem", regions)
    assert os.listdir(tmp_path) == []
