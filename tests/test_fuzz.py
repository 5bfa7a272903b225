"""Fuzz the file readers (issue 7): random and mutated bytes either parse or raise InputError.

A seeded loop per reader (no hypothesis database, the same cases on every run): random bytes,
random token soups and mutations (bit flips, inserted, deleted, duplicated and replaced bytes,
truncation, interesting header values) of valid files. Anything else than a result or a
:class:`~diarizer.exceptions.InputError` fails, and so does a case taking more than a second
(SIGALRM guard).
"""

import os
import shutil
import signal
import struct
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest

from diarizer.exceptions import DiarizerError, InputError
from diarizer.io.htk import read_htk, write_htk
from diarizer.io.rttm import read_rttm
from diarizer.io.spnsp import read_spnsp
from diarizer.io.uem import read_uem

N_CASES = 4000
TIMEOUT_S = 1.0

TOKENS = ["0", "1", "-1", "0.5", "12.345", "1e3", "1e308", "1e309", "-1e309", "nan", "NaN", "inf",
          "-inf", "Infinity", "1_0", "0x10", "+3", ".", "-", "e", "9" * 400, "1" + "0" * 30,
          "SPEAKER", "speaker", "SPKR-INFO", "<NA>", "NA", "m1", "spk00", ";", ";;", "#", "a",
          "\t", " ", "  ", "\n", "\r\n", "\r", "\x00", "\x0b", "\x1c", "\u2028", "\u0661",
          "\ufeff", "é", "𝟙"]


class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang


