"""HTK parameter (feature) files: read and write, as HTK's HParm module does.

An HTK parameter file is a 12-byte big-endian header followed by ``nSamples`` frames::

    offset  size  field
         0     4  nSamples    int32   number of frames (rows)
         4     4  sampPeriod  int32   frame period in 100 ns units (100000 = 10 ms)
         8     2  sampSize    int16   bytes per frame
        10     2  parmKind    uint16  base kind (low 6 bits) + qualifier bits
        12     .  body        nSamples * sampSize bytes, big-endian
         .     2  CRC         only with the _K qualifier

Base kinds: WAVEFORM=0, LPC=1, LPREFC=2, LPCEPSTRA=3, LPDELCEP=4, IREFC=5, MFCC=6, FBANK=7,
MELSPEC=8, USER=9, DISCRETE=10, PLP=11, ANON=12. Qualifiers (octal): _E=0o100, _N=0o200,
_D=0o400, _A=0o1000, _C=0o2000, _Z=0o4000, _K=0o10000, _0=0o20000, _V=0o40000, _T=0o100000.

Float kinds store ``sampSize / 4`` float32 values per frame. Two layouts store int16 instead:

* ``_C`` (compressed): ``D = sampSize / 2`` int16 per frame. Two float32 vectors ``A`` (scale)
  and ``B`` (offset) of length ``D`` follow the header; they occupy ``8 * D = 4 * sampSize``
  bytes and are counted as 4 rows in ``nSamples`` (HTK's HParm ``OpenParmChannel`` subtracts 4).
  A value is ``(short + B) / A``. The writer's rule (HParm ``CalcCompress``) is, per column,
  ``A = 2 * 32767 / (max - min)``, ``B = (max + min) * 32767 / (max - min)`` (``A = 1, B = max``
  for a constant column) and ``short = round_half_away(x * A - B)``.
* ``IREFC``: int16 reflection coefficients, ``value = short / 32767`` (``A = 32767, B = 0``).

``_K`` appends a 2-byte checksum after the body. It is HTK's ``UpdateCRCC``: starting from 0,
``crc = (crc * 65536 + w) % 36897`` over every big-endian 16-bit word ``w`` after the header
(the ``A``/``B`` vectors included). The reader verifies it (vectorised, it costs about as much
as the float conversion) and rejects a mismatch, as HTK does.

WAVEFORM (raw int16 audio) and DISCRETE (VQ symbol indices) are not features the diarizer can
model; the reader refuses them with a message naming the kind.

Compared with the original diarizer, which read only ``nSamples`` and ``sampSize`` and assumed
10 ms float32 frames, this reader honours ``sampPeriod`` (see :attr:`HTKFeatures.frame_period`),
decodes ``_C`` and ``_K`` files and validates the file length against the header.
"""

import logging
import os
import struct
from dataclasses import dataclass

import numpy as np

from ..exceptions import InputError
from ._atomic import atomic_open

__all__ = ["HTKFeatures", "read_htk", "write_htk", "parse_parm_kind", "format_parm_kind",
           "HTK_SUFFIXES"]

#: File name suffixes taken for HTK parameter files (anything else is read as audio).
HTK_SUFFIXES = (".htk", ".mfc", ".fea", ".feat", ".plp", ".fbank")

log = logging.getLogger(__name__)

# ----------------------------------------------------------------------------------------------
# Parameter kinds
# ----------------------------------------------------------------------------------------------

_BASE_NAMES = ("WAVEFORM", "LPC", "LPREFC", "LPCEPSTRA", "LPDELCEP", "IREFC", "MFCC", "FBANK",
               "MELSPEC", "USER", "DISCRETE", "PLP", "ANON")
_BASE_CODES = {name: code for code, name in enumerate(_BASE_NAMES)}
WAVEFORM, IREFC, DISCRETE = 0, 5, 10

# In the order HTK's ParmKind2Str prints them.
_QUALIFIERS = (("E", 0o100), ("D", 0o400), ("N", 0o200), ("A", 0o1000), ("T", 0o100000),
               ("C", 0o2000), ("K", 0o10000), ("Z", 0o4000), ("0", 0o20000), ("V", 0o40000))
_QUALIFIER_BITS = dict(_QUALIFIERS)
_BASEMASK = 0o77
_HAS_C = 0o2000
_HAS_K = 0o10000

