"""The batch runner's speaker steps: per-meeting payloads (workers) and the final linking (client).

A worker (local process or Dask) returns, in the meeting's summary row, under the private key
``_link``, the RTTM labels of the meeting and their MAP-adapted mean supervectors (see
:mod:`.linking`); the row file ``OUTDIR/.rows/<meeting>.json`` keeps them, so a resumed batch links
meetings diarized earlier too. Once every meeting is done, :func:`link_batch` links all clusters and
rewrites every RTTM with ``global_NN`` labels. It records the global labels next to the local ones,
so running it again (a resumed batch) maps RTTMs that already carry global labels.
"""

import dataclasses
import json
import logging
import os

import numpy as np

from ..exceptions import ConfigError, InputError

__all__ = ["background_model", "link_payload", "format_llr", "link_batch"]

log = logging.getLogger(__name__)

_UBM_CACHE = {}


def background_model(settings):
    """The UBM used for linking: the 'ubm' setting, else the speakers folder's.

    Parameters
    ----------
    settings : Settings

    Returns
    -------
    GMMSet

    Raises
    ------
    ConfigError
        Neither 'ubm' nor 'speakers' is set.
    """
    from ..gmm import load_gmms
    from .naming import cached_speakers

    if settings.ubm:
        key = os.path.abspath(settings.ubm)
        if key not in _UBM_CACHE:
            ubm = load_gmms(settings.ubm, xp="numpy")
            if ubm.n_gmms != 1:
                raise InputError(settings.ubm, f"holds {ubm.n_gmms} GMMs; a background model "
                                 "is one GMM")
            _UBM_CACHE.clear()
            _UBM_CACHE[key] = ubm
        return _UBM_CACHE[key]
    if settings.speakers:
        return cached_speakers(settings.speakers).ubm
    raise ConfigError("The 'link_speakers' setting needs a background model: set 'ubm' (from "
                      "'diarizer ubm') or 'speakers' (a folder from 'diarizer enroll').")


def link_payload(settings, features, result):
    """What linking needs from one diarized meeting (JSON-ready).

    Parameters
    ----------
    settings : Settings
    features : Features
    result : DiarizationResult

    Returns
    -------
    dict
        ``labels`` (distinct RTTM labels), ``vectors`` (one supervector per label, as lists) and
        ``names`` (the label if it is an enrolled speaker's name, else ``""``).
    """
    from ..segments import turns_to_labels
    from .linking import meeting_vectors

    ubm = background_model(settings)
    if ubm.n_features != features.X.shape[1]:
        raise InputError(features.source, f"{features.X.shape[1]} features per frame, but the "
                         f"background model has {ubm.n_features}")
    # one vector per RTTM label, from the speech frames of its turns (turns checked by
    # id_verify_turns may carry labels that no cluster has)
    distinct = list(dict.fromkeys(t.label for t in result.turns))
    frame = turns_to_labels(result.turns, result.labels.shape[0],
                            {d: i for i, d in enumerate(distinct)})
    frame[result.labels < 0] = -1
    used = np.unique(frame[frame >= 0])  # labels that keep a speech frame
    frame = np.where(frame >= 0, np.searchsorted(used, frame), -1)
    labels, vectors = meeting_vectors(ubm, features.X, frame, [distinct[i] for i in used],
                                      relevance_factor=settings.relevance_factor)
    # labels that are enrolled names: not a cluster's own spkNN
    anonymous = set(result.speaker_scores) if result.speaker_scores else set(labels)
    return {"labels": labels, "vectors": np.round(vectors, 5).tolist(),
            "names": [lab if lab not in anonymous else "" for lab in labels]}



def format_llr(result):
    """Summary text of a meeting's naming scores, e.g. ``"spk00=anna:1.234 spk01=-:-0.210"``.

    Parameters
    ----------
    result : DiarizationResult

    Returns
    -------
    str
        Per cluster: its ``spkNN`` name, ``=``, the enrolled name it took (``-`` if none), ``:``
        and the best LLR.
    """
    parts = []
    for (old, sc), new in zip(result.speaker_scores.items(), result.speaker_names):
        llr = "nan" if sc["llr"] is None else f"{sc['llr']:.3f}"
        parts.append(f"{old}={new if new != old else '-'}:{llr}")
    return " ".join(parts)


def link_batch(outdir, names, rows, settings):
    """Link the speakers of every finished meeting and rewrite their RTTMs with global labels.

    Parameters
    ----------
    outdir : str
        Batch output directory.
    names : list of str
        Meetings in batch order.
    rows : dict of str to dict
        Summary row of each meeting (updated in place: ``global_labels`` and ``_link.global``).
    settings : dict
        Batch settings (``link_threshold`` is used).

    Returns
    -------
    int
        Number of global speakers.
    """
    from ..config import make_settings
    from ..io._atomic import atomic_write
    from ..io.rttm import read_rttm, write_rttm
    from .linking import global_names, link_clusters

    settings = make_settings(settings, check_required=False)
    done = [n for n in names if rows[n].get("status") == "ok" and rows[n].get("_link")]
    skipped = [n for n in names if rows[n].get("status") == "ok" and not rows[n].get("_link")]
    if skipped:
        log.warning("linking: %d meeting(s) diarized without link_speakers are left out (use "
                    "--force to redo them): %s", len(skipped), ", ".join(skipped[:5]))
    vectors = [np.asarray(rows[n]["_link"]["vectors"], dtype=np.float64) for n in done]
    # rows written before names were recorded: no name constraints for them
    names = [rows[n]["_link"].get("names") or [""] * len(v) for n, v in zip(done, vectors)]
    groups = global_names(link_clusters(vectors, settings.link_threshold, names)) if done else []
    for name, glob in zip(done, groups):
        link = rows[name]["_link"]
        mapping = dict(zip(link["labels"], glob))
        mapping.update(zip(link.get("global", []), glob))  # an RTTM already linked before
        path = os.path.join(outdir, name + ".rttm")
        turns = read_rttm(path)
        unknown = sorted({t.speaker for t in turns} - set(mapping))
        if unknown:
            raise InputError(path, f"labels {unknown} are not those of the meeting's summary "
                             "row; redo the meeting with --force")
        write_rttm(path, [dataclasses.replace(t, speaker=mapping[t.speaker]) for t in turns])
        link["global"] = glob
        rows[name]["global_labels"] = " ".join(f"{a}={b}" for a, b in zip(link["labels"], glob))
        atomic_write(os.path.join(outdir, ".rows", name + ".json"),
                     json.dumps(rows[name], sort_keys=True))
    n_global = len({g for gl in groups for g in gl})
    log.warning("linking: %d speakers of %d meetings -> %d global speakers",
                sum(len(g) for g in groups), len(done), n_global)
    return n_global
