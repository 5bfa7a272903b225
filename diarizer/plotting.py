"""Who-spoke-when plots: a timeline with one row per speaker, the system under the reference.

matplotlib (the ``plot`` extra) is imported only inside these functions, and only its Agg
canvas is used, so no display or global backend is touched. Layout, top to bottom::

    ref A      ====      =======            reference speakers (sorted)
    ref B           ====        ====
    hyp spk01 → A  ====     ========        system speakers renamed by the optimal mapping
    hyp spk00 → B       ===         ===     (the one md-eval uses), in the order of the
    hyp spk02             ==                reference rows; unmapped ones last
    errors     ▒▒   ▒▒▒    ▒▒               missed / false alarm / confusion lanes
               0 s        ...        T s

Errors are those of the full DER (no collar, overlap scored), computed piece by piece exactly as
:func:`diarizer.scoring.score` adds them up; they are also shaded, faintly, over the system rows.
Times outside the evaluated region (UEM, or the reference span) are greyed.
"""

import logging
import os

import numpy as np

from .exceptions import ConfigError, InputError
from .io.rttm import RTTMTurn, read_rttm
from .io.uem import merge_regions, read_uem
from .scoring import _activity, _by_uri, _evaluated, _inside, _union, score, speaker_mapping

__all__ = ["plot_diarization", "plot_rttm", "FORMATS"]

log = logging.getLogger(__name__)

FORMATS = {".png": "png", ".svg": "svg"}
DPI = 100
WIDTH_IN = 12.0  # figure width, inches
ROW_IN = 0.4  # height per timeline row, inches
EXTRA_IN = 1.4  # title, legend and time axis, inches
ERROR_COLOURS = {"missed": "#d62728", "false alarm": "#ff7f0e", "confusion": "#9467bd"}
UNSCORED_COLOUR = "#7f7f7f"
_SPEAKER_COLOURS = ("#1f77b4", "#2ca02c", "#17becf", "#8c564b", "#e377c2", "#bcbd22",
                    "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd")
_OTHER_COLOUR = "#aaaaaa"


def _turns(source, what):
    """RTTM turns from a path or an iterable of :class:`RTTMTurn`."""
    if source is None:
        return None
    if isinstance(source, (str, os.PathLike)):
        return read_rttm(source)
    turns = list(source)
    if not all(isinstance(t, RTTMTurn) for t in turns):
        raise ConfigError(f"The {what} must be an RTTM path or RTTMTurn records. Got "
                          f"{type(turns[0]).__name__} instead.")
    return turns


def _regions(uem):
    if uem is None or isinstance(uem, dict):
        return uem
    return read_uem(uem)


def _pick_uri(hyp, ref, uri):
    uris = list(dict.fromkeys(t.uri for t in hyp + (ref or [])))
    if uri is None:
        if not uris:
            raise ConfigError("Nothing to plot: the hypothesis (and reference) hold no turns.")
        return uris[0]
    if uri not in uris:
        raise ConfigError(f"The uri {uri!r} is in neither the hypothesis nor the reference. "
                          f"Choose one of: {', '.join(uris[:5]) or 'none'}.")
    return uri


def _error_pieces(ref, hyp, regions, mapping):
    """Elementary pieces of the evaluated region with their error counts.

    Parameters
    ----------
    ref, hyp : list of (float, float, str)
        (start, end, speaker) of one uri, seconds.
    regions : list of (float, float) or None
        Evaluated regions (``None``: the reference span, as :func:`diarizer.scoring.score`).
    mapping : dict of str to str
        System speaker to reference speaker.

    Returns
    -------
    bounds : ndarray of shape (n_pieces + 1,)
        Piece boundaries, seconds.
    counts : dict of str to ndarray of shape (n_pieces,)
        ``'missed'``, ``'false alarm'``, ``'confusion'``: speakers in error on each piece
        (zero outside the evaluated region). ``sum(diff(bounds) * counts[k])`` is the
        corresponding component of the full DER (no collar, overlap scored).
    """
    eval_set = _evaluated(ref, regions)
    ref = [t for t in ref if t[1] > t[0]]
    hyp = [t for t in hyp if t[1] > t[0]]
    bounds = np.unique(np.concatenate(
        [[t[0] for t in ref], [t[1] for t in ref], [t[0] for t in hyp], [t[1] for t in hyp],
         eval_set[0], eval_set[1]]).astype(np.float64))
    if bounds.size < 2:
        return bounds, {k: np.zeros(0, dtype=np.int64) for k in ERROR_COLOURS}
    scored = _inside(bounds[:-1], eval_set)
    ref_labels, ref_on = _activity(ref, bounds)
    hyp_labels, hyp_on = _activity(hyp, bounds)
    n_ref = ref_on.sum(axis=1)
    n_hyp = hyp_on.sum(axis=1)
    n_map = np.zeros(n_ref.shape, dtype=np.int64)
    ref_col = {lab: j for j, lab in enumerate(ref_labels)}
    for j, lab in enumerate(hyp_labels):
        if lab in mapping:
            n_map += ref_on[:, ref_col[mapping[lab]]] & hyp_on[:, j]
    counts = {"missed": np.maximum(n_ref - n_hyp, 0),
              "false alarm": np.maximum(n_hyp - n_ref, 0),
              "confusion": np.minimum(n_ref, n_hyp) - n_map}
    return bounds, {k: np.where(scored, v, 0) for k, v in counts.items()}


