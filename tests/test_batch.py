import json
import os
import subprocess
import sys

import pytest

from diarizer.batch import COLUMNS, TEST_EXIT_ENV, Meeting, find_meetings, run_batch
from diarizer.cli import main
from diarizer.exceptions import ConfigError, InputError
from diarizer.io.rttm import read_rttm
from diarizer.scoring import score_paths

sys.path.insert(0, os.path.dirname(__file__))
from synth import make_meeting, write_ref  # noqa: E402

SETTINGS = {"initial_clusters": 4, "M_mfcc": 3, "KL_ntop": 3, "num_seg_iters": 1,
            "num_seg_iters_init": 1}
FLAGS = ["--initial-clusters", "4", "--M-mfcc", "3", "--KL-ntop", "3", "--num-seg-iters", "1",
         "--num-seg-iters-init", "1"]
GOOD = ("m0", "m1", "m2")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Three 20 s meetings (2, 2, 3 speakers) with references, a broken file, single-run outputs."""
    root = tmp_path_factory.mktemp("batch")
    audio = root / "audio"
    audio.mkdir()
    for i, name in enumerate(GOOD):
        ref = make_meeting(audio / f"{name}.wav", seconds=20.0, n_speakers=2 + (i == 2), seed=i)
        write_ref(root / f"{name}.rttm", name, ref)
    (root / "bad").mkdir()
    (root / "bad" / "bad.wav").write_text("not audio\n")
    single = root / "single"
    single.mkdir()
    expected = {}
    for name in GOOD:
        out = single / f"{name}.rttm"
        assert main(["--audio", str(audio / f"{name}.wav"), "--output-cluster", str(out),
                     *FLAGS]) == 0
        expected[name] = (out.read_bytes(), (single / f"{name}.gmm").read_bytes())
    return {"root": root, "audio": audio, "bad": root / "bad" / "bad.wav",
            "expected": expected}


def outputs(outdir, names=GOOD):
    return {n: ((outdir / f"{n}.rttm").read_bytes(), (outdir / f"{n}.gmm").read_bytes())
            for n in names}


def read_tsv(path):
    lines = path.read_text().splitlines()
    head = lines[0].split("\t")
    return head, [dict(zip(head, line.split("\t"))) for line in lines[1:]]


# --- inputs ----------------------------------------------------------------------------------

def test_find_meetings_directory_glob_file_and_list(tmp_path):
    for name in ("b.wav", "a.flac", "c.htk", "notes.txt", "a.rttm"):
        (tmp_path / name).write_text("x")
    (tmp_path / "sub").mkdir()
    lst = tmp_path / "sub" / "batch.lst"
    lst.write_text("# input [spnsp] [uem] [ref] [basename]\n"
                   "\n"
                   "../b.wav ../b.spch ../b.uem ../ref/b.rttm  # comment\n"
                   "../c.htk uem=x.uem ref=r.rttm spnsp=s.txt meeting_c\n"
                   "../a.flac basename=A1\n")
    got = find_meetings([str(tmp_path)])
    assert [(m.name, os.path.basename(m.input)) for m in got] == [
        ("a", "a.flac"), ("b", "b.wav"), ("c", "c.htk")]
    got = find_meetings(str(tmp_path / "*"))  # a glob keeps only audio/HTK names
    assert [m.name for m in got] == ["a", "b", "c"]
    assert find_meetings([tmp_path / "b.wav"]) == [Meeting("b", str(tmp_path / "b.wav"))]
    sub = str(tmp_path / "sub")
    got = find_meetings([str(lst)])
    assert got[0] == Meeting("b", os.path.join(sub, "../b.wav"), os.path.join(sub, "../b.spch"),
                             os.path.join(sub, "../b.uem"), os.path.join(sub, "../ref/b.rttm"))
    assert got[1] == Meeting("meeting_c", os.path.join(sub, "../c.htk"),
                             os.path.join(sub, "s.txt"), os.path.join(sub, "x.uem"),
                             os.path.join(sub, "r.rttm"))
    assert got[2] == Meeting("A1", os.path.join(sub, "../a.flac"))


def test_find_meetings_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "a.wav").write_text("x")
    (tmp_path / "y").mkdir()
    (tmp_path / "y" / "a.flac").write_text("x")
    with pytest.raises(InputError, match="empty: no audio or HTK files in this directory"):
        find_meetings([str(tmp_path / "empty")])
    with pytest.raises(InputError, match=r"nothing\*\.wav: no such file or directory, and no"):
        find_meetings([str(tmp_path / "nothing*.wav")])
    with pytest.raises(InputError, match=r"a\.flac: basename 'a' is also used by .*a\.wav"):
        find_meetings([str(tmp_path / "x"), str(tmp_path / "y")])
    lst = tmp_path / "l.lst"
    lst.write_text("x/a.wav one.rttm two.rttm\n")
    with pytest.raises(InputError, match=r"l\.lst: line 1: two ref fields"):
        find_meetings([str(lst)])


def test_run_batch_argument_errors(tmp_path, data):
    with pytest.raises(ConfigError, match="The 'jobs' option must be an int >= 1. Got 0"):
        run_batch([str(data["audio"])], str(tmp_path / "o"), SETTINGS, jobs=0)
    with pytest.raises(ConfigError, match="initial_clusters"):
        run_batch([str(data["audio"])], str(tmp_path / "o"), {"initial_clusters": "many"})
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="cannot create the output directory"):
        run_batch([str(data["audio"])], str(tmp_path / "file" / "o"), SETTINGS)
    assert main(["batch", str(data["audio"]), "-o", str(tmp_path / "o"), "--jobs", "0"]) == 2
    assert main(["batch", str(tmp_path / "none*.wav"), "-o", str(tmp_path / "o")]) == 1


# --- local runs ------------------------------------------------------------------------------

def test_jobs1_is_byte_identical_to_single_runs_and_summarises(tmp_path, data, caplog):
    calls = []
    rows = run_batch([str(data["audio"])], str(tmp_path), SETTINGS, jobs=1,
                     progress=lambda done, total, row: calls.append((done, total, row["meeting"])))
    assert outputs(tmp_path) == data["expected"]
    assert calls == [(1, 3, "m0"), (2, 3, "m1"), (3, 3, "m2")]
    assert "batch: 3/3 meetings done" in caplog.text  # not a terminal: log lines, no bar
    assert [r["meeting"] for r in rows] == list(GOOD)
    for r in rows:
        assert tuple(r) == COLUMNS
        assert (r["status"], r["error"], r["audio_s"]) == ("ok", "", 20.0)
        turns = read_rttm(tmp_path / f"{r['meeting']}.rttm")
        assert r["speakers"] == len({t.speaker for t in turns})
        assert r["speech_s"] == pytest.approx(sum(t.duration for t in turns), abs=1e-3)
        assert r["rtf"] == pytest.approx(r["wall_s"] / 20.0, abs=1e-4)
    head, lines = read_tsv(tmp_path / "summary.tsv")
    assert tuple(head) == COLUMNS
    assert [line["meeting"] for line in lines] == [*GOOD, "TOTAL"]
    total = lines[-1]
    assert total["status"] == "3 ok, 0 failed"
    assert float(total["audio_s"]) == 60.0
    assert float(total["speech_s"]) == pytest.approx(sum(r["speech_s"] for r in rows), abs=2e-3)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["meetings"] == rows
    assert list(summary["total"]) == list(COLUMNS)


def test_cli_jobs2_list_refs_overrides_and_failure_isolation(tmp_path, data, capsys):
    root = data["root"]
    lst = root / "batch.lst"
    lst.write_text("audio/m0.wav m0.rttm\n"
                   "bad/bad.wav\n"
                   "audio/m1.wav ref=m1.rttm\n"
                   "audio/m2.wav\n")
    cfg = tmp_path / "base.cfg"
    # base config: some settings, and per-meeting ones that a batch must ignore
    cfg.write_text("[Diarizer]\ninitial_clusters = 9\nM_mfcc = 3\nKL_ntop = 3\n"
                   "output_cluster = /nowhere/x.rttm\nbasename = nope\n")
    out = tmp_path / "out"
    code = main(["batch", str(lst), "-o", str(out), "-c", str(cfg), "--jobs", "2",
                 "--initial-clusters", "4", "--num-seg-iters", "1",
                 "--num-seg-iters-init", "1"])
    assert code == 1
    err = capsys.readouterr().err
    assert "diarizer: error: bad: " in err and "bad.wav" in err
    assert outputs(out) == data["expected"]
    assert not (out / "bad.rttm").exists() and not (out / "bad.gmm").exists()
    head, lines = read_tsv(out / "summary.tsv")
    assert tuple(head) == COLUMNS + ("der_forgiving", "der_full")
    by = {line["meeting"]: line for line in lines}
    assert [line["meeting"] for line in lines] == ["m0", "bad", "m1", "m2", "TOTAL"]
    assert by["bad"]["status"] == "failed"
    assert "bad.wav" in by["bad"]["error"] and "\n" not in by["bad"]["error"]
    assert by["bad"]["audio_s"] == by["bad"]["speakers"] == ""
    assert by["m2"]["der_full"] == by["m2"]["der_forgiving"] == ""  # no reference
    # DER equals the package scorer on the written files (md-eval default region: no UEM)
    for name in ("m0", "m1"):
        ref, hyp = root / f"{name}.rttm", out / f"{name}.rttm"
        full = score_paths(ref, hyp).total
        forgiving = score_paths(ref, hyp, collar=0.25, skip_overlap=True).total
        assert float(by[name]["der_full"]) == pytest.approx(full.der, abs=0.006)
        assert float(by[name]["der_forgiving"]) == pytest.approx(forgiving.der, abs=0.006)
    both = tmp_path / "both"
    both.mkdir()
    for name in ("m0", "m1"):
        (both / f"{name}.rttm").write_bytes((out / f"{name}.rttm").read_bytes())
    refs = tmp_path / "refs.rttm"
    refs.write_text((root / "m0.rttm").read_text() + (root / "m1.rttm").read_text())
    total = score_paths(refs, both).total  # time-weighted, not the mean of the two rates
    assert float(by["TOTAL"]["der_full"]) == pytest.approx(total.der, abs=0.006)
    assert by["TOTAL"]["status"] == "3 ok, 1 failed"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["meetings"][1]["status"] == "failed"
    assert summary["total"]["der_full"] == pytest.approx(total.der, abs=0.006)


def test_killed_worker_fails_only_its_meeting(tmp_path, data, monkeypatch):
    monkeypatch.setenv(TEST_EXIT_ENV, "m1")  # before the pool starts: workers inherit it
    rows = run_batch([str(data["audio"])], str(tmp_path), SETTINGS, jobs=2)
    status = {r["meeting"]: (r["status"], r["error"]) for r in rows}
    assert status["m1"] == ("failed", "worker process died while diarizing this meeting")
    assert status["m0"] == status["m2"] == ("ok", "")
    assert outputs(tmp_path, ("m0", "m2")) == {n: data["expected"][n] for n in ("m0", "m2")}
    assert not (tmp_path / "m1.rttm").exists()


def test_resume_skips_complete_meetings_and_redoes_incomplete(tmp_path, data, caplog):
    inputs = [str(data["audio"] / "m0.wav"), str(data["audio"] / "m1.wav"), str(data["bad"])]
    first = run_batch(inputs, str(tmp_path), SETTINGS, jobs=1)
    assert [r["status"] for r in first] == ["ok", "ok", "failed"]
    (tmp_path / "m1.gmm").unlink()  # incomplete: redone
    stamp = (tmp_path / "m0.rttm").stat().st_mtime_ns
    seen = []
    second = run_batch(inputs, str(tmp_path), SETTINGS, jobs=1,
                       progress=lambda d, t, row: seen.append(row["meeting"]))
    assert seen == ["m1", "bad"]  # failed meetings are retried
    assert "2 of 3 meetings already done" not in caplog.text
    assert "1 of 3 meetings already done, skipped" in caplog.text
    assert (tmp_path / "m0.rttm").stat().st_mtime_ns == stamp
    assert outputs(tmp_path, ("m0", "m1")) == {n: data["expected"][n] for n in ("m0", "m1")}
    assert second[0] == first[0]  # the skipped meeting's row comes back from disk
    head, lines = read_tsv(tmp_path / "summary.tsv")
    assert [line["meeting"] for line in lines] == ["m0", "m1", "bad", "TOTAL"]
    seen.clear()
    run_batch(inputs, str(tmp_path), SETTINGS, jobs=1, force=True,
              progress=lambda d, t, row: seen.append(row["meeting"]))
    assert seen == ["m0", "m1", "bad"]
    assert (tmp_path / "m0.rttm").stat().st_mtime_ns != stamp


def test_plots_one_png_per_meeting(tmp_path, data):
    root = data["root"]
    lst = root / "plots.lst"
    lst.write_text("audio/m0.wav m0.rttm\naudio/m2.wav\n")
    assert main(["batch", str(lst), "-o", str(tmp_path), "--jobs", "1", "--plots", *FLAGS]) == 0
    for name in ("m0", "m2"):
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (tmp_path / "m2.png").unlink()  # resumed: the missing plot is drawn, nothing rediarized
    stamp = (tmp_path / "m2.rttm").stat().st_mtime_ns
    assert main(["batch", str(lst), "-o", str(tmp_path), "--plots", *FLAGS]) == 0
    assert (tmp_path / "m2.png").exists()
    assert (tmp_path / "m2.rttm").stat().st_mtime_ns == stamp


# --- Dask ------------------------------------------------------------------------------------

def test_dask_local_cluster_is_byte_identical(tmp_path, data):
    pytest.importorskip("distributed")
    rows = run_batch([str(data["audio"]), str(data["bad"])], str(tmp_path), SETTINGS,
                     dask="local", dask_workers=2)
    assert [r["status"] for r in rows] == ["ok", "ok", "ok", "failed"]
    assert "bad.wav" in rows[-1]["error"]
    assert outputs(tmp_path) == data["expected"]
    head, lines = read_tsv(tmp_path / "summary.tsv")
    assert lines[-1]["status"] == "3 ok, 1 failed"


def test_dask_scheduler_that_does_not_answer_is_one_line_error(tmp_path, data, capsys):
    pytest.importorskip("distributed")
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        status = main(["batch", str(data["audio"]), "-o", str(tmp_path / "out"),
                       "--dask", "tcp://127.0.0.1:1"])
    assert status == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("diarizer: error: cannot connect to the Dask"
                                               " scheduler at 'tcp://127.0.0.1:1'"), err
    assert not (tmp_path / "out").exists()  # nothing written: no half-made summary either


# --- imports ---------------------------------------------------------------------------------

def test_import_and_help_load_no_optional_extra():
    code = ("import sys, contextlib, io\n"
            "import diarizer, diarizer.batch, diarizer.plotting\n"
            "from diarizer.cli import main\n"
            "for argv in ([], ['batch'], ['plot']):\n"
            "    with contextlib.redirect_stdout(io.StringIO()):\n"
            "        try:\n"
            "            main([*argv, '--help'])\n"
            "        except SystemExit:\n"
            "            pass\n"
            "bad = sorted(m for m in ('dask', 'distributed', 'matplotlib', 'tqdm')\n"
            "             if m in sys.modules)\n"
            "print(','.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""
