"""Diarization error rate (DER) with the semantics of NIST md-eval-22.

For each recording (uri) of the reference, time is cut at every reference, system and region
boundary into elementary pieces. On a piece of length ``d`` with ``n_ref`` reference and ``n_sys``
system speakers, of which ``n_map`` reference speakers have their mapped system speaker active::

    scored      += d * n_ref
    missed      += d * max(n_ref - n_sys, 0)
    false_alarm += d * max(n_sys - n_ref, 0)
    confusion   += d * (min(n_ref, n_sys) - n_map)

    DER = (missed + false_alarm + confusion) / scored

What md-eval-22 does, and so does this module:

- **Evaluated region.** The UEM regions of the uri; without a UEM entry for it, the span from the
  first reference onset to the last reference offset (zero-duration turns included), so system
  speech outside that span is not a false alarm. System uris absent from the reference are ignored;
  a reference uri with no system turn is all miss.
- **Mapping.** One-to-one, reference to system, maximising the total co-speaking time over the
  *evaluated* region (before collars and overlap removal), solved exactly
  (:func:`scipy.optimize.linear_sum_assignment`).
- **Collar.** ``collar`` seconds on *each side* of every reference boundary (onset and offset of
  every reference turn) are not scored (md-eval ``-c``). pyannote.metrics' ``collar`` is the total
  width instead: md-eval ``-c 0.25`` is pyannote ``collar=0.5``::

      reference      |-------A-------|
      scored    ..|    |-----------|    |.....
                 t0-c  t0+c      t1-c  t1+c

- **skip_overlap.** Only the time where at most one reference turn is active is scored
  (md-eval ``-1``); this also removes the time where one speaker's reference turns overlap.
- A speaker's own overlapping or adjacent turns count once (union). Zero-duration turns carry no
  speaker time. Times are exact floats (no rounding to a frame grid).
- Totals add the components of all files (time-weighted DER), not the per-file rates.

Unlike md-eval, the RTTM and UEM channel fields are ignored (turns and regions are matched by uri
only), only ``SPEAKER`` lines are read, and UEM uris are taken verbatim.
"""

import json
import logging
import math
import os
from dataclasses import dataclass

import numpy as np

from .exceptions import ConfigError, InputError
from .io.rttm import read_rttm
from .io.uem import merge_regions, read_uem

__all__ = [
    "FileScore",
    "DERReport",
    "score",
    "score_paths",
    "speaker_mapping",
    "format_report",
    "report_to_json",
    "add_score_arguments",
    "run_score",
]

log = logging.getLogger(__name__)

_EPS = 1e-8  # md-eval's epsilon: shorter regions are not evaluated


@dataclass(frozen=True)
class FileScore:
    """DER components of one file (or of the total), in seconds.

    Parameters
    ----------
    scored : float
        Scored reference speaker time (md-eval SCORED SPEAKER TIME).
    missed : float
        Missed speaker time.
    false_alarm : float
        False-alarm speaker time.
    confusion : float
        Speaker error time (speaker confusion).
    """

    scored: float = 0.0
    missed: float = 0.0
    false_alarm: float = 0.0
    confusion: float = 0.0

    @property
    def error(self):
        """Total error time, ``missed + false_alarm + confusion``."""
        return self.missed + self.false_alarm + self.confusion

    @property
    def correct(self):
        """Correctly attributed reference speaker time, ``scored - missed - confusion``."""
        return self.scored - self.missed - self.confusion

    @property
    def der(self):
        """DER in percent of scored time (0 if nothing is scored and no error, else inf)."""
        if self.scored > 0:
            return 100.0 * self.error / self.scored
        return 0.0 if self.error <= 0 else math.inf

    def __add__(self, other):
        if not isinstance(other, FileScore):
            return NotImplemented
        return FileScore(self.scored + other.scored, self.missed + other.missed,
                         self.false_alarm + other.false_alarm, self.confusion + other.confusion)


@dataclass(frozen=True)
class DERReport:
    """Per-file scores and their total.

    Parameters
    ----------
    files : dict of str to FileScore
        One entry per reference uri, sorted by uri.
    total : FileScore
        Sum of the components of all files.
    """

    files: dict
    total: FileScore


# ---------------------------------------------------------------------------------------------
# Interval sets: sorted, disjoint (starts, ends) float64 arrays.
# ---------------------------------------------------------------------------------------------

