import argparse
import csv
import json
import logging
import math
from collections import defaultdict
from pathlib import Path

import pytest

from diarizer.exceptions import ConfigError, InputError
from diarizer.io.rttm import RTTMTurn, write_rttm
from diarizer.scoring import (
    DERReport,
    FileScore,
    add_score_arguments,
    format_report,
    report_to_json,
    run_score,
    score,
    score_paths,
)

DATA = Path(__file__).parent / "data" / "scoring"


def turns(uri, *items):
    return [RTTMTurn(uri, float(s), float(e) - float(s), spk) for s, e, spk in items]


# pyannote.metrics tests/test_diarization.py toy: total 31, miss 2, FA 7, confusion 7.
TOY_REF = turns("toy", (0, 10, "A"), (12, 20, "B"), (24, 27, "A"), (30, 40, "C"))
TOY_HYP = turns("toy", (2, 13, "a"), (13, 14, "d"), (14, 20, "b"), (22, 38, "c"), (38, 40, "d"))


def assert_score(fs, scored, missed, false_alarm, confusion):
    assert fs.scored == pytest.approx(scored, abs=1e-9)
    assert fs.missed == pytest.approx(missed, abs=1e-9)
    assert fs.false_alarm == pytest.approx(false_alarm, abs=1e-9)
    assert fs.confusion == pytest.approx(confusion, abs=1e-9)


@pytest.mark.parametrize("uem", [None, {"toy": [(0.0, 40.0)]}])
def test_pyannote_toy_all_components(uem):
    report = score(TOY_REF, TOY_HYP, uem=uem)
    assert_score(report.files["toy"], 31, 2, 7, 7)
    assert report.files["toy"].correct == pytest.approx(22)
    assert report.total.der == pytest.approx(100 * 16 / 31)


def test_uem_restricts_scoring_and_mapping():
    # Within [0, 20]: A->a (8 s), B->b (6 s); miss [0,2], FA [10,12], confusion [12,14].
    report = score(TOY_REF, TOY_HYP, uem={"toy": [(0.0, 20.0)]})
    assert_score(report.total, 18, 2, 2, 2)
    assert report.total.der == pytest.approx(100 * 6 / 18)


def test_uem_with_two_regions_sums_them():
    report = score(TOY_REF, TOY_HYP, uem={"toy": [(30.0, 40.0), (0.0, 5.0)]})
    # [0,5]: A; a from 2 -> miss 2. [30,40]: C; c until 38 then d -> confusion 2 (C->c).
    assert_score(report.total, 15, 2, 0, 2)


def test_no_uem_scores_reference_extent_only():
    ref = turns("m", (1, 2, "A"))
    hyp = turns("m", (0, 3, "x"))
    assert_score(score(ref, hyp).total, 1, 0, 0, 0)
    assert_score(score(ref, hyp, uem={"m": [(0.0, 3.0)]}).total, 1, 0, 2, 0)


def test_collar_is_plus_minus_around_reference_boundaries():
    ref = turns("m", (0, 10, "A"), (10, 20, "B"))
    hyp = turns("m", (0.2, 10.4, "x"), (10.4, 20, "y"))
    assert_score(score(ref, hyp).total, 20, 0.2, 0, 0.4)
    # collar 0.25: [0,0.25], [9.75,10.25] (A and B lose 0.25 s each), [19.75,20] not scored;
    # the miss [0,0.2] falls in a collar, the confusion [10.25,10.4] does not.
    assert_score(score(ref, hyp, collar=0.25).total, 19, 0, 0, 0.15)
    assert_score(score(ref, hyp, collar=0.5).total, 18, 0, 0, 0)


def test_mapping_is_computed_before_collars():
    # x overlaps B longer (11 s) than A (10 s) over the evaluated region, so x maps to B even
    # though with a 1 s collar A has 8 scored seconds and B only 3 (checked against md-eval).
    ref = turns("m", (0, 10, "A"), (10, 12.75, "B"), (13, 15.75, "B"), (16, 18.75, "B"),
                (19, 21.75, "B"))
    hyp = turns("m", (0, 22, "x"))
    assert_score(score(ref, hyp, collar=1.0).total, 11, 0, 0, 8)


def test_skip_overlap_scores_single_speaker_regions_only():
    ref = turns("m", (0, 10, "A"), (6, 15, "B"))
    hyp = turns("m", (0, 15, "x"))
    # x -> A (10 s > 9 s). [6,10]: 2 ref, 1 sys -> 4 s missed; [10,15]: B with x -> confusion.
    assert_score(score(ref, hyp).total, 19, 4, 0, 5)
    assert_score(score(ref, hyp, skip_overlap=True).total, 11, 0, 0, 5)


