"""Enrolled speakers: MAP-adapted GMMs of named people, stored in a folder.

On-disk format of a speakers folder (version 2)::

    speakers/
      index.json               the index (below), written last
      ubm.gmm                  the background model: the engine's text dump
                               (:func:`diarizer.gmm.dump_gmms`) holding one GMM
      models/<file>.npz        one file per enrolled speaker: the engine's ``.npz`` dump of one
                               GMM (the UBM with MAP-adapted means)

``<file>`` is the name with characters outside ``[A-Za-z0-9_.-]`` replaced by ``_`` (at most 40
of them), a dash and the first 8 hex digits of the SHA-1 of the UTF-8 name, so names differing
only in case or punctuation get different files. ``index.json``::

    {
      "format": "diarizer-speakers",
      "version": 2,
      "feature_setup": {"n_features": 19, "frame_period": 0.01, "sample_rate": 16000,
                        "n_mfcc": 19, "mfcc_c0": false, "mfcc_window": 0.03, "mfcc_hop": 0.01,
                        "n_mels": 40},
      "relevance_factor": 16.0,
      "adapted": ["means"],
      "ubm": "ubm.gmm",
      "speakers": [{"name": "anna", "model": "models/anna-2bc1ecb4.npz",
                    "sources": ["/data/anna1.wav"], "speech_seconds": 41.23}]
    }

Each model is the UBM with its means MAP-adapted (Reynolds et al. 2000) to the speaker's speech
frames, with the recorded relevance factor. Enrolling a speaker writes that speaker's model file
and the index, nothing else, so enrolling the k-th speaker costs the same as the first (version 1
rewrote one dump of all models every time: quadratic in the number of speakers). Every file is
written atomically and the index last, so an interrupted enrollment leaves an index consistent with
the models it names.

Version 1 folders (``"models": "speakers.gmm"``, one text dump whose GMM ``i`` is ``speakers[i]``)
are still read; the first enrollment into one converts it to version 2 (one model file per speaker,
``speakers.gmm`` removed).

Command line (wired by :mod:`diarizer.cli`)::

    diarizer enroll NAME AUDIO... -o speakers/ [--ubm ubm.gmm] [--replace] [--relevance-factor R]
"""

import hashlib
import json
import logging
import os
import re

import numpy as np

from ..exceptions import ConfigError, InputError
from .ubm import _settings, speech_frames

__all__ = ["MIN_ENROLL_SECONDS", "SpeakerDB", "feature_setup", "load_speakers", "enroll",
           "model_file", "add_enroll_arguments", "run_enroll"]

log = logging.getLogger(__name__)

MIN_ENROLL_SECONDS = 3.0
INDEX = "index.json"
UBM_FILE = "ubm.gmm"
MODELS_DIR = "models"
V1_MODELS_FILE = "speakers.gmm"
VERSION = 2
_FORMAT = "diarizer-speakers"
_SETUP_KEYS = ("sample_rate", "n_mfcc", "mfcc_c0", "mfcc_window", "mfcc_hop", "n_mels")


class SpeakerDB:
    """The content of a speakers folder.

    The speaker models are read on first use of :attr:`models`, so enrolling one more speaker
    never reads the others' files.

    Parameters
    ----------
    path : str
        The folder.
    ubm : GMMSet
        Background model (one GMM).
    models : GMMSet, optional
        One MAP-adapted GMM per entry, in entry order (read from the entries' files when
        omitted).
    entries : list of dict, optional
        Index entries (``name``, ``model``, ``sources``, ``speech_seconds``), in model order.
    setup : dict, optional
        Feature setup the models were trained with (see the module docstring).
    relevance_factor : float, default=16.0
    backend : str, default='numpy'
        Array namespace the models are read into.

    Attributes
    ----------
    path, ubm, entries, setup, relevance_factor
        As given.
    """

    def __init__(self, path, ubm, models=None, entries=None, setup=None, relevance_factor=16.0,
                 backend="numpy"):
        self.path = path
        self.ubm = ubm
        self._models = models
        self.entries = list(entries or [])
        self.setup = dict(setup or {})
        self.relevance_factor = float(relevance_factor)
        self.backend = backend

    def __repr__(self):
        return f"SpeakerDB(path={self.path!r}, speakers={len(self.entries)})"

    @property
    def names(self):
        """Enrolled names, in model order."""
        return [e["name"] for e in self.entries]

    @property
    def models(self):
        """GMMSet or None: one MAP-adapted GMM per enrolled speaker (None when nobody is)."""
        if self._models is None and self.entries:
            self._models = _read_models(self.path, self.entries, self.ubm, self.backend)
        return self._models

    def check_features(self, n_features, frame_period, source=None):
        """Raise :class:`InputError` unless the features match the enrolled setup.

        Parameters
        ----------
        n_features : int
        frame_period : float
            Seconds per frame.
        source : str, optional
            The recording, named in the message.
        """
        want_d, want_p = self.setup.get("n_features"), self.setup.get("frame_period")
        what = f"{source} has" if source else "the features have"
        if want_d is not None and int(want_d) != int(n_features):
            raise InputError(self.path, f"speakers enrolled with {want_d} features per frame, "
                             f"but {what} {n_features}; enroll them again with the same "
                             "feature settings")
        if want_p is not None and abs(float(want_p) - float(frame_period)) > 1e-9:
            raise InputError(self.path, f"speakers enrolled at a frame period of {want_p} s, "
                             f"but {what} {frame_period} s; enroll them again with the same "
                             "feature settings")


