"""Universal background model: one large diagonal GMM trained on the speech of many recordings.

Memory stays bounded: each file contributes at most ``max_frames // n_files`` speech frames
(evenly spaced, so a long file is subsampled rather than truncated), and EM runs on those frames
with the engine's chunked E-step. Seeding is k-means (k-means++ then Lloyd), then ``max_iter``
EM iterations.

Command line (wired by :mod:`diarizer.cli`)::

    diarizer ubm AUDIO_OR_LIST... -o ubm.gmm [--components 64] [--max-frames 300000]
"""

import logging
import os
import time

import numpy as np

from ..config import make_settings
from ..exceptions import ConfigError, InputError

__all__ = ["speech_frames", "expand_sources", "train_ubm", "add_ubm_arguments", "run_ubm"]

log = logging.getLogger(__name__)

_LIST_SUFFIXES = (".lst", ".list", ".txt", ".scp")
_MEDIA_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".au",
                   ".sph", ".w64", ".caf", ".htk", ".mfc", ".fea", ".feat", ".plp", ".fbank")


def _settings(settings):
    if settings is None:
        return make_settings({}, check_required=False)
    if isinstance(settings, dict):
        return make_settings(settings, check_required=False)
    return settings


def speech_frames(path, settings=None):
    """Feature frames of the speech in one recording, as the diarizer computes them.

    Parameters
    ----------
    path : str
        Audio or HTK feature file.
    settings : Settings or dict, optional
        Feature and speech-detection settings (defaults otherwise).

    Returns
    -------
    X : ndarray of shape (n_speech_frames, n_features), float32
    frame_period : float
        Seconds per frame.
    """
    from ..pipeline import load_features, with_input

    settings = _settings(settings)
    values = with_input({**settings.as_dict(), "spnsp_file": "", "uem": ""}, path)
    feats = load_features(make_settings({k: v for k, v in values.items() if v is not None},
                                        check_required=False))
    return feats.X[feats.speech], feats.frame_period


def expand_sources(items):
    """Audio/HTK paths from files, directories and list files (one path per line).

    Parameters
    ----------
    items : sequence of str

    Returns
    -------
    list of str

    Raises
    ------
    InputError
        An item does not exist or a directory holds no audio.
    """
    out = []
    for item in map(os.fspath, items):
        if os.path.isdir(item):
            found = [os.path.join(item, n) for n in sorted(os.listdir(item))
                     if n.lower().endswith(_MEDIA_SUFFIXES)]
            if not found:
                raise InputError(item, "no audio or HTK files in this directory")
            out += found
        elif item.lower().endswith(_LIST_SUFFIXES) and os.path.isfile(item):
            folder = os.path.dirname(os.path.abspath(item))
            with open(item, encoding="utf-8") as fh:
                for line in fh:
                    fields = line.split("#", 1)[0].split()
                    if fields:
                        out.append(os.path.join(folder, fields[0]))
        elif os.path.isfile(item):
            out.append(item)
        else:
            raise InputError(item, "no such file or directory")
    return out