_HEADER = struct.Struct(">iihH")
_HEADER_SIZE = _HEADER.size  # 12
_CRC_MODULUS = 36897
_SHORT_MAX = 32767


def parse_parm_kind(code):
    """Split a numeric HTK parameter kind into its base name and qualifier string.

    Parameters
    ----------
    code : int
        The ``parmKind`` header field, either as unsigned (0..65535) or as the signed int16
        a C reader sees (-32768..-1 when ``_T`` is set).

    Returns
    -------
    base_name : str
        E.g. ``'MFCC'``.
    qualifiers : str
        E.g. ``'_E_D_A'`` (empty string when there are none), in HTK's order.

    Raises
    ------
    ValueError
        ``code`` is out of the 16-bit range or its base kind (low 6 bits) is unknown.

    See Also
    --------
    format_parm_kind : The inverse.

    Examples
    --------
    >>> parse_parm_kind(838)
    ('MFCC', '_E_D_A')
    >>> parse_parm_kind(8966)
    ('MFCC', '_D_A_0')
    """
    code = int(code)
    if not -32768 <= code <= 65535:
        raise ValueError(f"An HTK parameter kind must fit in 16 bits. Got {code} instead.")
    code &= 0xFFFF
    base = code & _BASEMASK
    if base >= len(_BASE_NAMES):
        raise ValueError(f"Unknown HTK base parameter kind {base} (in code {code}); known kinds"
                         f" are 0..{len(_BASE_NAMES) - 1}.")
    quals = "".join("_" + q for q, bit in _QUALIFIERS if code & bit)
    return _BASE_NAMES[base], quals


def format_parm_kind(name):
    """Convert an HTK parameter kind name such as ``'MFCC_E_D_A'`` to its numeric code.

    Parameters
    ----------
    name : str
        Base kind followed by ``_X`` qualifiers in any order (case-insensitive).

    Returns
    -------
    code : int
        Unsigned 16-bit code (e.g. 838 for ``'MFCC_E_D_A'``).

    Raises
    ------
    ValueError
        Unknown base kind, unknown or repeated qualifier.

    See Also
    --------
    parse_parm_kind : The inverse.

    Examples
    --------
    >>> format_parm_kind("MFCC_E_D_A")
    838
    >>> format_parm_kind("PLP_D_A_0")
    8971
    """
    parts = str(name).strip().upper().split("_")
    base = parts[0]
    if base not in _BASE_CODES:
        raise ValueError(f"Unknown HTK parameter kind {name!r}; the base kind must be one of"
                         f" {', '.join(_BASE_NAMES)}.")
    code = _BASE_CODES[base]
    for q in parts[1:]:
        if q not in _QUALIFIER_BITS:
            raise ValueError(f"Unknown qualifier '_{q}' in HTK parameter kind {name!r}; known"
                             f" qualifiers are {' '.join('_' + k for k, _ in _QUALIFIERS)}.")
        if code & _QUALIFIER_BITS[q]:
            raise ValueError(f"Qualifier '_{q}' appears twice in HTK parameter kind {name!r}.")
        code |= _QUALIFIER_BITS[q]
    return code


# ----------------------------------------------------------------------------------------------
# Container
# ----------------------------------------------------------------------------------------------

@dataclass
class HTKFeatures:
    """Frames read from an HTK parameter file.

    Parameters
    ----------
    data : ndarray of shape (n_frames, n_features), dtype float32
        Decoded feature vectors (decompressed if the file was ``_C``).
    samp_period : int
        Frame period in HTK's 100 ns units (100000 = 10 ms).
    parm_kind : int
        The full ``parmKind`` code from the header, qualifier bits included (``_C``/``_K``
        describe the file's storage; ``data`` is always plain float32).
    """

    data: np.ndarray
    samp_period: int
    parm_kind: int

    @property
    def frame_period(self):
        """Frame period in seconds (``samp_period * 1e-7``)."""
        return self.samp_period / 1e7

    @property
    def kind(self):
        """Parameter kind as a string, e.g. ``'MFCC_E_D_A'``."""
        base, quals = parse_parm_kind(self.parm_kind)
        return base + quals

    @property
    def n_frames(self):
        """Number of frames (rows of ``data``)."""
        return self.data.shape[0]

    @property
    def n_features(self):
        """Number of values per frame (columns of ``data``)."""
        return self.data.shape[1]


