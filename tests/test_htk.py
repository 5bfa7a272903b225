import os
import struct
from pathlib import Path

import numpy as np
import pytest

from diarizer.exceptions import DiarizerError, InputError
from diarizer.io.htk import (
    HTKFeatures,
    _htk_crc,
    format_parm_kind,
    parse_parm_kind,
    read_htk,
    write_htk,
)

DATA = Path(__file__).parent / "data"
SHARED = Path("/work/shared/data/kaldi_htk")


def _header(n_samples, samp_period, samp_size, parm_kind):
    return struct.pack(">iihH", n_samples, samp_period, samp_size, parm_kind)


def _write(tmp_path, payload, name="f.htk"):
    p = tmp_path / name
    p.write_bytes(payload)
    return p


def _horner_crc(body):
    """HTK's UpdateCRCC, word by word (the independent oracle for the vectorised one)."""
    crc = 0
    for (w,) in struct.iter_unpack(">H", body):
        crc = (crc * 65536 + w) % 36897
    return crc


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


# --------------------------------------------------------------------------- real HCopy files

REAL = [
    # file, parmKind code, kind, dim, first four values of row 0
    ("htk_mfcc_d_a_0.htk", 8966, "MFCC_D_A_0", 39, [3.0455, 0.2049, -1.0986, -0.6183]),
    ("htk_mfcc_e_d_a.htk", 838, "MFCC_E_D_A", 39, [3.0455, 0.2049, -1.0986, -0.6183]),
    ("htk_fbank.htk", 7, "FBANK", 23, [20.6126, 19.5879, 19.5083, 19.3560]),
]


@pytest.mark.parametrize("name, code, kind, dim, row0", REAL)
def test_read_hcopy_files(name, code, kind, dim, row0):
    feats = read_htk(DATA / name)
    assert isinstance(feats, HTKFeatures)
    assert feats.data.shape == (142, dim)
    assert (feats.n_frames, feats.n_features) == (142, dim)
    assert feats.data.dtype == np.float32
    assert feats.samp_period == 100000
    assert feats.frame_period == 0.01
    assert feats.parm_kind == code
    assert feats.kind == kind
    np.testing.assert_allclose(feats.data[0, :4], row0, atol=6e-5)
    # independent oracle: the raw big-endian floats after the 12-byte header
    raw = np.fromfile(DATA / name, dtype=">f4", offset=12).reshape(142, dim)
    np.testing.assert_array_equal(feats.data, raw)


def test_c0_and_energy_files_differ_only_in_column_12():
    # hcopy1 (MFCC_D_A_0) and hcopy2 (MFCC_E_D_A) share cepstra; c0 vs log energy differ
    a = read_htk(DATA / "htk_mfcc_d_a_0.htk").data
    b = read_htk(DATA / "htk_mfcc_e_d_a.htk").data
    np.testing.assert_array_equal(a[:, :12], b[:, :12])
    assert not np.allclose(a[:, 12], b[:, 12])


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared data not available (CI)")
def test_read_every_shared_kaldi_file():
    files = sorted(SHARED.glob("test.wav.*_htk.*"))
    assert len(files) == 11
    kinds = {}
    for f in files:
        feats = read_htk(f)
        assert feats.n_frames == 142
        assert feats.frame_period == 0.01
        assert os.path.getsize(f) == 12 + 142 * 4 * feats.n_features
        kinds[f.name] = (feats.kind, feats.n_features)
    assert kinds["test.wav.fea_htk.1"] == ("MFCC_D_A_0", 39)
    assert kinds["test.wav.fea_htk.3"] == ("MFCC_E_D_A", 39)
    assert kinds["test.wav.plp_htk.1"] == ("PLP_D_A_0", 39)
    assert kinds["test.wav.fbank_htk.4"] == ("FBANK", 23)
    np.testing.assert_allclose(read_htk(SHARED / "test.wav.fea_htk.1").data[0, :4],
                               [3.0455, 0.2049, -1.0986, -0.6183], atol=6e-5)


# --------------------------------------------------------------------------- parameter kinds

