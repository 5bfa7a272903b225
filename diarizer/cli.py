"""Command line: ``diarizer -c my.cfg`` (or ``python -m diarizer``) and its subcommands.

The main job's options are generated from :data:`diarizer.config.SCHEMA`: every setting can be
given as ``--name value`` (``-`` or ``_`` spelling), so a run needs no configuration file when the
required settings are given this way. Subcommands::

    diarizer -c my.cfg [--setting value ...]       diarize one meeting
    diarizer score -r REF -s SYS [-u UEM] [-c COLLAR] [-1] [--json]
    diarizer batch INPUTS -o OUTDIR [-c BASE.cfg] [--jobs N] [--dask ADDRESS|local] [--force]
                   [--plots] [--setting value ...]
    diarizer plot HYP.rttm [--ref REF.rttm] [--uem UEM] -o out.png|svg
    diarizer ubm AUDIO_OR_LIST... -o ubm.gmm [--components 64]
    diarizer enroll NAME AUDIO... -o speakers/ [--ubm ubm.gmm] [--replace]

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
SUBCOMMANDS = ("score", "batch", "plot", "enroll", "ubm")


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
    _add_setting_options(parser)
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
    overrides = _overrides(args)
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


def _subcommand(prog, description, add_arguments, run, argv):
    parser = _Parser(prog=f"diarizer {prog}", allow_abbrev=False, description=description)
    add_arguments(parser)
    if not any("--debug" in a.option_strings for a in parser._actions):
        parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    if not any("--verbose" in a.option_strings for a in parser._actions):
        parser.add_argument("-v", "--verbose", action="count", default=0)
    args = parser.parse_args(argv)
    _configure_logging(getattr(args, "verbose", 0) or 0)
    return run(args)


def _run_score(argv):
    from . import scoring

    return _subcommand("score", "Diarization error rate with md-eval-22 semantics.",
                       scoring.add_score_arguments, scoring.run_score, argv)


def _run_enroll(argv):
    from .speakers.enroll import add_enroll_arguments, run_enroll

    return _subcommand("enroll", "Enroll a named speaker: a model MAP-adapted from the "
                       "background model, stored in a speakers folder.",
                       add_enroll_arguments, run_enroll, argv)


def _run_ubm(argv):
    from .speakers.ubm import add_ubm_arguments, run_ubm

    return _subcommand("ubm", "Train a universal background model on many recordings.",
                       add_ubm_arguments, run_ubm, argv)


def _add_setting_options(parser, skip=()):
    groups = {}
    for spec in SCHEMA:
        if spec.name in skip:
            continue
        group = groups.get(spec.group)
        if group is None:
            group = groups[spec.group] = parser.add_argument_group(_GROUP_TITLES[spec.group])
        dashed = "--" + spec.name.replace("_", "-")
        flags = list(dict.fromkeys([dashed, "--" + spec.name, dashed.lower(),
                                    "--" + spec.name.lower()]))
        metavar = "{" + ",".join(spec.choices) + "}" if spec.type == "choice" else spec.type.upper()
        group.add_argument(*flags, dest=spec.name, default=None, metavar=metavar,
                           help=f"{spec.help} ({_format_default(spec)})")


def _overrides(args):
    return {s.name: getattr(args, s.name) for s in SCHEMA
            if getattr(args, s.name, None) is not None}


_PER_MEETING = ("basename", "mfcc_feats", "audio", "spnsp_file", "uem", "output_cluster",
                "gmm_output")


def _run_batch(argv):
    parser = _Parser(prog="diarizer batch", allow_abbrev=False,
                     description="Diarize many meetings: one RTTM and one GMM dump per meeting "
                     "in OUTDIR, plus summary.tsv and summary.json. Meetings already done are "
                     "skipped unless --force.")
    parser.add_argument("inputs", nargs="+", metavar="INPUTS",
                        help="directories or globs of audio/HTK files, list files (.lst, .list, "
                        ".txt, .scp: one meeting per line: input [spnsp] [uem] [ref.rttm] "
                        "[basename]), or files")
    parser.add_argument("-o", "--outdir", required=True, metavar="OUTDIR",
                        help="output directory (created if missing)")
    parser.add_argument("-c", "--config", metavar="BASE.cfg",
                        help="base configuration for every meeting")
    parser.add_argument("--jobs", type=int, default=None, metavar="N",
                        help="worker processes (default: number of CPU cores)")
    parser.add_argument("--dask", metavar="ADDRESS", default=None,
                        help="run on a dask.distributed scheduler at ADDRESS, or 'local' to "
                        "start a LocalCluster")
    parser.add_argument("--force", action="store_true", help="redo meetings already done")
    parser.add_argument("--plots", action="store_true",
                        help="also write a who-spoke-when plot per meeting (needs matplotlib)")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    _add_setting_options(parser, skip=_PER_MEETING)
    args = parser.parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        raise ConfigError(f"The '--jobs' option must be an int >= 1. Got {args.jobs} instead.")
    _configure_logging(max(args.verbose, 0))
    settings = read_config(args.config, _overrides(args), check_required=False)
    values = {k: v for k, v in settings.as_dict().items() if k not in _PER_MEETING}
    from .batch import run_batch

    rows = run_batch(args.inputs, args.outdir, values, jobs=args.jobs, dask=args.dask,
                     force=args.force, plots=args.plots)
    failed = [r for r in rows if r["status"] != "ok"]
    for r in failed:
        print(f"diarizer: error: {r['meeting']}: {r['error']}", file=sys.stderr)
    print(f"{len(rows) - len(failed)} of {len(rows)} meetings ok; summary in "
          f"{os.path.join(args.outdir, 'summary.tsv')}")
    return 1 if failed else 0


def _run_plot(argv):
    parser = _Parser(prog="diarizer plot", allow_abbrev=False,
                     description="Who-spoke-when timeline of an RTTM, under its reference when "
                     "given, with errors shaded.")
    parser.add_argument("hypothesis", metavar="HYP.rttm")
    parser.add_argument("--ref", metavar="REF.rttm", help="reference RTTM")
    parser.add_argument("--uem", metavar="UEM", help="scored regions")
    parser.add_argument("--uri", help="meeting to plot (default: the first in HYP.rttm)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.png|svg")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    args = parser.parse_args(argv)
    from .plotting import plot_rttm

    plot_rttm(args.hypothesis, args.output, reference=args.ref, uem=args.uem, uri=args.uri)
    return 0


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
    runners = {"score": _run_score, "batch": _run_batch, "plot": _run_plot,
               "enroll": _run_enroll, "ubm": _run_ubm}
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
