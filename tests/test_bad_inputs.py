"""The catalogue of bad inputs (issue 7): every one is a clear one-line error and leaves no output.

Each row runs ``diarizer.cli.main([...])`` on files made here (tiny HTK files, WAVs from
tests/synth.py) and checks the exit status (2 configuration, 1 input), that stderr is exactly one
``diarizer: error: ...`` line naming the file or setting and the problem, without a traceback, and
that the output folder is left empty (no RTTM, no GMM dump, no temporary file). Rows 23 and 24
(stereo 44.1 kHz, 8 kHz) must succeed. The same bad inputs then go through ``diarizer batch``,
where they fail only their own meeting.
"""

import json
import os
import re
import struct
import sys

import numpy as np
import pytest
import soundfile as sf
from synth import make_meeting

from diarizer.cli import main
from diarizer.exceptions import InputError
from diarizer.io.htk import write_htk
from diarizer.io.rttm import read_rttm

FAST = ["--initial-clusters", "4", "--M-mfcc", "3", "--KL-ntop", "3", "--num-seg-iters", "1",
        "--num-seg-iters-init", "1", "--seg-length", "50"]
FAST_CFG = ("initial_clusters = 4\nM_mfcc = 3\nKL_ntop = 3\nnum_seg_iters = 1\n"
            "num_seg_iters_init = 1\nseg_length = 50\n")
N_FRAMES = 400
DIM = 5