@pytest.mark.parametrize("code, base, quals", [
    (838, "MFCC", "_E_D_A"),
    (8966, "MFCC", "_D_A_0"),
    (8971, "PLP", "_D_A_0"),
    (7, "FBANK", ""),
    (9, "USER", ""),
    (0o100000 | 9, "USER", "_T"),
    (6 | 0o100 | 0o200 | 0o2000 | 0o10000 | 0o4000 | 0o40000, "MFCC", "_E_N_C_K_Z_V"),
])
def test_parse_parm_kind(code, base, quals):
    assert parse_parm_kind(code) == (base, quals)
    assert format_parm_kind(base + quals) == code


def test_parse_parm_kind_accepts_signed_int16():
    # a C reader sees _T (0o100000) as the sign bit
    assert parse_parm_kind(-32759) == ("USER", "_T") == parse_parm_kind(32777)


def test_format_parm_kind_any_order_and_case():
    assert format_parm_kind("mfcc_a_d_e") == 838
    assert format_parm_kind("MFCC_0_D_A") == 8966


def test_parm_kind_round_trip_all_bases(rng):
    bits = [0o100, 0o200, 0o400, 0o1000, 0o2000, 0o4000, 0o10000, 0o20000, 0o40000, 0o100000]
    for base in range(13):
        for _ in range(20):
            code = base | int(np.sum(np.array(bits)[rng.random(len(bits)) < 0.3]))
            assert format_parm_kind("".join(parse_parm_kind(code))) == code


@pytest.mark.parametrize("bad, match", [
    ("FOO", "Unknown HTK parameter kind 'FOO'"),
    ("MFCC_X", r"Unknown qualifier '_X'"),
    ("MFCC_E_E", r"'_E' appears twice"),
])
def test_format_parm_kind_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        format_parm_kind(bad)


@pytest.mark.parametrize("bad, match", [(13, "Unknown HTK base parameter kind 13"),
                                        (63, "base parameter kind 63"),
                                        (70000, "fit in 16 bits")])
def test_parse_parm_kind_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        parse_parm_kind(bad)


# --------------------------------------------------------------------------- round trips

def test_round_trip_exact(tmp_path, rng):
    data = rng.normal(size=(57, 19)).astype(np.float32)
    data[0, 0] = np.float32(1e-42)  # subnormal
    data[1, 1] = np.float32(-0.0)
    data[2, 2] = np.finfo(np.float32).max
    write_htk(tmp_path / "a.htk", data, parm_kind="MFCC_E")
    feats = read_htk(tmp_path / "a.htk")
    assert feats.data.tobytes() == data.tobytes()
    assert feats.kind == "MFCC_E"
    assert feats.parm_kind == 6 | 0o100
    assert os.path.getsize(tmp_path / "a.htk") == 12 + 57 * 19 * 4


def test_written_header_fields(tmp_path):
    write_htk(tmp_path / "a.htk", np.ones((3, 2)), samp_period=80000, parm_kind=838)
    raw = (tmp_path / "a.htk").read_bytes()
    assert struct.unpack(">iihH", raw[:12]) == (3, 80000, 8, 838)
    assert raw[12:16] == b"\x3f\x80\x00\x00"  # 1.0f big-endian


def test_samp_period_other_than_10ms_is_honoured(tmp_path):
    write_htk(tmp_path / "a.htk", np.zeros((4, 3)), samp_period=80000)
    feats = read_htk(tmp_path / "a.htk")
    assert feats.samp_period == 80000
    assert feats.frame_period == 0.008


def test_compressed_hand_example(tmp_path):
    # column 0 = [0, 1, 2]: min 0, max 2 -> A = 2*32767/2 = 32767, B = (2+0)*32767/2 = 32767
    # shorts = x*A - B = [-32767, 0, 32767]. Column 1 is constant 5: A = 1, B = 5, shorts = 0.
    data = np.array([[0, 5], [1, 5], [2, 5]], dtype=np.float32)
    write_htk(tmp_path / "c.htk", data, parm_kind="MFCC", compress=True)
    raw = (tmp_path / "c.htk").read_bytes()
    assert struct.unpack(">iihH", raw[:12]) == (3 + 4, 100000, 4, 6 | 0o2000)
    assert struct.unpack(">2f2f", raw[12:28]) == (32767.0, 1.0, 32767.0, 5.0)
    assert struct.unpack(">6h", raw[28:]) == (-32767, 0, 0, 0, 32767, 0)
    feats = read_htk(tmp_path / "c.htk")
    assert feats.kind == "MFCC_C"
    np.testing.assert_array_equal(feats.data, data)


