"""Command line: ``diarizer -c my.cfg`` (or ``python -m diarizer``) and its subcommands.

The main job's options are generated from :data:`diarizer.config.SCHEMA`: every setting can be
given as ``--name value`` (``-`` or ``_`` spelling), so a run needs no configuration file when the
required settings are given this way. Subcommands::

    diarizer -c my.cfg [--setting value ...]       diarize one meeting
    diarizer score -r REF -s SYS [-u UEM] [-c COLLAR] [-1] [--json]

Exit status: 0 success, 1 input error (a file cannot be read or written), 2 configuration error.
Errors are printed as one line on stderr; ``--debug`` adds the traceback.
"""

import argparse
import logging
import os
import sys
import time

from . import __version__
from .config import SCHEMA, SECTION, read_config
from .exceptions import ConfigError, DiarizerError

__all__ = ["main"]

log = logging.getLogger(__name__)

_GROUP_TITLES = {
    "original": f"settings of the original [{SECTION}] section",
    "input": "input settings",
    "features": "feature and speech-detection settings",
    "model": "model and clustering settings",
    "ours": "other settings",
}
SUBCOMMANDS = ("score",)


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one-line :class:`ConfigError` (exit status 2)."""

    def error(self, message):
        raise ConfigError(f"{self.prog}: {message}")


def _format_default(spec):
    if spec.required:
        return "required"
    if spec.default == "" or spec.default is None:
        return "default: none"
    if spec.type == "bool":
        return f"default: {'true' if spec.default else 'false'}"
    return f"default: {spec.default}"


def build_parser():
    """Build the parser of the main job (one option per setting).

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = _Parser(
        prog="diarizer",
        description="Speaker diarization (ICSI-style GMM agglomerative clustering): "
        "writes who spoke when as NIST RTTM. Settings come from the [Diarizer] section of the "
        "configuration file and/or the options below (options win). "
        f"Subcommands: {', '.join(SUBCOMMANDS)} (diarizer SUBCOMMAND --help).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("-c", "--config", metavar="CFG",
                        help="configuration file with a [Diarizer] section (default: "
                        "diarizer.cfg if it exists in the current directory)")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="-v: progress per merge step; -vv: per EM iteration")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("--version", action="version", version=f"diarizer {__version__}")
    groups = {}
    for spec in SCHEMA:
        group = groups.get(spec.group)
        if group is None:
            group = groups[spec.group] = parser.add_argument_group(_GROUP_TITLES[spec.group])
        dashed = "--" + spec.name.replace("_", "-")
        flags = list(dict.fromkeys([dashed, "--" + spec.name, dashed.lower(),
                                    "--" + spec.name.lower()]))
        metavar = "{" + ",".join(spec.choices) + "}" if spec.type == "choice" else spec.type.upper()
        group.add_argument(*flags, dest=spec.name, default=None, metavar=metavar,
                           help=f"{spec.help} ({_format_default(spec)})")
    return parser


def _configure_logging(verbose):
    level = logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("diarizer")
    root.handlers[:] = [h for h in root.handlers if isinstance(h, logging.NullHandler)]
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)


def _run_main(argv):
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    overrides = {s.name: getattr(args, s.name) for s in SCHEMA if getattr(args, s.name) is not None}
    path = args.config
    if path is None and os.path.isfile("diarizer.cfg"):
        path = "diarizer.cfg"
    settings = read_config(path, overrides)
    from .pipeline import run

    t0 = time.perf_counter()
    result = run(settings)
    log.info("%s: %d speakers, %d turns, %.2f s", result.uri, result.n_speakers,
             len(result.turns), time.perf_counter() - t0)
    return 0


def _run_score(argv):
    from . import scoring

    parser = _Parser(prog="diarizer score", allow_abbrev=False,
                     description="Diarization error rate with md-eval-22 semantics.")
    scoring.add_score_arguments(parser)
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    args = parser.parse_args(argv)
    return scoring.run_score(args)


def main(argv=None):
    """Run the command line.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 success, 1 input error, 2 configuration error.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    runners = {"score": _run_score}
    try:
        if argv and argv[0] in runners:
            return runners[argv[0]](argv[1:])
        return _run_main(argv)
    except ConfigError as exc:
        if debug:
            raise
        print(f"diarizer: error: {exc}", file=sys.stderr)
        return 2
    except DiarizerError as exc:
        if debug:
            raise
        print(f"diarizer: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("diarizer: interrupted", file=sys.stderr)
        return 130