def _union(starts, ends):
    """Merge intervals ``[starts[i], ends[i]]`` (any order, empty ones dropped) into a set."""
    starts = np.asarray(starts, dtype=np.float64)
    ends = np.asarray(ends, dtype=np.float64)
    keep = ends > starts
    starts, ends = starts[keep], ends[keep]
    if starts.size == 0:
        return starts, ends
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order], ends[order]
    reach = np.maximum.accumulate(ends)
    new = np.empty(starts.size, dtype=bool)
    new[0] = True
    new[1:] = starts[1:] > reach[:-1]
    first = np.flatnonzero(new)
    last = np.append(first[1:] - 1, starts.size - 1)
    return starts[first], reach[last]


def _inside(points, interval_set):
    """Boolean mask: which ``points`` lie in ``[start, end)`` of a disjoint sorted set."""
    starts, ends = interval_set
    idx = np.searchsorted(starts, points, side="right") - 1
    ok = idx >= 0
    out = np.zeros(points.shape, dtype=bool)
    out[ok] = points[ok] < ends[idx[ok]]
    return out


def _difference(a, b):
    """Set difference ``a - b`` of two interval sets."""
    if a[0].size == 0 or b[0].size == 0:
        return a
    bounds = np.unique(np.concatenate([a[0], a[1], b[0], b[1]]))
    left, right = bounds[:-1], bounds[1:]
    keep = _inside(left, a) & ~_inside(left, b)
    return _union(left[keep], right[keep])


def _coverage_count(starts, ends, points):
    """Number of intervals ``[start, end)`` containing each point."""
    return (np.searchsorted(np.sort(starts), points, side="right")
            - np.searchsorted(np.sort(ends), points, side="right"))


def _activity(turns, bounds):
    """Per-speaker activity on the elementary pieces ``[bounds[i], bounds[i+1])``.

    Returns ``(labels, active)`` with ``active`` of shape (n_pieces, n_speakers), bool.
    """
    labels = sorted({t[2] for t in turns})
    col = {lab: j for j, lab in enumerate(labels)}
    counts = np.zeros((bounds.size, len(labels)), dtype=np.int64)
    if turns:
        starts = np.array([t[0] for t in turns])
        ends = np.array([t[1] for t in turns])
        cols = np.array([col[t[2]] for t in turns])
        i0 = np.searchsorted(bounds, starts)
        i1 = np.searchsorted(bounds, ends)
        np.add.at(counts, (i0, cols), 1)
        np.add.at(counts, (i1, cols), -1)
    return labels, np.cumsum(counts, axis=0)[:-1] > 0


# ---------------------------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------------------------

def _evaluated(ref, regions):
    """The evaluated interval set: the UEM regions, or the reference span without them."""
    if regions is None:
        regions = [(min(t[0] for t in ref), max(t[1] for t in ref))]
    return _union([s for s, e in regions if e - s > _EPS],
                  [e for s, e in regions if e - s > _EPS])


def _optimal_pairs(ref_on, hyp_on, w_eval):
    """md-eval's one-to-one speaker mapping, maximising co-speaking time over the evaluated region.

    Parameters
    ----------
    ref_on : ndarray of shape (n_pieces, n_ref_speakers), bool
    hyp_on : ndarray of shape (n_pieces, n_hyp_speakers), bool
    w_eval : ndarray of shape (n_pieces,)
        Evaluated duration of each piece.

    Returns
    -------
    rows, cols : ndarray of int
        Mapped reference and system speaker columns (pairs with no co-speaking time dropped).
    """
    if not (ref_on.shape[1] and hyp_on.shape[1]):
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    from scipy.optimize import linear_sum_assignment  # lazy: keeps `--help` cheap

    overlap = (ref_on * w_eval[:, None]).T @ hyp_on.astype(np.float64)
    rows, cols = linear_sum_assignment(overlap, maximize=True)
    mapped = overlap[rows, cols] > 0
    return rows[mapped], cols[mapped]