def test_compressed_round_trip_error_bound(tmp_path, rng):
    data = (rng.normal(size=(200, 13)) * rng.uniform(0.1, 50, size=13)).astype(np.float32)
    write_htk(tmp_path / "c.htk", data, compress=True)
    back = read_htk(tmp_path / "c.htk").data
    assert back.shape == data.shape
    span = data.max(axis=0) - data.min(axis=0)
    err = np.abs(back - data).max(axis=0)
    # half a quantisation step, span / 65534, plus float32 rounding
    assert np.all(err <= span / 65534 * 1.01 + 1e-6 * np.abs(data).max(axis=0))
    assert np.all(err > 0)  # it really went through int16


def test_compress_qualifier_in_kind_string_means_compress(tmp_path):
    write_htk(tmp_path / "c.htk", np.arange(6.0).reshape(3, 2), parm_kind="FBANK_C")
    raw = (tmp_path / "c.htk").read_bytes()
    assert struct.unpack(">iihH", raw[:12]) == (7, 100000, 4, 7 | 0o2000)


def test_crc_matches_word_by_word_oracle(rng):
    for n_bytes in [0, 2, 10, 1048, 1050, 1052, 2 * 525 * 3, 4000]:
        body = rng.integers(0, 256, size=n_bytes, dtype=np.uint8).tobytes()
        assert _htk_crc(body) == _horner_crc(body)
    # hand check: 1.0f = words 0x3f80, 0x0000 -> ((16256 % m) * 65536 + 0) % m
    assert _htk_crc(b"\x3f\x80\x00\x00") == (16256 * 65536) % 36897 == 26135


def test_crc_round_trip_and_layout(tmp_path, rng):
    data = rng.normal(size=(10, 4)).astype(np.float32)
    write_htk(tmp_path / "k.htk", data, parm_kind="PLP", crc=True)
    raw = (tmp_path / "k.htk").read_bytes()
    assert len(raw) == 12 + 10 * 16 + 2
    assert struct.unpack(">H", raw[-2:])[0] == _horner_crc(raw[12:-2])
    feats = read_htk(tmp_path / "k.htk")
    assert feats.kind == "PLP_K"
    np.testing.assert_array_equal(feats.data, data)


def test_compressed_with_crc_covers_scale_and_offset(tmp_path, rng):
    data = rng.normal(size=(6, 3)).astype(np.float32)
    write_htk(tmp_path / "ck.htk", data, compress=True, crc=True)
    raw = (tmp_path / "ck.htk").read_bytes()
    assert struct.unpack(">iihH", raw[:12])[3] == 9 | 0o2000 | 0o10000
    assert struct.unpack(">H", raw[-2:])[0] == _horner_crc(raw[12:-2])
    assert read_htk(tmp_path / "ck.htk").kind == "USER_C_K"
    corrupt = bytearray(raw)
    corrupt[13] ^= 0x01  # inside vector A
    p = _write(tmp_path, bytes(corrupt), "bad.htk")
    with pytest.raises(InputError, match="checksum .* mismatch"):
        read_htk(p)


def test_irefc_int16_scaled_by_32767(tmp_path):
    p = _write(tmp_path, _header(2, 100000, 4, 5) + struct.pack(">4h", 32767, -32767, 0, 16384))
    feats = read_htk(p)
    assert feats.kind == "IREFC"
    np.testing.assert_allclose(feats.data, [[1, -1], [0, 16384 / 32767]], rtol=1e-7)


def test_write_is_atomic_on_failure(tmp_path):
    p = tmp_path / "keep.htk"
    write_htk(p, np.ones((2, 2)))
    before = p.read_bytes()
    with pytest.raises(ValueError):
        write_htk(p, np.full((2, 2), np.nan))
    assert p.read_bytes() == before
    assert os.listdir(tmp_path) == ["keep.htk"]


# --------------------------------------------------------------------------- read errors

GOOD_BODY = struct.pack(">4f", 1, 2, 3, 4)