def test_skip_overlap_counts_self_overlapping_reference_turns():
    # md-eval counts reference *turns*: one speaker overlapping itself is excluded by -1.
    ref = turns("m", (0, 4, "A"), (3, 6, "A"))
    hyp = turns("m", (0, 6, "x"))
    assert_score(score(ref, hyp).total, 6, 0, 0, 0)
    assert_score(score(ref, hyp, skip_overlap=True).total, 5, 0, 0, 0)


def test_same_speaker_overlapping_turns_count_once():
    ref = turns("m", (0, 4, "A"), (2, 6, "A"))
    hyp = turns("m", (0, 3, "x"), (3, 6, "x"), (1, 2, "x"))
    assert_score(score(ref, hyp).total, 6, 0, 0, 0)


def test_zero_duration_reference_turn_extends_the_default_region():
    ref = turns("m", (0, 2, "A")) + [RTTMTurn("m", 5.0, 0.0, "A")]
    hyp = turns("m", (0, 6, "x"))
    assert_score(score(ref, hyp).total, 2, 0, 3, 0)


def test_multi_file_totals_are_time_weighted():
    ref = turns("f1", (0, 10, "A")) + turns("f2", (0, 90, "B"))
    hyp = turns("f1", (0, 5, "x")) + turns("f2", (0, 90, "y"))
    report = score(ref, hyp)
    assert report.files["f1"].der == pytest.approx(50.0)
    assert report.files["f2"].der == pytest.approx(0.0)
    assert_score(report.total, 100, 5, 0, 0)
    assert report.total.der == pytest.approx(5.0)  # not the 25 % mean of the rates


def test_reference_file_without_system_is_all_miss_and_system_only_file_is_ignored(caplog):
    ref = turns("f1", (0, 10, "A")) + turns("f2", (0, 4, "B"))
    hyp = turns("f1", (0, 10, "x")) + turns("zz", (0, 50, "y"))
    with caplog.at_level(logging.WARNING, logger="diarizer.scoring"):
        report = score(ref, hyp)
    assert list(report.files) == ["f1", "f2"]
    assert_score(report.files["f2"], 4, 4, 0, 0)
    assert_score(report.total, 14, 4, 0, 0)
    assert "zz" in caplog.text


def test_file_missing_from_uem_falls_back_to_reference_extent(caplog):
    ref = turns("f1", (1, 2, "A")) + turns("f2", (1, 2, "A"))
    hyp = turns("f1", (0, 3, "x")) + turns("f2", (0, 3, "x"))
    with caplog.at_level(logging.WARNING, logger="diarizer.scoring"):
        report = score(ref, hyp, uem={"f1": [(0.0, 3.0)]})
    assert_score(report.files["f1"], 1, 0, 2, 0)
    assert_score(report.files["f2"], 1, 0, 0, 0)
    assert "f2: no UEM entry" in caplog.text


def test_no_scored_time_gives_zero_or_infinite_der():
    ref = turns("m", (0, 1, "A"))
    hyp = turns("m", (2, 3, "x"))
    empty = score(ref, [], uem={"m": [(5.0, 6.0)]})
    assert_score(empty.total, 0, 0, 0, 0)
    assert empty.total.der == 0.0
    fa_only = score(ref, hyp, uem={"m": [(2.0, 3.0)]})
    assert_score(fa_only.total, 0, 0, 1, 0)
    assert math.isinf(fa_only.total.der)
    assert report_to_json(fa_only)["total"]["der"] is None


@pytest.mark.parametrize("collar", [-0.1, float("nan"), float("inf")])
def test_bad_collar_is_refused(collar):
    with pytest.raises(ConfigError, match="collar must be a finite number"):
        score(TOY_REF, TOY_HYP, collar=collar)


def test_filescore_addition_and_der():
    total = FileScore(10, 1, 2, 3) + FileScore(30, 0, 0, 0)
    assert total == FileScore(40, 1, 2, 3)
    assert total.der == pytest.approx(15.0)
    assert total.error == pytest.approx(6.0)


def test_report_to_json_shape():
    data = report_to_json(score(TOY_REF, TOY_HYP))
    keys = {"scored", "missed", "false_alarm", "confusion", "der"}
    assert set(data) == {"files", "total"}
    assert set(data["files"]) == {"toy"}
    assert set(data["files"]["toy"]) == keys and set(data["total"]) == keys
    assert data["total"]["der"] == pytest.approx(100 * 16 / 31)
    json.dumps(data)