def _score_file(ref, hyp, regions, collar, skip_overlap):
    """Score one uri. ``ref``/``hyp`` are lists of (start, end, speaker), zero-length included."""
    eval_set = _evaluated(ref, regions)
    score_set = eval_set
    if collar > 0:
        marks = np.array([t[0] for t in ref] + [t[1] for t in ref], dtype=np.float64)
        score_set = _difference(score_set, _union(marks - collar, marks + collar))
    ref = [t for t in ref if t[1] > t[0]]
    hyp = [t for t in hyp if t[1] > t[0]]
    if skip_overlap and ref:
        r_starts = np.array([t[0] for t in ref])
        r_ends = np.array([t[1] for t in ref])
        pts = np.unique(np.concatenate([r_starts, r_ends]))
        many = _coverage_count(r_starts, r_ends, pts[:-1]) >= 2
        score_set = _difference(score_set, _union(pts[:-1][many], pts[1:][many]))

    bounds = np.unique(np.concatenate(
        [[t[0] for t in ref], [t[1] for t in ref], [t[0] for t in hyp], [t[1] for t in hyp],
         eval_set[0], eval_set[1], score_set[0], score_set[1]]).astype(np.float64))
    if bounds.size < 2:
        return FileScore()
    dur = np.diff(bounds)
    left = bounds[:-1]
    w_eval = np.where(_inside(left, eval_set), dur, 0.0)
    w_score = np.where(_inside(left, score_set), dur, 0.0)
    _, ref_on = _activity(ref, bounds)
    _, hyp_on = _activity(hyp, bounds)

    n_ref = ref_on.sum(axis=1)
    n_hyp = hyp_on.sum(axis=1)
    rows, cols = _optimal_pairs(ref_on, hyp_on, w_eval)
    n_map = (ref_on[:, rows] & hyp_on[:, cols]).sum(axis=1)
    return FileScore(
        scored=float(w_score @ n_ref),
        missed=float(w_score @ np.maximum(n_ref - n_hyp, 0)),
        false_alarm=float(w_score @ np.maximum(n_hyp - n_ref, 0)),
        confusion=float(w_score @ (np.minimum(n_ref, n_hyp) - n_map)),
    )


def _by_uri(turns):
    out = {}
    for t in turns:
        out.setdefault(t.uri, []).append((float(t.start), float(t.start) + float(t.duration),
                                          t.speaker))
    return out


def score(reference, hypothesis, uem=None, collar=0.0, skip_overlap=False):
    """Score a diarization against a reference with md-eval-22 semantics.

    Parameters
    ----------
    reference : iterable of RTTMTurn
        Reference turns, any number of uris. Each reference uri is scored.
    hypothesis : iterable of RTTMTurn
        System turns; uris absent from the reference are ignored.
    uem : dict of str to list of (float, float), optional
        Evaluated regions per uri in seconds (as returned by :func:`diarizer.io.uem.read_uem`).
        A uri without an entry (or ``uem=None``) is evaluated from its first reference onset to
        its last reference offset, as md-eval does.
    collar : float, default=0.0
        No-score zone of ``collar`` seconds on *each side* of every reference boundary
        (md-eval ``-c``; pyannote.metrics' ``collar`` is twice this).
    skip_overlap : bool, default=False
        Score only where at most one reference turn is active (md-eval ``-1``).

    Returns
    -------
    report : DERReport
        Per-uri :class:`FileScore` and their total.

    Raises
    ------
    ConfigError
        ``collar`` is negative or not finite (a ``ValueError``).

    See Also
    --------
    score_paths : the same from files.

    Examples
    --------
    >>> from diarizer.io.rttm import RTTMTurn
    >>> ref = [RTTMTurn("m", 0.0, 10.0, "A"), RTTMTurn("m", 10.0, 10.0, "B")]
    >>> hyp = [RTTMTurn("m", 0.0, 15.0, "x"), RTTMTurn("m", 15.0, 5.0, "y")]
    >>> r = score(ref, hyp)
    >>> r.total.scored, r.total.confusion, r.total.der
    (20.0, 5.0, 25.0)
    """
    collar = float(collar)
    if not (math.isfinite(collar) and collar >= 0):
        raise ConfigError(f"The collar must be a finite number of seconds >= 0. Got {collar!r} "
                          "instead.")
    ref_by_uri = _by_uri(reference)
    hyp_by_uri = _by_uri(hypothesis)
    extra = sorted(set(hyp_by_uri) - set(ref_by_uri))
    if extra:
        log.warning("%d system uri(s) absent from the reference are not scored: %s",
                    len(extra), ", ".join(extra[:5]) + (" ..." if len(extra) > 5 else ""))
    files = {}
    for uri in sorted(ref_by_uri):
        regions = None
        if uem is not None:
            regions = uem.get(uri)
            if regions is None:
                log.warning("%s: no UEM entry; scoring from the first to the last reference "
                            "boundary", uri)
            else:
                regions = merge_regions(regions)
        files[uri] = _score_file(ref_by_uri[uri], hyp_by_uri.get(uri, []), regions, collar,
                                 skip_overlap)
        log.info("%s: DER %.2f%% of %.3f s", uri, files[uri].der, files[uri].scored)
    total = sum(files.values(), FileScore())
    return DERReport(files=files, total=total)