@pytest.mark.parametrize("payload, match", [
    (b"", "file is empty"),
    (b"\x00" * 5, "header truncated: file has 5 bytes, the header needs 12"),
    (_header(-1, 100000, 8, 9) + GOOD_BODY, r"negative frame count \(nSamples=-1\)"),
    (_header(2, 0, 8, 9) + GOOD_BODY, "sampPeriod=0; it must be > 0"),
    (_header(2, -5, 8, 9) + GOOD_BODY, "sampPeriod=-5"),
    (_header(2, 100000, 0, 9) + GOOD_BODY, "sampSize=0; it must be > 0"),
    (_header(2, 100000, -8, 9) + GOOD_BODY, "sampSize=-8"),
    (_header(2, 100000, 6, 9) + b"\x00" * 12, "sampSize=6, not a multiple of 4 as USER"),
    (_header(5, 100000, 3, 9 | 0o2000) + b"\x00" * 15, "not a multiple of 2 as USER_C"),
    (_header(0, 100000, 8, 9), r"zero frames \(nSamples=0\)"),
    (_header(4, 100000, 4, 9 | 0o2000) + b"\x00" * 16, "zero frames .*compression factors"),
    (_header(2, 100000, 8, 13) + GOOD_BODY, "unknown HTK parameter kind code 13"),
    (_header(4, 625, 2, 0) + b"\x00" * 8, "kind WAVEFORM .*cannot be diarized"),
    (_header(2, 100000, 2, 10) + b"\x00" * 4, "kind DISCRETE .*cannot be diarized"),
    (_header(3, 100000, 8, 9) + GOOD_BODY,
     r"truncated: header promises 36 bytes \(12 \+ 3 x 8 for USER\), file has 28"),
    (_header(2, 100000, 8, 9) + GOOD_BODY + b"\x00",
     r"size disagrees with its header: expected 28 bytes .*file has 29"),
    (_header(2, 100000, 8, 9 | 0o10000) + GOOD_BODY,
     r"truncated: header promises 30 bytes \(12 \+ 2 x 8 \+ 2 \(CRC\) for USER_K\)"),
    (_header(2, 100000, 8, 9 | 0o10000) + GOOD_BODY + b"\x00\x00",
     f"checksum \\(_K\\) mismatch: stored 0, computed {_horner_crc(GOOD_BODY)}"),
    (_header(2, 100000, 8, 9) + struct.pack(">4f", 1, 2, 3, float("nan")),
     r"NaN or infinite values in frame 1 \(of 2\)"),
    (_header(3, 100000, 4, 9) + struct.pack(">3f", 0, float("-inf"), 1),
     "NaN or infinite values in frame 1"),
    (_header(5, 100000, 4, 9 | 0o2000) + struct.pack(">2f2f", 1, 0, 0, 0) + b"\x00" * 4,
     r"invalid scale/offset in column 1 \(A=0.0"),
])
def test_read_errors(tmp_path, payload, match):
    p = _write(tmp_path, payload)
    with pytest.raises(InputError, match=match) as info:
        read_htk(p)
    assert str(info.value).startswith(str(p) + ": ")
    assert "\n" not in str(info.value)


def test_read_missing_file(tmp_path):
    with pytest.raises(InputError, match="nope.htk: file not found"):
        read_htk(tmp_path / "nope.htk")


def test_read_directory(tmp_path):
    with pytest.raises(InputError, match="is a directory"):
        read_htk(tmp_path)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads anything")
def test_read_unreadable(tmp_path):
    p = _write(tmp_path, _header(1, 100000, 4, 9) + GOOD_BODY[:4])
    p.chmod(0)
    try:
        with pytest.raises(InputError, match="cannot read file"):
            read_htk(p)
    finally:
        p.chmod(0o644)


# --------------------------------------------------------------------------- write errors

