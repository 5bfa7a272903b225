"""Many meetings: a local process pool by default, a Dask cluster when one machine is not enough.

One function, :func:`diarize_meeting`, diarizes one meeting and returns its RTTM text, its GMM dump
text and a summary row; it never raises (a failure becomes a row with status ``failed`` and a
one-line error). The runners only schedule it; the client process writes every output file,
atomically, so an interrupted batch never leaves a half-written RTTM:

    OUTDIR/<basename>.rttm      speaker turns
    OUTDIR/<basename>.gmm       speaker models
    OUTDIR/.rows/<basename>.json  the meeting's summary row (written last: marks it complete)
    OUTDIR/summary.tsv, OUTDIR/summary.json

A re-run skips meetings whose three files exist and whose row says ``ok`` (unless ``force``).
A worker process that dies (killed, ``os._exit``) fails only the meeting it was running.
"""

import glob
import json
import logging
import math
import os
import sys
import tempfile
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from .config import make_settings
from .exceptions import ConfigError, DiarizerError, InputError
from .io.htk import HTK_SUFFIXES

__all__ = ["Meeting", "find_meetings", "diarize_meeting", "run_batch", "COLUMNS"]

log = logging.getLogger(__name__)

COLUMNS = ("meeting", "audio_s", "speech_s", "speakers", "wall_s", "rtf", "status", "error")
DER_COLUMNS = ("der_forgiving", "der_full")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".au",
                  ".sph", ".w64", ".caf")
_LIST_KEYS = ("spnsp", "uem", "ref", "basename")
PER_MEETING = ("audio", "mfcc_feats", "basename", "spnsp_file", "uem", "output_cluster",
               "gmm_output")  # settings a batch sets per meeting (base values are ignored)
TEST_EXIT_ENV = "DIARIZER_TEST_EXIT_ON"  # test hook: a worker diarizing this basename dies


@dataclass(frozen=True)
class Meeting:
    """One meeting of a batch.

    Attributes
    ----------
    name : str
        Basename: RTTM uri and output file stem.
    input : str
        Audio or HTK feature file.
    spnsp, uem, reference : str or None
        Optional speech/non-speech file, UEM and reference RTTM.
    """

    name: str
    input: str
    spnsp: str = None
    uem: str = None
    reference: str = None


def _stem(path):
    name = os.path.basename(path)
    for suffix in AUDIO_SUFFIXES + HTK_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return os.path.splitext(name)[0]


def _parse_list(path):
    meetings = []
    folder = os.path.dirname(os.path.abspath(path))
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            extra = {}
            for field in fields[1:]:
                if "=" in field and field.split("=", 1)[0] in _LIST_KEYS:
                    key, value = field.split("=", 1)
                elif field.lower().endswith(".rttm"):
                    key, value = "ref", field
                elif field.lower().endswith(".uem"):
                    key, value = "uem", field
                elif "/" in field or "." in field:
                    key, value = "spnsp", field
                else:
                    key, value = "basename", field
                if key in extra:
                    raise InputError(path, f"line {lineno}: two {key} fields")
                extra[key] = value if key == "basename" else os.path.join(folder, value)
            src = os.path.join(folder, fields[0])
            meetings.append(Meeting(name=extra.get("basename") or _stem(src), input=src,
                                    spnsp=extra.get("spnsp"), uem=extra.get("uem"),
                                    reference=extra.get("ref")))
    return meetings