def feature_setup(settings, n_features, frame_period):
    """Feature setup recorded in the index.

    Parameters
    ----------
    settings : Settings
    n_features : int
    frame_period : float

    Returns
    -------
    dict
    """
    setup = {"n_features": int(n_features), "frame_period": float(frame_period)}
    setup.update({k: getattr(settings, k) for k in _SETUP_KEYS})
    return setup


def model_file(name):
    """Relative path of a speaker's model file in a version 2 folder.

    Parameters
    ----------
    name : str

    Returns
    -------
    str

    Examples
    --------
    >>> model_file("Anna Lee/2")
    'models/Anna_Lee_2-459667e9.npz'
    """
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:40].lstrip(".") or "_"
    digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
    return f"{MODELS_DIR}/{safe}-{digest}.npz"


def _read_index(path):
    index_path = os.path.join(path, INDEX)
    if not os.path.isfile(index_path):
        raise InputError(path, f"not a speakers folder (no {INDEX}; create it with "
                         "'diarizer enroll')")
    try:
        with open(index_path, encoding="utf-8") as fh:
            index = json.load(fh)
    except (OSError, ValueError) as exc:
        raise InputError(index_path, f"cannot read the index ({exc})") from None
    if not isinstance(index, dict) or index.get("format") != _FORMAT:
        raise InputError(index_path, f"not a speakers index (format is not '{_FORMAT}')")
    if index.get("version") not in (1, VERSION):
        raise InputError(index_path, f"unsupported version {index.get('version')!r} (this "
                         f"diarizer reads versions 1 and {VERSION})")
    return index


def _read_models(path, entries, ubm, backend):
    from ..gmm import GMMSet, load_gmms

    v1 = [e for e in entries if "model" not in e]
    if v1:  # version 1: one dump of every model, in entry order
        models_path = os.path.join(path, V1_MODELS_FILE)
        models = load_gmms(models_path, xp=backend)
        if models.n_gmms != len(entries) or models.n_features != ubm.n_features:
            raise InputError(models_path, f"holds {models.n_gmms} GMMs of {models.n_features} "
                             f"features, but the index lists {len(entries)} speakers and the "
                             f"background model has {ubm.n_features} features")
        return models
    sets = []
    for e in entries:
        file = os.path.join(path, e["model"])
        if not os.path.isfile(file):
            raise InputError(file, f"model of enrolled speaker '{e['name']}' is missing; "
                             "enroll the speaker again with --replace")
        g = load_gmms(file, xp=backend, dtype=_dtype(ubm))
        if g.n_gmms != 1 or g.n_features != ubm.n_features:
            raise InputError(file, f"holds {g.n_gmms} GMM(s) of {g.n_features} features, but a "
                             f"speaker model is one GMM of {ubm.n_features} features like the "
                             "background model")
        sets.append(g)
    return GMMSet.concat(sets)


def _dtype(gmms):
    return "float32" if "32" in str(gmms.dtype) else "float64"


def load_speakers(path, *, backend="numpy"):
    """Read a speakers folder (version 2, or version 1 as written by earlier diarizers).

    Parameters
    ----------
    path : str
        Folder written by :func:`enroll`.
    backend : str, default='numpy'

    Returns
    -------
    SpeakerDB
        Its models are read on first use of ``models``.

    Raises
    ------
    InputError
        Missing or malformed index or background model (a missing or malformed speaker model
        is reported when the models are first used).
    """
    from ..gmm import load_gmms

    path = os.fspath(path)
    index = _read_index(path)
    index_path = os.path.join(path, INDEX)
    ubm_path = os.path.join(path, index.get("ubm", UBM_FILE))
    ubm = load_gmms(ubm_path, xp=backend)
    if ubm.n_gmms != 1:
        raise InputError(ubm_path, f"the background model file holds {ubm.n_gmms} GMMs "
                         "instead of 1")
    entries = list(index.get("speakers", []))
    if index["version"] == 1:
        entries = [{k: v for k, v in e.items() if k != "model"} for e in entries]
    setup = dict(index.get("feature_setup", {}))
    if setup.get("n_features") not in (None, ubm.n_features):
        raise InputError(index_path, f"the index says {setup['n_features']} features but the "
                         f"background model has {ubm.n_features}")
    return SpeakerDB(path=path, ubm=ubm, entries=entries, setup=setup,
                     relevance_factor=float(index.get("relevance_factor", 16.0)),
                     backend=backend)