def _spans(starts, ends):
    """(start, width) pairs of the union of intervals, for ``broken_barh``."""
    s, e = _union(starts, ends)
    return list(zip(s.tolist(), (e - s).tolist()))


def _rows(ref, hyp, mapping):
    """Timeline rows, top to bottom: (label, colour, spans)."""
    by_spk = {}
    for start, end, spk in ref or []:
        by_spk.setdefault(("ref", spk), []).append((start, end))
    for start, end, spk in hyp:
        by_spk.setdefault(("hyp", spk), []).append((start, end))
    ref_speakers = sorted({t[2] for t in ref or []})
    colour = {s: _SPEAKER_COLOURS[i % len(_SPEAKER_COLOURS)] for i, s in enumerate(ref_speakers)}
    rows = []
    for spk in ref_speakers:
        rows.append((f"ref {spk}", colour[spk], by_spk.get(("ref", spk), [])))
    to_hyp = {r: h for h, r in mapping.items()}
    mapped = [to_hyp[s] for s in ref_speakers if s in to_hyp]
    unmapped = sorted({t[2] for t in hyp} - set(mapped))
    for spk in mapped:
        rows.append((f"hyp {spk} \u2192 {mapping[spk]}", colour[mapping[spk]],
                     by_spk.get(("hyp", spk), [])))
    for i, spk in enumerate(unmapped):
        c = _OTHER_COLOUR if ref is not None else _SPEAKER_COLOURS[i % len(_SPEAKER_COLOURS)]
        rows.append((f"hyp {spk}", c, by_spk.get(("hyp", spk), [])))
    return [(label, c, _spans([a for a, _ in sp], [b for _, b in sp]) if sp else [])
            for label, c, sp in rows]


def figure_size(n_ref_speakers, n_hyp_speakers, with_reference):
    """Figure size in inches of :func:`plot_diarization` (it is ``DPI`` dots per inch).

    Parameters
    ----------
    n_ref_speakers, n_hyp_speakers : int
        Speakers in the reference and the hypothesis.
    with_reference : bool
        Whether a reference is drawn (adds the errors row).

    Returns
    -------
    (float, float)
        Width and height in inches.
    """
    n_rows = n_hyp_speakers + (n_ref_speakers + 1 if with_reference else 0)
    return WIDTH_IN, EXTRA_IN + ROW_IN * max(n_rows, 1)