def find_meetings(inputs):
    """Expand directories, globs, list files and single files into meetings.

    Parameters
    ----------
    inputs : sequence of str
        Each is a directory (its audio and HTK files, sorted), a glob pattern, a list file
        (``.lst``, ``.list``, ``.txt`` or ``.scp``: one meeting per line, ``INPUT [spnsp]
        [uem] [ref.rttm] [basename]``; fields are recognised by suffix — ``.rttm`` reference,
        ``.uem`` UEM, other paths spnsp, a bare word the basename — or given as ``spnsp=``,
        ``uem=``, ``ref=``, ``basename=``; paths relative to the list file; ``#`` comments), or
        one audio/HTK file (any name). Directories and globs keep only names ending in an
        audio (``.wav``, ``.flac``, ...) or HTK (``.htk``, ``.mfc``, ...) suffix. The basename is
        the file name without that suffix.

    Returns
    -------
    list of Meeting

    Raises
    ------
    InputError
        An input matches nothing, a list file line repeats a field, or two meetings share a
        basename.

    Examples
    --------
    A list file ``batch.lst``::

        # input            reference             basename
        audio/ES2002a.wav  ref/ES2002a.rttm
        audio/ES2002b.wav  uem=ES2002b.uem  ref=ref/ES2002b.rttm  es2002b
        feats/IS1000a.htk  IS1000a.spch

    >>> [m.name for m in find_meetings(["batch.lst"])]  # doctest: +SKIP
    ['ES2002a', 'es2002b', 'IS1000a']
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    meetings = []
    for item in map(os.fspath, inputs):
        if os.path.isdir(item):
            names = sorted(os.listdir(item))
            found = [os.path.join(item, n) for n in names
                     if n.lower().endswith(AUDIO_SUFFIXES + HTK_SUFFIXES)]
            if not found:
                raise InputError(item, "no audio or HTK files in this directory")
            meetings += [Meeting(_stem(p), p) for p in found]
        elif os.path.isfile(item) and item.lower().endswith((".lst", ".list", ".txt", ".scp")):
            meetings += _parse_list(item)
        elif os.path.isfile(item):
            meetings.append(Meeting(_stem(item), item))
        else:
            found = [p for p in sorted(glob.glob(item)) if os.path.isfile(p)
                     and p.lower().endswith(AUDIO_SUFFIXES + HTK_SUFFIXES)]
            if not found:
                raise InputError(item, "no such file or directory, and no audio or HTK file "
                                 "matches this pattern")
            meetings += [Meeting(_stem(p), p) for p in found]
    seen = {}
    for m in meetings:
        if m.name in seen:
            raise InputError(m.input, f"basename '{m.name}' is also used by {seen[m.name]}")
        seen[m.name] = m.input
    return meetings


def _one_line(exc):
    text = str(exc).strip().splitlines()
    text = text[0] if text else ""
    if isinstance(exc, DiarizerError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _rate(der):
    return round(der, 2) if math.isfinite(der) else None


def _gmm_text(gmms):
    from .gmm import dump_gmms

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.gmm")
        dump_gmms(path, gmms)
        with open(path, encoding="utf-8") as fh:
            return fh.read()


def _der(meeting, rttm_turns):
    from .io.rttm import read_rttm
    from .io.uem import read_uem
    from .scoring import score

    ref = [t for t in read_rttm(meeting.reference) if t.uri == meeting.name]
    if not ref:
        raise InputError(meeting.reference, f"no turns for meeting '{meeting.name}'")
    uem = read_uem(meeting.uem) if meeting.uem else None  # as `diarizer score` without -u
    forgiving = score(ref, rttm_turns, uem=uem, collar=0.25, skip_overlap=True)
    full = score(ref, rttm_turns, uem=uem, collar=0.0, skip_overlap=False)
    return forgiving.total, full.total


def diarize_meeting(meeting, settings):
    """Diarize one meeting; never raises.

    Parameters
    ----------
    meeting : Meeting
    settings : dict of str to object
        Settings for every meeting (input, spnsp, uem, basename and outputs are set per meeting).

    Returns
    -------
    dict
        ``row`` (summary row: :data:`COLUMNS`, plus DER components when a reference is given),
        ``rttm`` and ``gmm`` (file contents, ``None`` on failure).
    """
    from .pipeline import diarize, with_input

    t0 = time.perf_counter()
    row = {"meeting": meeting.name, "audio_s": None, "speech_s": None, "speakers": None,
           "wall_s": None, "rtf": None, "status": "failed", "error": ""}
    out = {"row": row, "rttm": None, "gmm": None}
    try:
        if os.environ.get(TEST_EXIT_ENV) == meeting.name:
            os._exit(3)
        values = {k: v for k, v in settings.items() if v is not None}
        for key in PER_MEETING:
            values.pop(key, None)
        values = with_input(values, meeting.input)
        values["basename"] = meeting.name
        if meeting.spnsp:
            values["spnsp_file"] = meeting.spnsp
        if meeting.uem:
            values["uem"] = meeting.uem
        meeting_settings = make_settings(values, check_required=False)
        if meeting_settings.link_speakers:  # linking needs the frames (issue 8)
            from .pipeline import load_features
            from .speakers.batch_link import link_payload

            features = load_features(meeting_settings)
            result = diarize(features, meeting_settings)
            row["_link"] = link_payload(meeting_settings, features, result)
        else:
            result = diarize(meeting.input, meeting_settings)
        if result.speaker_scores:
            from .speakers.batch_link import format_llr

            row["speaker_llr"] = format_llr(result)
        rttm_turns = result.rttm_turns()
        out["rttm"] = result.rttm_text()
        out["gmm"] = _gmm_text(result.gmms)
        audio_s = result.labels.size * result.frame_period
        row.update(audio_s=round(audio_s, 3), speech_s=round(result.speech_seconds, 3),
                   speakers=result.n_speakers)
        if meeting.reference:
            forgiving, full = _der(meeting, rttm_turns)
            row.update(der_forgiving=_rate(forgiving.der), der_full=_rate(full.der),
                       _scored_forgiving=forgiving.scored,
                       _errors_forgiving=forgiving.missed + forgiving.false_alarm
                       + forgiving.confusion,
                       _scored_full=full.scored,
                       _errors_full=full.missed + full.false_alarm + full.confusion)
        row["status"] = "ok"
    except Exception as exc:  # one bad meeting never stops the batch
        log.debug("%s failed", meeting.name, exc_info=True)
        row["error"] = _one_line(exc)
        out["rttm"] = out["gmm"] = None
    wall = time.perf_counter() - t0
    row["wall_s"] = round(wall, 3)
    if row["audio_s"]:
        row["rtf"] = round(wall / row["audio_s"], 5)
    return out


# --- runners ---------------------------------------------------------------------------------

def _limit_threads():
    """Worker initializer: one BLAS thread and one engine thread per worker process."""
    os.environ["DIARIZER_ENGINE_THREADS"] = "1"
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with the package
        return
    threadpool_limits(1)


def _dead_row(meeting, problem):
    return {"row": {"meeting": meeting.name, "audio_s": None, "speech_s": None,
                    "speakers": None, "wall_s": None, "rtf": None, "status": "failed",
                    "error": problem}, "rttm": None, "gmm": None}


def _tracked(meeting, settings, marker_dir):
    """Run :func:`diarize_meeting` leaving a marker file while it runs (local pool only)."""
    marker = os.path.join(marker_dir, meeting.name)
    with open(marker, "w") as fh:
        fh.write(str(os.getpid()))
    try:
        return diarize_meeting(meeting, settings)
    finally:
        os.unlink(marker)


def _run_pool(batch, settings, workers, marker_dir, on_result):
    """Run ``batch`` on one process pool; return the meetings lost when a worker died."""
    lost = []
    with ProcessPoolExecutor(max_workers=workers, initializer=_limit_threads) as pool:
        futures = {pool.submit(_tracked, m, settings, marker_dir): m for m in batch}
        not_done = set(futures)
        while not_done:
            done, not_done = wait(not_done, return_when=FIRST_COMPLETED)
            for fut in sorted(done, key=lambda f: batch.index(futures[f])):
                m = futures[fut]
                try:
                    result = fut.result()
                except BrokenProcessPool:
                    lost.append(m)
                    continue
                except Exception as exc:  # e.g. the marker file could not be written
                    result = _dead_row(m, _one_line(exc))
                on_result(m, result)
    return lost


def _run_local(meetings, settings, jobs, on_result):
    """Run meetings on a process pool, surviving workers that die.

    When a dying worker breaks the pool, the meetings that were running then (found by their
    marker files) are rerun alone, and the others go on in a new pool; a meeting whose lone
    worker dies too is reported as failed.
    """
    if jobs == 1:
        for m in meetings:
            on_result(m, diarize_meeting(m, settings))
        return
    # Import the pipeline here once: workers forked from this process start with it loaded
    # (a fresh interpreter spends seconds importing scipy.signal and librosa).
    from . import pipeline  # noqa: F401
    from .features import mfcc  # noqa: F401

    pending = list(meetings)
    suspects = []
    with tempfile.TemporaryDirectory(prefix="diarizer-running-") as marker_dir:
        while pending or suspects:
            isolate = not pending
            batch = [suspects.pop(0)] if isolate else pending
            if not isolate:
                pending = []
            lost = _run_pool(batch, settings, 1 if isolate else min(jobs, len(batch)),
                             marker_dir, on_result)
            for m in lost:
                marker = os.path.join(marker_dir, m.name)
                running = os.path.exists(marker)
                if running:
                    os.unlink(marker)
                if isolate:
                    on_result(m, _dead_row(m, "worker process died while diarizing this "
                                              "meeting"))
                elif running:
                    suspects.append(m)
                else:
                    pending.append(m)
            if lost and not isolate:
                log.warning("a worker process died; the %d meeting(s) it may have been running "
                            "will be rerun alone", len(suspects))


def _dask_client(address, n_workers=2):
    """Connect to a dask.distributed scheduler (``'local'`` starts a LocalCluster).

    Returns
    -------
    client, cluster
        ``cluster`` is the LocalCluster started here, or None.

    Raises
    ------
    InputError
        dask.distributed is not installed, or the scheduler does not answer.
    """
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:
        raise InputError(None, "--dask needs dask.distributed: pip install 'diarizer[dask]'") \
            from exc
    if address == "local":
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        return Client(cluster), cluster
    try:
        return Client(address), None
    except (OSError, TimeoutError) as exc:  # refused, unknown host, no answer in time
        raise InputError(None, f"cannot connect to the Dask scheduler at {address!r}:"
                               f" {_one_line(exc)}") from None


def _close_dask(client, cluster):
    client.close()
    if cluster is not None:
        cluster.close()


def _run_dask(meetings, settings, client, on_result):
    """Submit every meeting to the cluster of ``client``; results arrive as they complete."""
    from dask.distributed import as_completed

    futures = {client.submit(diarize_meeting, m, settings, key=f"diarize-{i}-{m.name}",
                             pure=False): m for i, m in enumerate(meetings)}
    for fut in as_completed(futures):
        m = futures[fut]
        try:
            on_result(m, fut.result())
        except Exception as exc:  # KilledWorker and friends
            on_result(m, _dead_row(m, f"dask worker failed: {_one_line(exc)}"))


# --- outputs ---------------------------------------------------------------------------------

def _row_path(outdir, name):
    return os.path.join(outdir, ".rows", name + ".json")


def _complete(outdir, name):
    row_path = _row_path(outdir, name)
    if not all(os.path.isfile(p) for p in (row_path, os.path.join(outdir, name + ".rttm"),
                                           os.path.join(outdir, name + ".gmm"))):
        return None
    try:
        with open(row_path, encoding="utf-8") as fh:
            row = json.load(fh)
    except (OSError, ValueError):
        return None
    return row if row.get("status") == "ok" else None


def _plot(outdir, meeting):
    from .plotting import plot_rttm

    try:
        plot_rttm(os.path.join(outdir, meeting.name + ".rttm"),
                  os.path.join(outdir, meeting.name + ".png"),
                  reference=meeting.reference, uem=meeting.uem, uri=meeting.name)
    except Exception as exc:  # a plot never fails the meeting
        log.warning("%s: plot failed: %s", meeting.name, _one_line(exc))


def _write_outputs(outdir, result, plots, meeting):
    from .io._atomic import atomic_write

    row = result["row"]
    name = meeting.name
    if row["status"] == "ok":
        atomic_write(os.path.join(outdir, name + ".rttm"), result["rttm"])
        atomic_write(os.path.join(outdir, name + ".gmm"), result["gmm"])
        if plots:
            _plot(outdir, meeting)
    else:
        for suffix in (".rttm", ".gmm", ".png"):  # never leave stale outputs of an earlier run
            try:
                os.unlink(os.path.join(outdir, name + suffix))
            except FileNotFoundError:
                pass
    atomic_write(_row_path(outdir, name), json.dumps(row, sort_keys=True))


def _total(rows, cols):
    """The TOTAL row: sums over the meetings that succeeded, time-weighted RTF and DER."""
    n_ok = sum(r["status"] == "ok" for r in rows)
    total = dict.fromkeys(cols)
    total.update(meeting="TOTAL", status=f"{n_ok} ok, {len(rows) - n_ok} failed", error="")
    ok = [r for r in rows if r["status"] == "ok"]
    for key in ("audio_s", "speech_s", "wall_s"):
        total[key] = round(sum(r[key] or 0.0 for r in ok), 3)
    total["rtf"] = round(total["wall_s"] / total["audio_s"], 5) if total["audio_s"] else None
    for kind in ("forgiving", "full"):
        scored = sum(r.get(f"_scored_{kind}", 0.0) for r in ok)
        if f"der_{kind}" in cols and scored > 0:
            total[f"der_{kind}"] = round(100.0 * sum(r.get(f"_errors_{kind}", 0.0)
                                                     for r in ok) / scored, 2)
    return total


def _write_summary(outdir, rows):
    from .io._atomic import atomic_write

    has_der = any("der_forgiving" in r for r in rows)
    cols = COLUMNS + (DER_COLUMNS if has_der else ())
    cols += tuple(c for c in ("speaker_llr", "global_labels") if any(c in r for r in rows))
    total = _total(rows, cols)
    lines = ["\t".join(cols)]
    for r in rows + [total]:
        lines.append("\t".join("" if r.get(c) is None else str(r[c]).replace("\t", " ")
                               for c in cols))
    atomic_write(os.path.join(outdir, "summary.tsv"), "\n".join(lines) + "\n")
    public = [{c: r.get(c) for c in cols} for r in rows]
    atomic_write(os.path.join(outdir, "summary.json"),
                 json.dumps({"meetings": public, "total": total}, indent=2) + "\n")
    return total


class _Progress:
    def __init__(self, total, callback):
        self.total, self.done, self.callback = total, 0, callback
        self.bar = None
        self.last = time.monotonic()
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="meeting", desc="diarizing")

    def update(self, row):
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
        elif time.monotonic() - self.last > 10 or self.done == self.total:
            self.last = time.monotonic()
            log.warning("batch: %d/%d meetings done (%s: %s)", self.done, self.total,
                        row["meeting"], row["status"])
        if self.callback is not None:
            self.callback(self.done, self.total, row)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def run_batch(inputs, outdir, settings=None, *, jobs=None, dask=None, force=False, plots=False,
              progress=None, dask_workers=2):
    """Diarize many meetings and write their outputs and a summary.

    Parameters
    ----------
    inputs : sequence of str or sequence of Meeting
        Directories, globs, list files or files (see :func:`find_meetings`), or meetings.
    outdir : str
        Output directory (created if missing).
    settings : dict of str to object, optional
        Settings for every meeting (e.g. from a base config plus overrides).
    jobs : int, optional
        Worker processes (default: number of CPU cores). Each worker uses one BLAS thread.
    dask : str, optional
        Address of a dask.distributed scheduler, or ``'local'`` for a LocalCluster.
    force : bool, default=False
        Diarize again meetings whose outputs already exist.
    plots : bool, default=False
        Also write ``<basename>.png`` (needs the 'plot' extra).
    progress : callable, optional
        Called as ``progress(done, total, row)`` after each meeting.
    dask_workers : int, default=2
        Workers of the LocalCluster started by ``dask='local'``.

    Returns
    -------
    rows : list of dict
        One summary row per meeting, in input order: :data:`COLUMNS`, plus ``der_forgiving``
        and ``der_full`` (percent) for meetings with a reference. A meeting that failed has
        status ``'failed'`` and its one-line error; no exception escapes for one meeting.

    Raises
    ------
    InputError
        An input matches nothing (see :func:`find_meetings`), the output directory cannot be
        created, or ``dask`` is given and dask.distributed is not installed.
    ConfigError
        A setting is invalid, or ``jobs`` is not an int >= 1.

    Examples
    --------
    >>> rows = run_batch(["meetings/"], "out", {"initial_clusters": 8},
    ...                  jobs=2)  # doctest: +SKIP
    >>> [(r["meeting"], r["status"]) for r in rows]  # doctest: +SKIP
    [('ES2002a', 'ok'), ('ES2002b', 'ok')]
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    meetings = [m if isinstance(m, Meeting) else None for m in inputs]
    if any(m is None for m in meetings):
        meetings = find_meetings(inputs)
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ConfigError(f"The 'jobs' option must be an int >= 1. Got {jobs!r} instead.")
    settings = dict(settings or {})
    make_settings(settings, check_required=False)  # validate once, before any work
    # the scheduler is reached before anything is written: when it does not answer, the batch
    # stops with no output folder, as for a configuration error
    client, cluster = _dask_client(dask, dask_workers) if dask else (None, None)
    try:
        os.makedirs(os.path.join(outdir, ".rows"), exist_ok=True)
    except OSError as exc:
        if client is not None:
            _close_dask(client, cluster)
        raise InputError(outdir, f"cannot create the output directory ({exc.strerror})") \
            from None
    rows = {}
    todo = []
    for m in meetings:
        row = None if force else _complete(outdir, m.name)
        if row is not None:
            rows[m.name] = row
            if plots and not os.path.isfile(os.path.join(outdir, m.name + ".png")):
                _plot(outdir, m)
        else:
            todo.append(m)
    if len(todo) < len(meetings):
        log.warning("batch: %d of %d meetings already done, skipped (use --force to redo)",
                    len(meetings) - len(todo), len(meetings))
    bar = _Progress(len(todo), progress)

    def on_result(meeting, result):
        _write_outputs(outdir, result, plots, meeting)
        rows[meeting.name] = result["row"]
        bar.update(result["row"])

    try:
        if client is not None:
            try:
                _run_dask(todo, settings, client, on_result)
            finally:
                _close_dask(client, cluster)
        else:
            _run_local(todo, settings, jobs or os.cpu_count() or 1, on_result)
        if make_settings(settings, check_required=False).link_speakers:  # issue 8
            from .speakers.batch_link import link_batch

            link_batch(outdir, [m.name for m in meetings if m.name in rows], rows, settings)
    finally:
        bar.close()
        ordered = [rows[m.name] for m in meetings if m.name in rows]
        _write_summary(outdir, ordered)
    return [{k: v for k, v in r.items() if not k.startswith("_")} for r in ordered]