# ----------------------------------------------------------------------------------------------
# Checksum
# ----------------------------------------------------------------------------------------------

def _crc_powers():
    """Powers ``65536**k mod 36897`` for one full period of the sequence."""
    r = 65536 % _CRC_MODULUS
    powers = [1]
    x = r
    while x != 1:  # 65536 is coprime with 36897 = 3 * 7**2 * 251, so the sequence is periodic
        powers.append(x)
        x = (x * r) % _CRC_MODULUS
    return np.array(powers, dtype=np.int64)


_CRC_POWERS = None


def _htk_crc(body):
    """HTK's ``UpdateCRCC`` over ``body`` (bytes of even length) read as big-endian uint16.

    Horner's rule ``crc = (crc * 65536 + w_i) % m`` equals ``sum_i w_i * 65536**(n-1-i) % m``.
    The powers repeat with period ``P`` (525), so after virtually left-padding the words with zeros
    to a multiple of ``P`` the sum is: column sums of a (k, P) reshape, dotted with the powers.
    """
    global _CRC_POWERS
    if _CRC_POWERS is None:
        _CRC_POWERS = _crc_powers()
    period = _CRC_POWERS.size
    words = np.frombuffer(body, dtype=">u2")
    head = words.size % period  # the first `head` words, then whole periods
    column_sums = np.zeros(period, dtype=np.int64)
    column_sums[period - head:] = words[:head]
    column_sums += words[head:].reshape(-1, period).sum(axis=0, dtype=np.int64)
    total = int(np.dot(column_sums % _CRC_MODULUS, _CRC_POWERS[::-1]))
    return total % _CRC_MODULUS


# ----------------------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------------------

def _read_bytes(path):
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, not an HTK feature file") from None
    except OSError as exc:
        raise InputError(path, f"cannot read file ({exc.strerror or exc})") from None