def speaker_mapping(reference, hypothesis, uem=None, uri=None):
    """The optimal one-to-one speaker mapping that :func:`score` uses, system to reference.

    Parameters
    ----------
    reference : iterable of RTTMTurn
        Reference turns.
    hypothesis : iterable of RTTMTurn
        System turns.
    uem : dict of str to list of (float, float), optional
        Evaluated regions per uri in seconds; without an entry for the uri, the span from the
        first reference onset to the last reference offset (as in :func:`score`).
    uri : str, optional
        Recording to map. Default: the only uri of the reference.

    Returns
    -------
    mapping : dict of str to str
        ``{system speaker: reference speaker}`` for the mapped pairs, which maximise the total
        co-speaking time over the evaluated region (md-eval). System speakers left unmapped, or
        mapped to a reference speaker they never overlap, are absent.

    Raises
    ------
    ConfigError
        ``uri`` is not given and the reference holds several uris, or ``uri`` is not in it.

    Examples
    --------
    >>> from diarizer.io.rttm import RTTMTurn
    >>> ref = [RTTMTurn("m", 0.0, 10.0, "A"), RTTMTurn("m", 10.0, 10.0, "B")]
    >>> hyp = [RTTMTurn("m", 0.0, 12.0, "x"), RTTMTurn("m", 12.0, 8.0, "y")]
    >>> speaker_mapping(ref, hyp)
    {'x': 'A', 'y': 'B'}
    """
    ref_by_uri = _by_uri(reference)
    if uri is None:
        if len(ref_by_uri) != 1:
            raise ConfigError(f"speaker_mapping needs a uri when the reference holds "
                              f"{len(ref_by_uri)} recordings. Got uri=None instead.")
        (uri,) = ref_by_uri
    if uri not in ref_by_uri:
        raise ConfigError(f"The uri {uri!r} is not in the reference. Choose one of: "
                          f"{', '.join(sorted(ref_by_uri)[:5])}.")
    ref = ref_by_uri[uri]
    hyp = [t for t in _by_uri(hypothesis).get(uri, []) if t[1] > t[0]]
    regions = None if uem is None or uem.get(uri) is None else merge_regions(uem[uri])
    eval_set = _evaluated(ref, regions)
    ref = [t for t in ref if t[1] > t[0]]
    bounds = np.unique(np.concatenate(
        [[t[0] for t in ref], [t[1] for t in ref], [t[0] for t in hyp], [t[1] for t in hyp],
         eval_set[0], eval_set[1]]).astype(np.float64))
    if bounds.size < 2:
        return {}
    w_eval = np.where(_inside(bounds[:-1], eval_set), np.diff(bounds), 0.0)
    ref_labels, ref_on = _activity(ref, bounds)
    hyp_labels, hyp_on = _activity(hyp, bounds)
    rows, cols = _optimal_pairs(ref_on, hyp_on, w_eval)
    return {hyp_labels[c]: ref_labels[r] for r, c in zip(rows.tolist(), cols.tolist())}


def _read_rttms(path):
    path = os.fspath(path)
    if os.path.isdir(path):
        names = sorted(n for n in os.listdir(path) if n.lower().endswith(".rttm"))
        if not names:
            raise InputError(path, "directory holds no .rttm file")
        turns = []
        for name in names:
            turns.extend(read_rttm(os.path.join(path, name), keep_empty=True))
        return turns
    return read_rttm(path, keep_empty=True)


def score_paths(ref, sys, uem=None, collar=0.0, skip_overlap=False):
    """Score RTTM files (or directories of ``.rttm`` files) with md-eval-22 semantics.

    Parameters
    ----------
    ref : str or os.PathLike
        Reference RTTM file, or a directory whose ``*.rttm`` files are all read.
    sys : str or os.PathLike
        System RTTM file or directory.
    uem : str or os.PathLike, optional
        UEM file.
    collar : float, default=0.0
        ± collar in seconds around reference boundaries (md-eval ``-c``).
    skip_overlap : bool, default=False
        Skip reference overlap (md-eval ``-1``).

    Returns
    -------
    report : DERReport
        See :func:`score`.

    Raises
    ------
    InputError
        A file cannot be read or is malformed, or a directory holds no ``.rttm`` file.
    ConfigError
        ``collar`` is negative or not finite (a ``ValueError``).

    See Also
    --------
    score
    """
    reference = _read_rttms(ref)
    hypothesis = _read_rttms(sys)
    regions = None if uem is None else read_uem(uem)
    return score(reference, hypothesis, uem=regions, collar=collar, skip_overlap=skip_overlap)


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------