def plot_diarization(hypothesis, reference=None, uem=None, uri=None, ax=None):
    """Draw a who-spoke-when timeline of one recording.

    Parameters
    ----------
    hypothesis : str or os.PathLike or iterable of RTTMTurn
        System turns (an RTTM path or records).
    reference : str or os.PathLike or iterable of RTTMTurn, optional
        Reference turns. When given, the system speakers are renamed by the optimal mapping
        (:func:`diarizer.scoring.speaker_mapping`), errors are shaded and the title gives the DER.
    uem : str or os.PathLike or dict of str to list of (float, float), optional
        Evaluated regions (a UEM path or :func:`diarizer.io.uem.read_uem` output).
    uri : str, optional
        Recording to draw. Default: the first uri of the hypothesis (or of the reference).
    ax : matplotlib.axes.Axes, optional
        Axes to draw into. Default: a new figure of :func:`figure_size` at ``DPI`` dots per inch.

    Returns
    -------
    matplotlib.figure.Figure
        The figure holding the plot (not attached to pyplot: nothing to close).

    Raises
    ------
    InputError
        An RTTM or UEM file cannot be read.
    ConfigError
        Nothing to plot, or ``uri`` is in neither input.

    See Also
    --------
    plot_rttm : the same, written to a PNG or SVG file.

    Examples
    --------
    >>> fig = plot_diarization("meeting.rttm", reference="ref.rttm")  # doctest: +SKIP
    >>> fig.savefig("meeting.png")  # doctest: +SKIP
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    hyp_turns = _turns(hypothesis, "hypothesis")
    ref_turns = _turns(reference, "reference")
    regions_by_uri = _regions(uem)
    uri = _pick_uri(hyp_turns, ref_turns, uri)
    hyp = _by_uri(hyp_turns).get(uri, [])
    ref = None if ref_turns is None else _by_uri(ref_turns).get(uri, [])
    if ref is not None and not ref:
        log.warning("%s: no reference turns; plotting the hypothesis alone", uri)
        ref = None
    regions = None
    if regions_by_uri is not None and regions_by_uri.get(uri) is not None:
        regions = merge_regions(regions_by_uri[uri])

    mapping = {}
    title = uri
    if ref is not None:
        ref_sel = [t for t in ref_turns if t.uri == uri]
        hyp_sel = [t for t in hyp_turns if t.uri == uri]
        uem_arg = None if regions is None else {uri: regions}
        mapping = speaker_mapping(ref_sel, hyp_sel, uem=uem_arg, uri=uri)
        full = score(ref_sel, hyp_sel, uem=uem_arg).total
        forgiving = score(ref_sel, hyp_sel, uem=uem_arg, collar=0.25, skip_overlap=True).total
        title = (f"{uri}    DER {full.der:.2f}% (full)    {forgiving.der:.2f}% "
                 "(forgiving: 0.25 s collar, overlap not scored)")
    rows = _rows(ref, hyp, mapping)
    n_ref = len({t[2] for t in ref}) if ref is not None else 0

    if ax is None:
        fig = Figure(figsize=figure_size(n_ref, len(rows) - n_ref, ref is not None), dpi=DPI,
                     layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    n_lanes = len(rows) + (1 if ref is not None else 0)
    ends = [t[1] for t in hyp + (ref or [])] + ([regions[-1][1]] if regions else [])
    t_max = max(ends, default=1.0) or 1.0

    for i, (label, colour, spans) in enumerate(rows):
        y = n_lanes - 1 - i
        ax.broken_barh(spans, (y - 0.35, 0.7), facecolors=colour, edgecolor="none")
    labels = [label for label, _, _ in rows]
    handles = []
    if ref is not None:
        bounds, counts = _error_pieces(ref, hyp, regions, mapping)
        lane = 0.7 / 3
        hyp_bottom, hyp_top = 0.5, n_lanes - n_ref - 0.5
        for k, (kind, colour) in enumerate(ERROR_COLOURS.items()):
            bad = counts[kind] > 0
            spans = _spans(bounds[:-1][bad], bounds[1:][bad]) if bounds.size > 1 else []
            ax.broken_barh(spans, (0.35 - (k + 1) * lane, lane), facecolors=colour,
                           edgecolor="none")
            ax.broken_barh(spans, (hyp_bottom, hyp_top - hyp_bottom), facecolors=colour,
                           alpha=0.15, edgecolor="none")
            handles.append(Patch(facecolor=colour, label=kind))
        labels.append("errors")
        ax.axhline(n_lanes - n_ref - 0.5, color="black", linewidth=0.8)
        eval_set = _evaluated(ref, regions)
        outside = _spans(np.r_[0.0, eval_set[1]], np.r_[eval_set[0], t_max])
        ax.broken_barh(outside, (-0.5, n_lanes), facecolors=UNSCORED_COLOUR, alpha=0.2,
                       edgecolor="none")
        handles.append(Patch(facecolor=UNSCORED_COLOUR, alpha=0.4, label="not scored"))
    ax.set_yticks(range(n_lanes - 1, -1, -1), labels)
    ax.set_ylim(-0.5, n_lanes - 0.5)
    ax.set_xlim(0.0, t_max)
    ax.set_xlabel("time (s)")
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    ax.set_title(title, fontsize="medium")
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0),
                  fontsize="small", frameon=False)
    return fig


def plot_rttm(hyp_path, out_path, reference=None, uem=None, uri=None):
    """Plot an RTTM (under its reference when given) to a PNG or SVG file, atomically.

    Parameters
    ----------
    hyp_path : str or os.PathLike
        System RTTM.
    out_path : str or os.PathLike
        Image to write; the format follows the extension (``.png`` or ``.svg``). A temporary file
        in the same folder is renamed over it, so it is never half written.
    reference, uem, uri : optional
        See :func:`plot_diarization` (paths or records).

    Returns
    -------
    str
        ``out_path``.

    Raises
    ------
    InputError
        An input cannot be read, the extension is not ``.png`` or ``.svg``, or the output
        cannot be written.
    ConfigError
        Nothing to plot, or ``uri`` is in neither input.

    See Also
    --------
    plot_diarization
    """
    from .io._atomic import atomic_open

    out_path = os.fspath(out_path)
    fmt = FORMATS.get(os.path.splitext(out_path)[1].lower())
    if fmt is None:
        raise InputError(out_path, "unsupported image format; use a .png or .svg file name")
    fig = plot_diarization(hyp_path, reference=reference, uem=uem, uri=uri)
    with atomic_open(out_path, "wb") as fh:
        fig.savefig(fh, format=fmt)
    log.info("%s: plot written", out_path)
    return out_path