@pytest.mark.parametrize("data, kwargs, match", [
    (np.ones(5), {}, r"2-D array .* Got shape \(5,\)"),
    (np.ones((0, 3)), {}, r"Got shape \(0, 3\)"),
    (np.ones((2, 0)), {}, r"Got shape \(2, 0\)"),
    (np.array([["a", "b"]]), {}, "must be real numbers"),
    (np.array([[1.0], [np.nan]]), {}, "Frame 1 has NaN"),
    (np.array([[1e39]]), {}, "too large for float32"),
    (np.ones((2, 2)), {"samp_period": 0}, "samp_period must be in 1.."),
    (np.ones((2, 2)), {"samp_period": 2**31}, "samp_period must be in 1.."),
    (np.ones((2, 2)), {"samp_period": 1.5}, "samp_period must be an int"),
    (np.ones((2, 2)), {"samp_period": True}, "samp_period must be an int"),
    (np.ones((2, 2)), {"parm_kind": "WAVEFORM"}, "kind WAVEFORM is not supported"),
    (np.ones((2, 2)), {"parm_kind": 10}, "kind DISCRETE is not supported"),
    (np.ones((2, 2)), {"parm_kind": "MFCC_Q"}, "Unknown qualifier"),
    (np.ones((2, 2)), {"parm_kind": 77}, "Unknown HTK base parameter kind 13"),
    (np.ones((1, 8192)), {}, "32768 bytes"),
    (np.array([[0.0], [1e-45]]), {"compress": True}, "Cannot compress"),
])
def test_write_errors(tmp_path, data, kwargs, match):
    with pytest.raises(ValueError, match=match):
        write_htk(tmp_path / "w.htk", data, **kwargs)
    assert not (tmp_path / "w.htk").exists()


def test_write_to_missing_directory(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        write_htk(tmp_path / "no" / "w.htk", np.ones((2, 2)))


# --------------------------------------------------------------------------- fuzz

def _mutations(rng, seeds, n):
    for i in range(n):
        kind = i % 4
        if kind == 0:  # random bytes
            yield rng.integers(0, 256, size=int(rng.integers(0, 80)), dtype=np.uint8).tobytes()
        elif kind == 1:  # plausible header, random body of a plausible length
            n_samples = int(rng.integers(-2, 8))
            samp_size = int(rng.choice([-4, 0, 2, 3, 4, 8, 12]))
            code = int(rng.integers(0, 13)) | int(rng.choice([0, 0o2000, 0o10000, 0o12000,
                                                               0o100000, 0o20100]))
            body_len = max(0, n_samples * samp_size + int(rng.choice([0, 0, 2, -1, 1])))
            body = rng.integers(0, 256, size=body_len, dtype=np.uint8).tobytes()
            yield _header(n_samples, int(rng.choice([0, 1, 100000])), samp_size, code) + body
        else:  # mutate a real or a compressed/CRC file: flip bytes, truncate, extend
            buf = bytearray(seeds[int(rng.integers(len(seeds)))])
            for _ in range(int(rng.integers(1, 4))):
                pos = int(rng.integers(0, 16)) if rng.random() < 0.6 else int(
                    rng.integers(len(buf)))
                buf[pos] = int(rng.integers(0, 256))
            if kind == 3:
                cut = int(rng.integers(0, len(buf) + 8))
                buf = buf[:cut] if cut <= len(buf) else buf + b"\x00" * (cut - len(buf))
            yield bytes(buf)


def test_fuzz_reader_raises_only_diarizer_errors(tmp_path, rng):
    small = rng.normal(size=(5, 3)).astype(np.float32)
    write_htk(tmp_path / "seed_c.htk", small, compress=True, crc=True)
    write_htk(tmp_path / "seed_k.htk", small, crc=True)
    seeds = [(DATA / "htk_fbank.htk").read_bytes()[:12 + 92 * 3],  # header says 142 frames
             (tmp_path / "seed_c.htk").read_bytes(), (tmp_path / "seed_k.htk").read_bytes()]
    seeds[0] = _header(3, 100000, 92, 7) + seeds[0][12:]
    assert read_htk(_write(tmp_path, seeds[0])).n_frames == 3
    outcomes = {"ok": 0, "error": 0}
    p = tmp_path / "fuzz.htk"
    for payload in _mutations(rng, seeds, 300):
        p.write_bytes(payload)
        try:
            feats = read_htk(p)
        except DiarizerError as exc:
            assert isinstance(exc, InputError)
            assert "\n" not in str(exc)
            outcomes["error"] += 1
        else:
            assert feats.data.ndim == 2 and feats.data.dtype == np.float32
            assert np.isfinite(feats.data).all()
            outcomes["ok"] += 1
    assert outcomes["ok"] > 10 and outcomes["error"] > 100