def _features(n=N_FRAMES, dim=DIM, seed=0):
    """Two 'speakers' (halves with different means) of Gaussian frames."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, dim)).astype(np.float32)
    X[n // 2:] += 3.0
    return X


def _htk_raw(n_samples, samp_size, kind, body, samp_period=100000):
    return struct.pack(">iihH", n_samples, samp_period, samp_size, kind) + body


class Case:
    """Paths of one catalogue case: inputs in ``tmp/in``, outputs in the empty ``tmp/out``."""

    def __init__(self, tmp_path, monkeypatch=None):
        self.monkeypatch = monkeypatch
        self.inp = tmp_path / "in"
        self.out = tmp_path / "out"
        self.inp.mkdir(parents=True)
        self.out.mkdir()
        self.rttm = self.out / "m.rttm"

    def path(self, name):
        return str(self.inp / name)

    def htk(self, name="m.htk", X=None):
        path = self.path(name)
        write_htk(path, _features() if X is None else X)
        return path

    def raw(self, name, data):
        path = self.path(name)
        with open(path, "wb") as fh:
            fh.write(data)
        return path

    def text(self, name, text):
        path = self.path(name)
        with open(path, "w") as fh:
            fh.write(text)
        return path

    def wav(self, name, y, sr=16000, subtype="PCM_16"):
        path = self.path(name)
        sf.write(path, y, sr, subtype=subtype)
        return path

    def cfg(self, text):
        return self.text("m.cfg", text)

    def htk_run(self, htk, *extra):
        return ["--mfcc-feats", htk, "--output-cluster", str(self.rttm), *FAST, *extra]

    def audio_run(self, wav, *extra):
        return ["--audio", wav, "--output-cluster", str(self.rttm), *FAST, *extra]


# Each builder returns (argv, exit status, text naming the file or setting, problem regex).

def _cfg_missing(c):
    p = c.path("nothere.cfg")
    return ["-c", p], 2, p, "configuration file not found"


def _cfg_no_section(c):
    p = c.cfg(f"[Other]\nmfcc_feats = {c.htk()}\noutput_cluster = {c.rttm}\n")
    return ["-c", p], 2, p, r"no \[Diarizer\] section"


def _cfg_unknown_key(c):
    p = c.cfg(f"[Diarizer]\nmfcc_feats = {c.htk()}\noutput_cluster = {c.rttm}\n"
              "intial_clusters = 4\n")
    return ["-c", p], 2, "intial_clusters", "Unknown setting.*Did you mean 'initial_clusters'"


def _cfg_required_missing(c):
    p = c.cfg(f"[Diarizer]\nmfcc_feats = {c.htk()}\n{FAST_CFG}")
    return ["-c", p], 2, "'output_cluster'", "setting is required"


def _cfg_int_abc(c):
    p = c.cfg(f"[Diarizer]\nmfcc_feats = {c.htk()}\noutput_cluster = {c.rttm}\n"
              "initial_clusters = abc\n")
    return ["-c", p], 2, "'initial_clusters'", "must be an int >= 1. Got abc instead"


def _cfg_zero_clusters(c):
    p = c.cfg(f"[Diarizer]\nmfcc_feats = {c.htk()}\noutput_cluster = {c.rttm}\n"
              "initial_clusters = 0\n")
    return ["-c", p], 2, "'initial_clusters'", "must be an int >= 1. Got 0 instead"


def _cfg_negative_seg_length(c):
    p = c.cfg(f"[Diarizer]\nmfcc_feats = {c.htk()}\noutput_cluster = {c.rttm}\n"
              "seg_length = -5\n")
    return ["-c", p], 2, "'seg_length'", "must be an int >= 1. Got -5 instead"


def _cfg_m_too_large(c):
    argv = c.htk_run(c.htk())
    argv[argv.index("--M-mfcc") + 1] = "200"
    return argv, 2, "'M_mfcc' (200)", "need at least 800 speech frames.* has 400"


def _htk_missing(c):
    p = c.path("nothere.htk")
    return c.htk_run(p), 1, p, "file not found"


def _htk_empty(c):
    p = c.raw("m.htk", b"")
    return c.htk_run(p), 1, p, "file is empty"


def _htk_header_truncated(c):
    p = c.raw("m.htk", b"\x00\x00\x01\x90\x00\x01\x86")
    return c.htk_run(p), 1, p, "HTK header truncated: file has 7 bytes"


def _htk_body_truncated(c):
    body = _features().astype(">f4").tobytes()
    p = c.raw("m.htk", _htk_raw(N_FRAMES, 4 * DIM, 9, body[:-7]))
    return c.htk_run(p), 1, p, "HTK file truncated: header promises"


def _htk_bad_samp_size(c):
    body = _features().astype(">f4").tobytes()  # 400 frames of 20 bytes, header says 16
    p = c.raw("m.htk", _htk_raw(N_FRAMES, 16, 9, body))
    return c.htk_run(p), 1, p, "size disagrees with its header"


def _htk_nan(c):
    X = _features().astype(">f4")
    X[123, 2] = np.nan
    p = c.raw("m.htk", _htk_raw(N_FRAMES, 4 * DIM, 9, X.tobytes()))
    return c.htk_run(p), 1, p, "NaN or infinite values in frame 123"


def _htk_inf(c):
    X = _features().astype(">f4")
    X[7, 0] = -np.inf
    p = c.raw("m.htk", _htk_raw(N_FRAMES, 4 * DIM, 9, X.tobytes()))
    return c.htk_run(p), 1, p, "NaN or infinite values in frame 7"


def _htk_one_frame(c):
    p = c.htk(X=_features(n=1))
    return c.htk_run(p), 1, p, r"only 0\.01 s of speech; at least 1 s is needed"


def _htk_discrete(c):
    p = c.raw("m.htk", _htk_raw(N_FRAMES, 2, 10, bytes(2 * N_FRAMES)))
    return c.htk_run(p), 1, p, "DISCRETE .*cannot be diarized"


def _audio_missing(c):
    p = c.path("nothere.wav")
    return c.audio_run(p), 1, p, "file not found"


def _audio_random_bytes(c):
    p = c.raw("m.wav", np.random.default_rng(3).bytes(5000))
    return c.audio_run(p), 1, p, "not a readable audio file"


def _audio_zero_length(c):
    p = c.wav("m.wav", np.zeros(0, dtype=np.float32))
    return c.audio_run(p), 1, p, "audio has no samples"


def _audio_silent(c):
    p = c.wav("m.wav", np.zeros(16000 * 3, dtype=np.float32))
    return c.audio_run(p), 1, p, "audio is silent"


def _audio_short(c):
    make_meeting(c.path("long.wav"), seconds=2.0, seed=2)
    y = sf.read(c.path("long.wav"), dtype="float32")[0][6400:9600]  # 0.4-0.6 s: noise, voice
    p = c.wav("m.wav", y)
    return c.audio_run(p), 1, p, r"audio lasts only 0\.20 s; at least 1 s of speech is needed"


def _audio_nan(c):
    y = 0.1 * np.random.default_rng(0).standard_normal(16000 * 3).astype(np.float32)
    y[1000:1010] = np.nan
    p = c.wav("m.wav", y, subtype="FLOAT")
    return c.audio_run(p), 1, p, "audio has 10 non-finite samples"


def _spnsp_end_before_start(c):
    s = c.text("m.spch", "m 1 0.00 2.00\nm 1 3.00 2.50\n")
    return c.htk_run(c.htk(), "--spnsp-file", s), 1, s, "line 2: segment ends at 2.5 s, before"


def _spnsp_past_end(c):
    s = c.text("m.spch", "m 1 0.00 2.00\nm 1 3.00 9.50\n")
    return c.htk_run(c.htk(), "--spnsp-file", s), 1, s, "line 2: .*past the end of the features"


def _spnsp_no_speech(c):
    s = c.text("m.spch", "# nothing but comments\n\n")
    return c.htk_run(c.htk(), "--spnsp-file", s), 1, s, "leaves no speech frames"


def _uem_other_file(c):
    u = c.text("m.uem", "other 1 0.000 4.000\n")
    return (c.htk_run(c.htk(), "--uem", u), 1, u,
            r"no region for meeting '\w+' .the file lists other.")


def _output_dir_missing(c):
    argv = c.htk_run(c.htk())
    target = str(c.out / "nodir" / "m.rttm")
    argv[argv.index("--output-cluster") + 1] = target
    return argv, 1, target, "output directory .* does not exist"


def _output_dir_not_writable(c):
    folder = c.out / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):  # root ignores permissions: pretend it does not
        real_access = os.access
        c.monkeypatch.setattr(os, "access", lambda p, mode, **kw: (
            False if os.fspath(p) == str(folder) and mode & os.W_OK else real_access(p, mode)))
    argv = c.htk_run(c.htk())
    target = str(folder / "m.rttm")
    argv[argv.index("--output-cluster") + 1] = target
    return argv, 1, target, "output directory .* is not writable"


def _basename_space(c):
    argv = c.htk_run(c.htk(), "--basename", "my meeting")
    return argv, 2, "'basename'", "must not contain spaces"


def _output_is_directory(c):
    c.rttm.mkdir()
    return c.htk_run(c.htk()), 1, str(c.rttm), "output path is a directory"


def _backend_library_missing(c):
    # cupy absent (simulated where it is installed): a configuration error, not a traceback
    c.monkeypatch.setitem(sys.modules, "cupy", None)
    c.monkeypatch.setitem(sys.modules, "array_api_compat.cupy", None)
    return c.htk_run(c.htk(), "--backend", "cupy"), 2, "'cupy' backend", "needs cupy: install"


def _n_mfcc_too_large(c):
    return c.htk_run(c.htk(), "--n-mfcc", "60"), 2, "'n_mfcc' setting (60)", "smaller than 'n_mels'"


def _window_shorter_than_hop(c):
    return (c.htk_run(c.htk(), "--mfcc-window", "0.005", "--mfcc-hop", "0.1"), 2,
            "'mfcc_window' setting (0.005 s)", "must not be shorter than 'mfcc_hop'")


CATALOGUE = {
    "01-config-missing": _cfg_missing,
    "02-config-no-section": _cfg_no_section,
    "03-config-unknown-key": _cfg_unknown_key,
    "04-config-required-missing": _cfg_required_missing,
    "05-config-int-abc": _cfg_int_abc,
    "06-initial-clusters-0": _cfg_zero_clusters,
    "07-seg-length-negative": _cfg_negative_seg_length,
    "08-M-mfcc-too-large": _cfg_m_too_large,
    "09-htk-missing": _htk_missing,
    "10-htk-empty": _htk_empty,
    "11-htk-header-truncated": _htk_header_truncated,
    "12-htk-body-truncated": _htk_body_truncated,
    "13-htk-sampsize-vs-size": _htk_bad_samp_size,
    "14-htk-nan": _htk_nan,
    "15-htk-inf": _htk_inf,
    "16-htk-one-frame": _htk_one_frame,
    "17-htk-discrete": _htk_discrete,
    "18-audio-missing": _audio_missing,
    "19-audio-random-bytes": _audio_random_bytes,
    "20-audio-zero-length": _audio_zero_length,
    "21-audio-silent": _audio_silent,
    "22-audio-0.2s": _audio_short,
    "25-audio-nan": _audio_nan,
    "26-spnsp-end-before-start": _spnsp_end_before_start,
    "27-spnsp-past-end": _spnsp_past_end,
    "28-spnsp-no-speech": _spnsp_no_speech,
    "29-uem-other-file": _uem_other_file,
    "30-output-dir-missing": _output_dir_missing,
    "30b-output-dir-not-writable": _output_dir_not_writable,
    "31-basename-space": _basename_space,
    "32-output-is-directory": _output_is_directory,
    "33-backend-library-missing": _backend_library_missing,
    "34-n-mfcc-too-large": _n_mfcc_too_large,
    "35-mfcc-window-shorter-than-hop": _window_shorter_than_hop,
}


def _leftovers(folder):
    """Every file under ``folder`` (directories themselves are not outputs)."""
    return sorted(os.path.relpath(os.path.join(d, f), folder)
                  for d, _, files in os.walk(folder) for f in files)


@pytest.mark.parametrize("row", list(CATALOGUE))
def test_bad_input_is_one_line_error_and_no_output(row, tmp_path, capsys, monkeypatch):
    c = Case(tmp_path, monkeypatch)
    argv, status, names, problem = CATALOGUE[row](c)
    assert main(argv) == status
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    line = lines[0]
    assert line.startswith("diarizer: error: ")
    assert names in line
    assert re.search(problem, line), line
    assert "Traceback" not in captured.err
    assert captured.out == ""
    assert _leftovers(c.out) == []


def test_debug_shows_the_exception(tmp_path):
    c = Case(tmp_path)
    argv, _, names, _ = _htk_empty(c)
    with pytest.raises(InputError, match="file is empty") as info:
        main(argv + ["--debug"])
    assert info.value.path == names
    assert _leftovers(c.out) == []


@pytest.fixture(scope="module")
def meeting_wav(tmp_path_factory):
    """An 8 s two-speaker meeting at 16 kHz (samples, reference turns)."""
    path = tmp_path_factory.mktemp("wav") / "meeting.wav"
    ref = make_meeting(path, seconds=8.0, n_speakers=2, seed=4)
    y, sr = sf.read(str(path), dtype="float32")
    assert sr == 16000
    return y, ref


def _resample(y, sr_in, sr_out):
    import librosa

    return librosa.resample(y, orig_sr=sr_in, target_sr=sr_out).astype(np.float32)


@pytest.mark.parametrize("row", ["23-stereo-44.1kHz", "24-8kHz"])
def test_unusual_audio_works(row, meeting_wav, tmp_path, capsys):
    y, ref = meeting_wav
    c = Case(tmp_path)
    if row.startswith("23"):
        y44 = _resample(y, 16000, 44100)
        stereo = np.stack([y44, 0.5 * y44[::-1]], axis=1)  # two different channels
        p = c.wav("m.wav", stereo, sr=44100)
        assert sf.info(p).channels == 2
    else:
        p = c.wav("m.wav", _resample(y, 16000, 8000), sr=8000)
    assert main(c.audio_run(p)) == 0
    assert "Traceback" not in capsys.readouterr().err
    assert _leftovers(c.out) == ["m.gmm", "m.rttm"]
    turns = read_rttm(c.rttm)
    assert turns and all(t.uri == "m" for t in turns)
    speech = sum(t.duration for t in turns)
    ref_speech = sum(b - a for a, b, _ in ref)
    assert 0.7 * ref_speech < speech < 1.3 * ref_speech + 1.0


# --- the same bad inputs in a batch: only their own meeting fails -----------------------------

BATCH_ROWS = ["09-htk-missing", "10-htk-empty", "11-htk-header-truncated",
              "12-htk-body-truncated", "13-htk-sampsize-vs-size", "14-htk-nan", "15-htk-inf",
              "16-htk-one-frame", "17-htk-discrete", "18-audio-missing",
              "19-audio-random-bytes", "20-audio-zero-length", "21-audio-silent",
              "22-audio-0.2s", "25-audio-nan", "26-spnsp-end-before-start", "27-spnsp-past-end",
              "28-spnsp-no-speech", "29-uem-other-file"]


def _list_line(row, argv, folder):
    """A batch list line for a catalogue case: the input and its spnsp/uem, basename = row."""
    value = {a: b for a, b in zip(argv, argv[1:])}
    src = value.get("--mfcc-feats") or value.get("--audio")
    fields = [os.path.relpath(src, folder)]
    if "--spnsp-file" in value:
        fields.append("spnsp=" + os.path.relpath(value["--spnsp-file"], folder))
    if "--uem" in value:
        fields.append("uem=" + os.path.relpath(value["--uem"], folder))
    return " ".join(fields + ["basename=" + row.split("-", 1)[0]])


def test_batch_fails_only_the_bad_meetings(tmp_path, capsys):
    lines = []
    expected = {}
    for row in BATCH_ROWS:
        c = Case(tmp_path / row)
        argv, _, _, problem = CATALOGUE[row](c)
        lines.append(_list_line(row, argv, tmp_path))
        expected[row.split("-", 1)[0]] = problem
    good = Case(tmp_path / "good")
    lines.append(_list_line("good", good.htk_run(good.htk()), tmp_path))
    lst = tmp_path / "batch.lst"
    lst.write_text("\n".join(lines) + "\n")
    out = tmp_path / "batch_out"
    assert main(["batch", str(lst), "-o", str(out), "--jobs", "1", *FAST]) == 1
    captured = capsys.readouterr()
    err = [ln for ln in captured.err.splitlines() if ln.startswith("diarizer: error: ")]
    assert "Traceback" not in captured.err
    assert len(err) == len(BATCH_ROWS)
    summary = json.loads((out / "summary.json").read_text())
    rows = {r["meeting"]: r for r in summary["meetings"]}
    assert rows["good"]["status"] == "ok" and rows["good"]["error"] == ""
    assert read_rttm(out / "good.rttm")
    for name, problem in expected.items():
        r = rows[name]
        assert r["status"] == "failed"
        assert "\n" not in r["error"] and re.search(problem, r["error"]), r
        assert f"diarizer: error: {name}: {r['error']}" in err
        assert not (out / f"{name}.rttm").exists() and not (out / f"{name}.gmm").exists()
        assert json.loads((out / ".rows" / f"{name}.json").read_text())["status"] == "failed"
    assert summary["total"]["status"] == f"1 ok, {len(BATCH_ROWS)} failed"
    tsv = (out / "summary.tsv").read_text().splitlines()
    assert sum("\tfailed\t" in ln for ln in tsv) == len(BATCH_ROWS)
    assert not [f for f in os.listdir(out) if f.endswith(".tmp")]


@pytest.mark.parametrize("row", ["01-config-missing", "02-config-no-section",
                                 "03-config-unknown-key", "05-config-int-abc",
                                 "06-initial-clusters-0", "07-seg-length-negative"])
def test_batch_config_error_stops_before_any_work(row, tmp_path, capsys):
    c = Case(tmp_path)
    argv, status, names, problem = CATALOGUE[row](c)
    out = tmp_path / "batch_out"
    assert main(["batch", c.htk("b.htk"), "-o", str(out), "--jobs", "1", *argv]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("diarizer: error: ")
    assert names in lines[0] and re.search(problem, lines[0]), lines
    assert not out.exists()


def test_batch_with_a_missing_backend_library_stops_before_any_work(tmp_path, capsys,
                                                                     monkeypatch):
    c = Case(tmp_path, monkeypatch)
    argv, status, names, problem = _backend_library_missing(c)
    out = tmp_path / "batch_out"
    assert main(["batch", c.htk("b.htk"), "-o", str(out), "--jobs", "1", "--backend", "cupy"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("diarizer: error: ")
    assert names in lines[0] and re.search(problem, lines[0]), lines
    assert not out.exists()


def test_batch_with_mfcc_settings_that_cannot_go_together_stops_before_any_work(tmp_path,
                                                                                 capsys):
    c = Case(tmp_path)
    out = tmp_path / "batch_out"
    assert main(["batch", c.htk("b.htk"), "-o", str(out), "--jobs", "1", "--n-mfcc", "40"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("diarizer: error: ")
    assert "'n_mfcc' setting (40) must be smaller than 'n_mels' (40)" in lines[0], lines
    assert not out.exists()