def train_ubm(sources, *, n_components=64, settings=None, max_frames=300_000, max_iter=10,
              seed=0, backend="numpy"):
    """Train a diagonal universal background model on the speech of many recordings.

    Parameters
    ----------
    sources : sequence of str or sequence of ndarray of shape (n_frames, n_features)
        Audio/HTK files (speech frames found as the diarizer does) or frame arrays.
    n_components : int, default=64
        Gaussians of the UBM.
    settings : Settings or dict, optional
        Feature settings used for files.
    max_frames : int, default=300000
        Frames kept in memory in total; each source contributes at most
        ``max_frames // len(sources)`` evenly spaced frames.
    max_iter : int, default=10
        EM iterations after k-means seeding.
    seed : int, default=0
        Seed of the k-means++ seeding.
    backend : {'numpy', 'cupy', 'array_api_strict'}, default='numpy'

    Returns
    -------
    ubm : GMMSet
        One GMM of ``n_components`` diagonal components.
    frame_period : float or None
        Seconds per frame of the file sources (None when only arrays were given).

    Raises
    ------
    InputError
        A source cannot be read, or there are fewer frames than ``10 * n_components``.
    """
    from ..gmm import GMMSet

    if n_components < 1:
        raise ConfigError(f"The 'n_components' must be an int >= 1. Got {n_components} instead.")
    sources = list(sources)
    if not sources:
        raise InputError(None, "no recordings to train the background model on")
    per_file = max(max_frames // len(sources), 1)
    parts, frame_period = [], None
    for src in sources:
        if isinstance(src, (str, os.PathLike)):
            X, frame_period = speech_frames(src, settings)
        else:
            X = np.asarray(src, dtype=np.float32)
        if X.shape[0] > per_file:
            X = X[np.linspace(0, X.shape[0] - 1, per_file).round().astype(np.int64)]
        parts.append(X)
    dims = {p.shape[1] for p in parts}
    if len(dims) != 1:
        raise InputError(None, f"the recordings have different feature dimensions {sorted(dims)}")
    X = np.concatenate(parts, axis=0)
    if X.shape[0] < 10 * n_components:
        raise InputError(None, f"{X.shape[0]} speech frames are too few for a background model "
                               f"of {n_components} components (at least {10 * n_components})")
    t = time.perf_counter()
    ubm = GMMSet.initialize(X, [np.arange(X.shape[0])], n_components, init="kmeans",
                            xp=backend, random_state=seed)
    result = ubm.fit(X, [np.arange(X.shape[0])], max_iter=max_iter, tol=0.0)
    log.info("UBM: %d components on %d frames of %d recordings, %d EM iterations, "
             "log-likelihood per frame %.3f, %.1f s", n_components, X.shape[0], len(sources),
             int(result.n_iter[0]), result.log_likelihood[0] / X.shape[0],
             time.perf_counter() - t)
    return ubm, frame_period


def add_ubm_arguments(parser):
    """Add the ``ubm`` arguments to an :class:`argparse.ArgumentParser`.

    Parameters
    ----------
    parser : argparse.ArgumentParser

    Returns
    -------
    parser : argparse.ArgumentParser
        The same parser.
    """
    parser.add_argument("sources", nargs="+", metavar="AUDIO_OR_LIST",
                        help="audio/HTK files, directories of them, or list files (.lst, .txt:"
                        " one path per line)")
    parser.add_argument("-o", "--output", required=True, metavar="UBM.gmm",
                        help="output model (the engine's text dump, or .npz by extension)")
    parser.add_argument("--components", type=int, default=64, metavar="M",
                        help="Gaussians of the background model (default: 64)")
    parser.add_argument("--max-frames", type=int, default=300_000, metavar="N",
                        help="speech frames kept in memory in total (default: 300000)")
    parser.add_argument("--iterations", type=int, default=10, metavar="N",
                        help="EM iterations (default: 10)")
    parser.add_argument("-c", "--config", metavar="CFG", default=None,
                        help="configuration file whose feature settings are used")
    parser.add_argument("--seed", type=int, default=0, help="seed of the k-means seeding")
    return parser


def run_ubm(args):
    """Train a background model from parsed arguments and write it.

    Parameters
    ----------
    args : argparse.Namespace
        Arguments added by :func:`add_ubm_arguments`.

    Returns
    -------
    status : int
        0.
    """
    from ..config import read_config
    from ..gmm import dump_gmms
    from ..io._atomic import check_writable

    for name in ("components", "max_frames", "iterations"):
        if getattr(args, name) < 1:
            raise ConfigError(f"The '--{name.replace('_', '-')}' option must be an int >= 1. "
                              f"Got {getattr(args, name)} instead.")
    check_writable(args.output)
    settings = read_config(args.config, check_required=False)
    ubm, _ = train_ubm(expand_sources(args.sources), n_components=args.components,
                       settings=settings, max_frames=args.max_frames, max_iter=args.iterations,
                       seed=args.seed)
    dump_gmms(args.output, ubm)
    return 0