def _write_index(db):
    from ..io._atomic import atomic_write

    index = {"format": _FORMAT, "version": VERSION, "feature_setup": db.setup,
             "relevance_factor": db.relevance_factor, "adapted": ["means"], "ubm": UBM_FILE,
             "speakers": db.entries}
    atomic_write(os.path.join(db.path, INDEX), json.dumps(index, indent=2) + "\n")


def _upgrade_v1(db):
    """Write one model file per speaker of a version 1 folder; the caller writes the index."""
    from ..gmm import dump_gmms

    models = db.models
    os.makedirs(os.path.join(db.path, MODELS_DIR), exist_ok=True)
    for i, e in enumerate(db.entries):
        e["model"] = model_file(e["name"])
        dump_gmms(os.path.join(db.path, e["model"]), models.select([i]))
    log.warning("%s: converted the speakers folder from version 1 (one %s) to version %d (one "
                "model file per speaker)", db.path, V1_MODELS_FILE, VERSION)


def _same_gmm(a, b):
    pa, pb = a.to_numpy(), b.to_numpy()
    return all(pa[k].shape == pb[k].shape and np.allclose(pa[k], pb[k], rtol=1e-6, atol=0)
               for k in ("weights", "means", "covariances"))


def enroll(name, sources, folder, *, ubm=None, settings=None, replace=False,
           relevance_factor=None, ubm_components=64):
    """Enroll (or re-enroll) one named speaker into a speakers folder.

    Parameters
    ----------
    name : str
        Speaker name (the RTTM label; no spaces).
    sources : sequence of str or sequence of ndarray of shape (n_frames, n_features)
        Recordings of the speaker alone (speech found as the diarizer does), or speech frames.
    folder : str
        Speakers folder (created if missing).
    ubm : GMMSet or str, optional
        Background model (or its dump). Default: the folder's; for a new folder without one,
        a UBM of ``ubm_components`` is trained on these recordings (a poor background: prefer
        ``diarizer ubm`` on many speakers).
    settings : Settings or dict, optional
        Feature settings (defaults otherwise); frame arrays are taken at ``mfcc_hop``.
    replace : bool, default=False
        Replace an enrolled speaker of the same name instead of raising.
    relevance_factor : float, optional
        MAP relevance factor (default: the folder's, else the setting
        ``enroll_relevance_factor``).
    ubm_components : int, default=64

    Returns
    -------
    SpeakerDB
        The updated folder content.

    Raises
    ------
    InputError
        Less than 3 s of speech, features that do not match the folder's setup, a name already
        enrolled (without ``replace``), or a UBM different from the folder's.
    ConfigError
        A bad name or relevance factor.
    """
    from ..gmm import dump_gmms, load_gmms, map_adapt
    from .ubm import train_ubm

    settings = _settings(settings)
    if not name or any(c.isspace() for c in name):
        raise ConfigError(f"The speaker name must be a non-empty word without spaces (RTTM "
                          f"cannot hold them). Got {name!r} instead.")
    sources = list(sources)
    if not sources:
        raise InputError(None, f"no recordings given to enroll '{name}'")
    folder = os.fspath(folder)
    # reads the index and the background model only, never the other speakers' models
    db = load_speakers(folder) if os.path.isfile(os.path.join(folder, INDEX)) else None
    if db is not None and name in db.names and not replace:
        raise InputError(folder, f"speaker '{name}' is already enrolled (use --replace to "
                         "enroll again)")
    parts, period, labels = [], settings.mfcc_hop, []
    for src in sources:
        if isinstance(src, (str, os.PathLike)):
            X, period = speech_frames(src, settings)
            labels.append(os.fspath(src))
        else:
            X = np.asarray(src, dtype=np.float32)
            labels.append("<array>")
        parts.append(X)
    n_frames = sum(p.shape[0] for p in parts)
    seconds = n_frames * period
    where = ", ".join(labels)
    if seconds < MIN_ENROLL_SECONDS:
        raise InputError(where, f"only {seconds:.2f} s of speech found for '{name}'; enrollment "
                         f"needs at least {MIN_ENROLL_SECONDS:g} s")
    dims = {p.shape[1] for p in parts}
    if len(dims) != 1:
        raise InputError(where, f"the recordings have different feature dimensions "
                         f"{sorted(dims)}")
    X = np.concatenate(parts, axis=0)
    if isinstance(ubm, (str, os.PathLike)):
        ubm = load_gmms(ubm, xp="numpy")
    if db is not None:
        db.check_features(X.shape[1], period, where)
        if ubm is not None and not _same_gmm(ubm, db.ubm):
            raise InputError(folder, "the given background model differs from the folder's; "
                             "enroll into a new folder to use another one")
        ubm = db.ubm
    if ubm is None:
        log.warning("%s: no background model given; training one of %d components on the "
                    "enrollment speech of '%s' only", folder, ubm_components, name)
        ubm, _ = train_ubm([X], n_components=ubm_components)
    if ubm.n_gmms != 1:
        raise InputError(folder, f"the background model holds {ubm.n_gmms} GMMs instead of 1")
    if ubm.n_features != X.shape[1]:
        raise InputError(where, f"{X.shape[1]} features per frame, but the background model "
                         f"has {ubm.n_features}")
    r = relevance_factor
    if r is None:
        r = db.relevance_factor if db is not None else float(settings.enroll_relevance_factor)
    if r < 0:
        raise ConfigError(f"The 'relevance_factor' must be a float >= 0. Got {r} instead.")
    if db is not None and db.entries and abs(r - db.relevance_factor) > 1e-12:
        raise ConfigError(f"The folder {folder} was enrolled with relevance factor "
                          f"{db.relevance_factor:g}; got {r:g}. Use the same value, or a new "
                          "folder.")
    model = map_adapt(ubm, X, [np.arange(X.shape[0])], relevance_factor=r)
    entry = {"name": name, "model": model_file(name), "sources": labels,
             "speech_seconds": round(seconds, 3)}
    if db is None:
        db = SpeakerDB(path=folder, ubm=ubm, setup=feature_setup(settings, X.shape[1], period),
                       relevance_factor=r)
        os.makedirs(folder, exist_ok=True)
        dump_gmms(os.path.join(folder, UBM_FILE), ubm)
    clash = [e["name"] for e in db.entries
             if e.get("model") == entry["model"] and e["name"] != name]
    if clash:  # two names whose file names agree (a SHA-1 prefix collision): never overwrite
        raise InputError(folder, f"'{name}' and the enrolled '{clash[0]}' map to the same model "
                         f"file {entry['model']}; choose another name")
    upgraded = any("model" not in e for e in db.entries)
    if upgraded:
        _upgrade_v1(db)
    # O(1) in the number of enrolled speakers: one model file and the index are written
    os.makedirs(os.path.join(folder, MODELS_DIR), exist_ok=True)
    dump_gmms(os.path.join(folder, entry["model"]), model)
    db.entries = [e for e in db.entries if e["name"] != name] + [entry]
    db.relevance_factor = r
    db._models = None
    _write_index(db)
    if upgraded and os.path.isfile(os.path.join(folder, V1_MODELS_FILE)):
        os.remove(os.path.join(folder, V1_MODELS_FILE))
    log.info("%s: enrolled '%s' from %.1f s of speech (%d speakers in the folder)", folder, name,
             seconds, len(db.entries))
    return db