@pytest.fixture
def fuzz_dir(tmp_path):
    """A scratch folder in memory (/dev/shm) when there is one: opening files there is ~30x
    faster than on an overlay /tmp, and every case writes one file."""
    if not os.path.isdir("/dev/shm") or not os.access("/dev/shm", os.W_OK):
        yield tmp_path
        return
    folder = tempfile.mkdtemp(prefix="diarizer-fuzz-", dir="/dev/shm")
    try:
        yield Path(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def guard():
    """Per-case time limit: ``with guard(): ...`` raises _Hang after TIMEOUT_S."""
    previous = signal.signal(signal.SIGALRM, _alarm)

    class _Guard:
        def __enter__(self):
            signal.setitimer(signal.ITIMER_REAL, TIMEOUT_S)

        def __exit__(self, *exc):
            signal.setitimer(signal.ITIMER_REAL, 0)
            return False

    yield _Guard
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


def _mutate(data, rng):
    """One to four random edits of ``data`` (bytes)."""
    b = bytearray(data)
    for _ in range(int(rng.integers(1, 5))):
        op = int(rng.integers(0, 7))
        pos = int(rng.integers(0, len(b) + 1))
        if op == 0 and b:  # flip a bit
            i = min(pos, len(b) - 1)
            b[i] ^= 1 << int(rng.integers(0, 8))
        elif op == 1:  # insert random bytes
            b[pos:pos] = rng.bytes(int(rng.integers(1, 9)))
        elif op == 2 and b:  # delete a slice
            del b[pos:pos + int(rng.integers(1, 17))]
        elif op == 3 and b:  # duplicate a slice
            b[pos:pos] = b[pos:pos + int(rng.integers(1, 33))]
        elif op == 4:  # truncate
            del b[pos:]
        elif op == 5:  # insert a token
            b[pos:pos] = TOKENS[int(rng.integers(len(TOKENS)))].encode("utf-8")
        else:  # replace a byte with a boundary value
            if b:
                b[min(pos, len(b) - 1)] = int(rng.choice([0, 0x7F, 0x80, 0xFF, 0x20, 0x0A]))
    return bytes(b)


def _soup(rng):
    """Random text made of tokens, as bytes (sometimes invalid UTF-8)."""
    n = int(rng.integers(0, 30))
    text = "".join(TOKENS[int(i)] for i in rng.integers(0, len(TOKENS), n)).encode("utf-8")
    if rng.random() < 0.1:
        text += b"\xff\xfe"
    return text


def _run(reader, cases, path, guard):
    """Feed every case to ``reader``; return (parsed, refused) counts."""
    parsed = refused = 0
    for i, data in enumerate(cases):
        path.write_bytes(data)
        try:
            with warnings.catch_warnings(), guard():
                warnings.simplefilter("ignore")
                reader(path, i)
        except _Hang:
            pytest.fail(f"{reader.__name__} hung on case {i}: {data[:200]!r}")
        except InputError:
            refused += 1
        except DiarizerError as exc:  # pragma: no cover - only InputError is expected
            pytest.fail(f"case {i} raised {type(exc).__name__} instead of InputError: {exc}")
        except Exception as exc:
            pytest.fail(f"{reader.__name__} raised {type(exc).__name__}: {exc} on case {i}: "
                        f"{data[:200]!r}")
        else:
            parsed += 1
    return parsed, refused


def _text_cases(valid, seed):
    rng = np.random.default_rng(seed)
    for i in range(N_CASES):
        kind = i % 5
        if kind == 0:
            yield rng.bytes(int(rng.integers(0, 80)))
        elif kind == 1:
            yield _soup(rng)
        else:
            yield _mutate(valid[int(rng.integers(len(valid)))], rng)


# --- HTK ---------------------------------------------------------------------------------------

def _valid_htk(tmp_path):
    rng = np.random.default_rng(1)
    out = []
    for i, (kind, kw) in enumerate([("USER", {}), ("MFCC_E_D_A", {}), ("MFCC_0", {"crc": True}),
                                    ("PLP", {"compress": True}),
                                    ("FBANK", {"compress": True, "crc": True})]):
        p = tmp_path / f"v{i}.htk"
        write_htk(p, rng.standard_normal((int(rng.integers(1, 6)), int(rng.integers(1, 5)))),
                  parm_kind=kind, **kw)
        out.append(p.read_bytes())
    return out


_INTERESTING32 = [0, 1, 2, 3, 4, 5, -1, -4, 2**31 - 1, -2**31, 100000, 2**16]
_INTERESTING16 = [0, 1, 2, 3, 4, 8, -1, -2, 32767, -32768, 10, 0o2000 | 6, 0o12006, 5]


def _htk_cases(valid, seed):
    rng = np.random.default_rng(seed)
    for i in range(N_CASES):
        kind = i % 4
        if kind == 0:
            yield rng.bytes(int(rng.integers(0, 64)))
        elif kind == 1:  # a random header with interesting fields, then a random body
            header = struct.pack(">iihh", int(rng.choice(_INTERESTING32)),
                                 int(rng.choice(_INTERESTING32)), int(rng.choice(_INTERESTING16)),
                                 int(rng.choice(_INTERESTING16)))
            yield header + rng.bytes(int(rng.integers(0, 64)))
        elif kind == 2:  # a valid file with one header field replaced
            b = bytearray(valid[int(rng.integers(len(valid)))])
            field = int(rng.integers(0, 4))
            if field < 2:
                b[4 * field:4 * field + 4] = struct.pack(">i", int(rng.choice(_INTERESTING32)))
            else:
                off = 8 + 2 * (field - 2)
                b[off:off + 2] = struct.pack(">h", int(rng.choice(_INTERESTING16)))
            yield bytes(b)
        else:
            yield _mutate(valid[int(rng.integers(len(valid)))], rng)


def test_fuzz_read_htk(fuzz_dir, guard):
    valid = _valid_htk(fuzz_dir)

    def read_htk_case(path, i):
        feats = read_htk(path)
        assert feats.data.ndim == 2 and feats.data.shape[0] >= 1
        assert np.isfinite(feats.data).all()

    parsed, refused = _run(read_htk_case, _htk_cases(valid, 7), fuzz_dir / "f.htk", guard)
    assert parsed + refused == N_CASES
    assert parsed >= 50 and refused >= 1000  # both outcomes are exercised


# --- text readers ------------------------------------------------------------------------------

VALID_SPNSP = [b"m 1 0.00 1.23\nm 1 1.50 3.00\n", b"0.00 1.00\n2.00 2.50 sp\n",
               b"# comment\n;; other\n\n0 0.5\n0.4 0.9\n", b"\xef\xbb\xbfa 1 0.10 0.20 extra\n"]
VALID_UEM = [b"m1 1 0.000 12.500\n", b"m1 1 0 5\nm1 NA 4 9\n;; c\nm2 1 1.5 2.5 x\n",
             b"# c\n\nA 1 0.0 0.0\n"]
VALID_RTTM = [b"SPEAKER m1 1 0.500 1.250 <NA> <NA> spk00 <NA> <NA>\n",
              b"SPKR-INFO m1 1 <NA> <NA> <NA> unknown spk00 <NA>\n"
              b"SPEAKER m1 1 0.00 0 <NA> <NA> a <NA>\n;; x\nSPEAKER <NA> 1 3 2 <NA> <NA> b <NA>\n",
              b"speaker m 2 1e1 1 x y z w\n"]


def test_fuzz_read_spnsp(fuzz_dir, guard):
    def read_spnsp_case(path, i):
        n = None if i % 2 else 300
        seg = read_spnsp(path, frame_period=0.01, n_frames=n)
        assert seg.ndim == 2 and seg.shape[1] == 2
        assert (seg[:, 1] > seg[:, 0]).all() and (seg[:, 0] >= 0).all()
        if n is not None:
            assert (seg[:, 1] <= n).all()

    parsed, refused = _run(read_spnsp_case, _text_cases(VALID_SPNSP, 8), fuzz_dir / "f.spch",
                           guard)
    assert parsed + refused == N_CASES and parsed >= 100 and refused >= 500


def test_fuzz_read_uem(fuzz_dir, guard):
    def read_uem_case(path, i):
        regions = read_uem(path)
        for spans in regions.values():
            assert all(np.isfinite(a) and np.isfinite(b) and b > a for a, b in spans)

    parsed, refused = _run(read_uem_case, _text_cases(VALID_UEM, 9), fuzz_dir / "f.uem", guard)
    assert parsed + refused == N_CASES and parsed >= 100 and refused >= 500


def test_fuzz_read_rttm(fuzz_dir, guard):
    def read_rttm_case(path, i):
        turns = read_rttm(path, keep_empty=bool(i % 2))
        assert all(np.isfinite(t.start) and t.duration >= 0 for t in turns)

    parsed, refused = _run(read_rttm_case, _text_cases(VALID_RTTM, 10), fuzz_dir / "f.rttm",
                           guard)
    assert parsed + refused == N_CASES and parsed >= 100 and refused >= 500