def test_format_report_has_file_and_total_rows():
    report = DERReport({"a": FileScore(10, 1, 0, 0), "b": FileScore(10, 0, 0, 3)},
                       FileScore(20, 1, 0, 3))
    lines = format_report(report).splitlines()
    assert lines[0].split() == ["uri", "scored", "missed", "false_alarm", "confusion", "DER%"]
    assert lines[2].split() == ["a", "10.000", "1.000", "0.000", "0.000", "10.00"]
    assert lines[3].split() == ["b", "10.000", "0.000", "0.000", "3.000", "30.00"]
    assert lines[-1].split() == ["TOTAL", "20.000", "1.000", "0.000", "3.000", "20.00"]


# --- files, directories and the CLI hooks ---------------------------------------------------

def test_score_paths_reads_directories(tmp_path):
    (tmp_path / "ref").mkdir()
    (tmp_path / "sys").mkdir()
    write_rttm(tmp_path / "ref" / "a.rttm", turns("f1", (0, 10, "A")))
    write_rttm(tmp_path / "ref" / "b.rttm", turns("f2", (0, 90, "B")))
    (tmp_path / "ref" / "notes.txt").write_text("not an rttm\n")
    write_rttm(tmp_path / "sys" / "all.rttm",
               turns("f1", (0, 5, "x")) + turns("f2", (0, 90, "y")))
    report = score_paths(tmp_path / "ref", tmp_path / "sys")
    assert_score(report.total, 100, 5, 0, 0)


def test_score_paths_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    ref = DATA / "pyannote_metrics_toy" / "ref.rttm"
    with pytest.raises(InputError, match="directory holds no .rttm file"):
        score_paths(tmp_path / "empty", ref)
    with pytest.raises(InputError, match="cannot read RTTM file"):
        score_paths(tmp_path / "missing.rttm", ref)
    with pytest.raises(InputError, match="cannot read UEM file"):
        score_paths(ref, ref, uem=tmp_path / "missing.uem")


def make_parser():
    return add_score_arguments(argparse.ArgumentParser(prog="diarizer score"))


def test_run_score_table_and_json(capsys):
    case = DATA / "pyannote_metrics_toy_overlap"
    args = make_parser().parse_args(["-r", str(case / "ref.rttm"), "-s", str(case / "sys.rttm"),
                                     "-1", "--json"])
    assert args.skip_overlap and args.collar == 0.0 and args.uem is None
    assert run_score(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total"]["scored"] == pytest.approx(32.0)

    args = make_parser().parse_args(["--ref", str(case / "ref.rttm"), "--sys",
                                     str(case / "sys.rttm"), "-c", "0.25",
                                     "-u", str(case / "extent.uem")])
    assert not args.skip_overlap and args.collar == 0.25
    assert run_score(args) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith("TOTAL")


def test_run_score_lets_input_errors_propagate(tmp_path):
    bad = tmp_path / "bad.rttm"
    bad.write_text("SPEAKER m 1 0.0 abc <NA> <NA> A <NA> <NA>\n")
    args = make_parser().parse_args(["-r", str(bad), "-s", str(bad)])
    with pytest.raises(InputError, match="line 1: duration 'abc' is not a number"):
        run_score(args)


# --- agreement with md-eval-22 (small cases copied from /work/shared/data/scoring) ---------

def _mdeval_runs():
    runs = defaultdict(dict)
    with open(DATA / "mdeval_expected.tsv", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            key = (row["case"], row["uem"], row["collar"], row["overlap"])
            runs[key][row["file"]] = row
    return sorted(runs.items())


@pytest.mark.parametrize("key,rows", _mdeval_runs(), ids=lambda v: "-".join(v) if
                         isinstance(v, tuple) else "")
def test_agrees_with_mdeval(key, rows):
    case, uem, collar, overlap = key
    folder = DATA / case
    report = score_paths(folder / "ref.rttm", folder / "sys.rttm",
                         uem=None if uem == "none" else folder / f"{uem}.uem",
                         collar=float(collar), skip_overlap=overlap == "excl")
    assert set(report.files) | {"ALL"} == set(rows)
    for uri, row in rows.items():
        fs = report.total if uri == "ALL" else report.files[uri]
        assert fs.der == pytest.approx(float(row["DER_pct_from_times"]), abs=0.01)
        assert fs.scored == pytest.approx(float(row["scored_spk_s"]), abs=0.005)
        assert fs.missed == pytest.approx(float(row["missed_spk_s"]), abs=0.005)
        assert fs.false_alarm == pytest.approx(float(row["falarm_spk_s"]), abs=0.005)
        assert fs.confusion == pytest.approx(float(row["spk_error_s"]), abs=0.005)