_KEYS = ("scored", "missed", "false_alarm", "confusion")


def _row_dict(fs):
    der = fs.der
    out = {k: getattr(fs, k) for k in _KEYS}
    out["der"] = der if math.isfinite(der) else None
    return out


def report_to_json(report):
    """Convert a report to plain JSON-ready data.

    Parameters
    ----------
    report : DERReport
        Scores.

    Returns
    -------
    data : dict
        ``{"files": {uri: {"scored", "missed", "false_alarm", "confusion", "der"}},
        "total": {...same keys}}``, times in seconds, DER in percent (``None`` when it is
        infinite: errors with no scored time).
    """
    return {"files": {uri: _row_dict(fs) for uri, fs in report.files.items()},
            "total": _row_dict(report.total)}


def format_report(report):
    """Format a report as a text table, one row per file and a TOTAL row.

    Parameters
    ----------
    report : DERReport
        Scores.

    Returns
    -------
    table : str
        Columns: uri, scored, missed, false alarm, confusion (seconds, 3 decimals) and DER
        (percent, 2 decimals).
    """
    rows = [(uri, fs) for uri, fs in report.files.items()] + [("TOTAL", report.total)]
    width = max(5, *(len(uri) for uri, _ in rows))
    head = (f"{'uri':<{width}}  {'scored':>12}  {'missed':>12}  {'false_alarm':>12}  "
            f"{'confusion':>12}  {'DER%':>8}")
    lines = [head, "-" * len(head)]
    for i, (uri, fs) in enumerate(rows):
        if i == len(rows) - 1:
            lines.append("-" * len(head))
        lines.append(f"{uri:<{width}}  {fs.scored:12.3f}  {fs.missed:12.3f}  "
                     f"{fs.false_alarm:12.3f}  {fs.confusion:12.3f}  {fs.der:8.2f}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Command line (the parser itself belongs to diarizer.cli)
# ---------------------------------------------------------------------------------------------

def add_score_arguments(parser):
    """Add the ``score`` arguments to an :class:`argparse.ArgumentParser`.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        Parser (or sub-parser) to extend with ``-r/--ref``, ``-s/--sys``, ``-u/--uem``,
        ``-c/--collar``, ``-1/--skip-overlap`` and ``--json``.

    Returns
    -------
    parser : argparse.ArgumentParser
        The same parser.
    """
    parser.add_argument("-r", "--ref", required=True, metavar="REF",
                        help="reference RTTM file, or directory of .rttm files")
    parser.add_argument("-s", "--sys", required=True, metavar="SYS",
                        help="system RTTM file, or directory of .rttm files")
    parser.add_argument("-u", "--uem", default=None, metavar="UEM",
                        help="UEM file of evaluated regions (default: for each file, from the "
                             "first to the last reference boundary, as md-eval)")
    parser.add_argument("-c", "--collar", type=float, default=0.0, metavar="COLLAR",
                        help="no-score collar in seconds on each side of every reference "
                             "boundary, as md-eval -c (default: 0.0)")
    parser.add_argument("-1", "--skip-overlap", dest="skip_overlap", action="store_true",
                        help="score only where the reference has at most one speaker "
                             "(md-eval -1)")
    parser.add_argument("--json", action="store_true",
                        help="print the scores as JSON instead of a table")
    return parser


def run_score(args):
    """Score from parsed arguments and print the table (or JSON) to stdout.

    Parameters
    ----------
    args : argparse.Namespace
        Arguments added by :func:`add_score_arguments`.

    Returns
    -------
    status : int
        0.

    Raises
    ------
    InputError
        An input file cannot be read or is malformed (the CLI reports it and exits 1).
    """
    report = score_paths(args.ref, args.sys, uem=args.uem, collar=args.collar,
                         skip_overlap=args.skip_overlap)
    if args.json:
        print(json.dumps(report_to_json(report), indent=2, sort_keys=False))
    else:
        print(format_report(report), end="")
    return 0