def read_htk(path):
    """Read an HTK parameter file.

    Parameters
    ----------
    path : str or os.PathLike
        The HTK file (big-endian, as HTK writes it).

    Returns
    -------
    features : HTKFeatures
        ``features.data`` is an ndarray of shape (n_frames, n_features), float32.

    Raises
    ------
    InputError
        The file is missing or unreadable, empty, shorter than its header or than the size
        the header promises (or longer), has an impossible header field (``nSamples < 0``,
        zero frames, ``sampPeriod <= 0``, ``sampSize <= 0`` or not a multiple of the value
        size), is WAVEFORM or DISCRETE, fails its ``_K`` checksum, or holds NaN/infinity.

    See Also
    --------
    write_htk : The writer.

    Examples
    --------
    >>> feats = read_htk("meeting.htk")  # doctest: +SKIP
    >>> feats.data.shape, feats.kind, feats.frame_period  # doctest: +SKIP
    ((142, 39), 'MFCC_D_A_0', 0.01)
    """
    path = os.fspath(path)
    raw = _read_bytes(path)
    if not raw:
        raise InputError(path, "file is empty, expected an HTK feature file")
    if len(raw) < _HEADER_SIZE:
        raise InputError(path, f"HTK header truncated: file has {len(raw)} bytes, the header"
                               f" needs {_HEADER_SIZE}")
    n_samples, samp_period, samp_size, parm_kind = _HEADER.unpack_from(raw)
    if n_samples < 0:
        raise InputError(path, f"HTK header has a negative frame count (nSamples={n_samples})")
    if samp_period <= 0:
        raise InputError(path, f"HTK header has sampPeriod={samp_period}; it must be > 0"
                               " (100 ns units)")
    if samp_size <= 0:
        raise InputError(path, f"HTK header has sampSize={samp_size}; it must be > 0")
    base = parm_kind & _BASEMASK
    if base >= len(_BASE_NAMES):
        raise InputError(path, f"unknown HTK parameter kind code {parm_kind}"
                               f" (base kind {base}); not an HTK feature file?")
    kind = "".join(parse_parm_kind(parm_kind))
    if base in (WAVEFORM, DISCRETE):
        what = "raw audio samples" if base == WAVEFORM else "vector-quantised symbol indices"
        raise InputError(path, f"HTK parameter kind {kind} ({what}) cannot be diarized;"
                               " give continuous features such as MFCC")
    compressed = bool(parm_kind & _HAS_C)
    has_crc = bool(parm_kind & _HAS_K)
    shorts = compressed or base == IREFC
    n_frames = n_samples - 4 if compressed else n_samples
    if n_frames <= 0:
        extra = " after the 4 rows of compression factors" if compressed else ""
        raise InputError(path, f"HTK file contains zero frames (nSamples={n_samples}{extra})")
    value_size = 2 if shorts else 4
    if samp_size % value_size:
        raise InputError(path, f"HTK header has sampSize={samp_size}, not a multiple of"
                               f" {value_size} as {kind} needs"
                               f" ({'int16' if shorts else 'float32'} values)")
    n_features = samp_size // value_size
    body_size = n_samples * samp_size
    expected = _HEADER_SIZE + body_size + (2 if has_crc else 0)
    layout = (f"12 + {n_samples} x {samp_size}" + (" + 2 (CRC)" if has_crc else "")
              + f" for {kind}")
    if len(raw) < expected:
        raise InputError(path, f"HTK file truncated: header promises {expected} bytes"
                               f" ({layout}), file has {len(raw)}")
    if len(raw) > expected:
        raise InputError(path, f"HTK file size disagrees with its header: expected {expected}"
                               f" bytes ({layout}), file has {len(raw)}")
    body = raw[_HEADER_SIZE:_HEADER_SIZE + body_size]
    if has_crc:
        stored = struct.unpack_from(">H", raw, _HEADER_SIZE + body_size)[0]
        computed = _htk_crc(body)
        if stored != computed:
            raise InputError(path, f"HTK checksum (_K) mismatch: stored {stored}, computed"
                                   f" {computed}; the file is corrupt")
    if compressed:
        ab = np.frombuffer(body, dtype=">f4", count=2 * n_features).astype(np.float32)
        scale, offset = ab[:n_features], ab[n_features:]
        bad = np.flatnonzero(~np.isfinite(scale) | ~np.isfinite(offset) | (scale == 0))
        if bad.size:
            col = int(bad[0])
            raise InputError(path, f"HTK compressed file has an invalid scale/offset in column"
                                   f" {col} (A={scale[col]}, B={offset[col]})")
        ints = np.frombuffer(body, dtype=">i2", offset=8 * n_features)
        data = (ints.reshape(n_frames, n_features).astype(np.float32) + offset) / scale
    elif shorts:  # IREFC: int16 scaled by 32767
        ints = np.frombuffer(body, dtype=">i2")
        data = ints.reshape(n_frames, n_features).astype(np.float32) / np.float32(_SHORT_MAX)
    else:
        data = np.frombuffer(body, dtype=">f4").reshape(n_frames, n_features)
        data = data.astype(np.float32)
    finite = np.isfinite(data).all(axis=1)
    if not finite.all():
        frame = int(np.flatnonzero(~finite)[0])
        raise InputError(path, f"HTK file has NaN or infinite values in frame {frame}"
                               f" (of {n_frames})")
    log.debug("%s: %d frames x %d %s, period %d x 100 ns", path, n_frames, n_features, kind,
              samp_period)
    return HTKFeatures(data=data, samp_period=int(samp_period), parm_kind=int(parm_kind))


# ----------------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------------

def _compress(data):
    """HTK's ``CalcCompress`` + ``CompressPBlock``: float32 frames -> (A, B, int16 frames)."""
    lo = data.min(axis=0).astype(np.float64)
    hi = data.max(axis=0).astype(np.float64)
    span = hi - lo
    const = span == 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        scale = np.where(const, 1.0, 2.0 * _SHORT_MAX / np.where(const, 1.0, span))
        offset = np.where(const, hi, (hi + lo) * _SHORT_MAX / np.where(const, 1.0, span))
        scale = scale.astype(np.float32)
        offset = offset.astype(np.float32)
    if not (np.isfinite(scale).all() and np.isfinite(offset).all() and (scale != 0).all()):
        raise ValueError("Cannot compress these features: a column's range is too large for"
                         " HTK's 16-bit compression. Write them uncompressed (compress=False).")
    x = data.astype(np.float64) * scale.astype(np.float64) - offset.astype(np.float64)
    ints = np.where(x < 0, np.ceil(x - 0.5), np.floor(x + 0.5))  # round half away from zero
    ints = np.clip(ints, -_SHORT_MAX, _SHORT_MAX).astype(np.int16)
    return scale, offset, ints