def add_enroll_arguments(parser):
    """Add the ``enroll`` arguments to an :class:`argparse.ArgumentParser`.

    Parameters
    ----------
    parser : argparse.ArgumentParser

    Returns
    -------
    parser : argparse.ArgumentParser
        The same parser.
    """
    parser.add_argument("name", metavar="NAME", help="speaker name (the RTTM label)")
    parser.add_argument("audio", nargs="+", metavar="AUDIO",
                        help="recordings of the speaker alone (audio or HTK files)")
    parser.add_argument("-o", "--output", required=True, metavar="SPEAKERS_DIR",
                        help="speakers folder (created if missing)")
    parser.add_argument("--ubm", default=None, metavar="UBM.gmm",
                        help="background model from 'diarizer ubm' (default: the folder's)")
    parser.add_argument("--replace", action="store_true",
                        help="replace a speaker already enrolled under NAME")
    parser.add_argument("--relevance-factor", dest="relevance_factor", type=float, default=None,
                        metavar="R", help="MAP relevance factor (default: the folder's, else the"
                        " enroll_relevance_factor setting, 4)")
    parser.add_argument("-c", "--config", metavar="CFG", default=None,
                        help="configuration file whose feature settings are used")
    return parser


def run_enroll(args):
    """Enroll a speaker from parsed arguments.

    Parameters
    ----------
    args : argparse.Namespace
        Arguments added by :func:`add_enroll_arguments`.

    Returns
    -------
    status : int
        0.
    """
    from ..config import read_config

    settings = read_config(args.config, check_required=False)
    enroll(args.name, args.audio, args.output, ubm=args.ubm, settings=settings,
           replace=args.replace, relevance_factor=args.relevance_factor)
    return 0