def write_htk(path, data, samp_period=100000, parm_kind="USER", *, compress=False, crc=False):
    """Write features as an HTK parameter file (big-endian), atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Output file; replaced atomically (a temporary file, then ``os.replace``).
    data : array_like of shape (n_frames, n_features)
        Finite values, stored as float32 (or as int16 with ``compress=True``).
    samp_period : int, default=100000
        Frame period in 100 ns units (100000 = 10 ms).
    parm_kind : int or str, default='USER'
        Parameter kind, e.g. ``'MFCC_E_D_A'`` or 838. WAVEFORM and DISCRETE are refused. A
        ``_C`` or ``_K`` qualifier in it has the same effect as ``compress``/``crc``.
    compress : bool, default=False
        Write HTK's ``_C`` format: per-column scale/offset and one int16 per value. Values
        come back within ``(max - min) / 65534`` of the originals, per column.
    crc : bool, default=False
        Append HTK's ``_K`` checksum.

    Raises
    ------
    ValueError
        ``data`` is not 2-D, is empty or holds NaN/infinity (or values beyond float32),
        ``samp_period`` is not a positive int32, the kind is unknown/unsupported, or a frame is
        too wide for the 16-bit ``sampSize`` field.
    InputError
        The output cannot be written.

    See Also
    --------
    read_htk : The reader; ``write_htk`` then ``read_htk`` returns float32 data exactly
        (without ``compress``).

    Examples
    --------
    >>> write_htk("out.htk", np.zeros((10, 19)), parm_kind="MFCC")  # doctest: +SKIP
    """
    arr = np.asarray(data)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError("HTK data must be a 2-D array of shape (n_frames, n_features) with at"
                         f" least one frame and one feature. Got shape {arr.shape} instead.")
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise ValueError(f"HTK data must be real numbers. Got dtype {arr.dtype} instead.")
    with np.errstate(over="ignore"):
        arr = arr.astype(np.float32)
    finite = np.isfinite(arr).all(axis=1)
    if not finite.all():
        frame = int(np.flatnonzero(~finite)[0])
        raise ValueError(f"HTK data must be finite float32 values. Frame {frame} has NaN,"
                         " infinity or a value too large for float32.")
    if isinstance(samp_period, (bool, np.bool_)) or not isinstance(samp_period,
                                                                    (int, np.integer)):
        raise ValueError("samp_period must be an int (100 ns units, 100000 = 10 ms)."
                         f" Got {samp_period!r} instead.")
    if not 0 < samp_period <= 2**31 - 1:
        raise ValueError(f"samp_period must be in 1..{2**31 - 1} (100 ns units)."
                         f" Got {samp_period} instead.")
    code = format_parm_kind(parm_kind) if isinstance(parm_kind, str) else int(parm_kind)
    base_name, _ = parse_parm_kind(code)
    code &= 0xFFFF
    if code & _BASEMASK in (WAVEFORM, DISCRETE, IREFC):
        raise ValueError(f"write_htk writes float features; parameter kind {base_name} is not"
                         " supported.")
    compress = bool(compress or code & _HAS_C)
    crc = bool(crc or code & _HAS_K)
    code = (code & ~(_HAS_C | _HAS_K)) | (_HAS_C if compress else 0) | (_HAS_K if crc else 0)
    n_frames, n_features = arr.shape
    samp_size = n_features * (2 if compress else 4)
    if samp_size > 32767:
        raise ValueError(f"Too many features per frame for HTK's 16-bit sampSize: {n_features}"
                         f" values need {samp_size} bytes (max 32767).")
    n_samples = n_frames + (4 if compress else 0)
    if n_samples > 2**31 - 1:
        raise ValueError(f"Too many frames for HTK's 32-bit nSamples: {n_frames}.")
    if compress:
        scale, offset, ints = _compress(arr)
        body = (scale.astype(">f4").tobytes() + offset.astype(">f4").tobytes()
                + ints.astype(">i2").tobytes())
    else:
        body = arr.astype(">f4").tobytes()
    header = _HEADER.pack(n_samples, int(samp_period), samp_size, code)
    with atomic_open(path, "wb") as fh:
        fh.write(header)
        fh.write(body)
        if crc:
            fh.write(struct.pack(">H", _htk_crc(body)))
    log.debug("%s: wrote %d frames x %d %s", os.fspath(path), n_frames, n_features,
              "".join(parse_parm_kind(code)))
