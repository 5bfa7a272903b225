"""The configuration schema: every ``[Diarizer]`` setting, its type, default and help.

This module is the single place where settings are declared. :func:`read_config` parses a
ConfigParser file (section ``[Diarizer]``, keys case-insensitive as in the original, so ``M_mfcc``
and ``m_mfcc`` are the same key), converts each value by its declared type and fails loudly on
anything it cannot use. The command line (``diarizer --help``) is generated from :data:`SCHEMA`.

The first block of settings are those of the original PyCASP diarizer, with its defaults; the rest
are ours.
"""

import configparser
import dataclasses
import difflib
import os
from dataclasses import dataclass

from .exceptions import ConfigError
from .framing import frame_samples

__all__ = ["Setting", "SCHEMA", "Settings", "read_config", "make_settings", "SECTION",
           "default_config_text"]

SECTION = "Diarizer"


@dataclass(frozen=True)
class Setting:
    """Declaration of one setting.

    Parameters
    ----------
    name : str
        Key in the ``[Diarizer]`` section (canonical spelling).
    type : {'int', 'float', 'bool', 'str', 'path', 'choice'}
        How the text value is converted.
    default : object
        Value when the key is absent (ignored when ``required``).
    help : str
        One line of help.
    required : bool, default=False
        Whether a run fails when the key is absent.
    min, max : float, optional
        Inclusive range for numbers.
    choices : tuple of str, optional
        Allowed values for ``choice`` settings.
    group : str
        Section of ``--help`` the setting is listed under.
    """

    name: str
    type: str
    default: object
    help: str
    required: bool = False
    min: float = None
    max: float = None
    choices: tuple = ()
    group: str = "ours"

    def describe_type(self):
        """Return the phrase used in error messages, e.g. ``"an int >= 1"``."""
        if self.type == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        art = {"int": "an int", "float": "a float", "bool": "a boolean (true/false)"}.get(
            self.type, "a string"
        )
        if self.min is not None and self.max is not None:
            return f"{art} in [{_num(self.min)}, {_num(self.max)}]"
        if self.min is not None:
            return f"{art} >= {_num(self.min)}"
        if self.max is not None:
            return f"{art} <= {_num(self.max)}"
        return art

    def convert(self, value):
        """Convert a text (or already typed) value, raising :class:`ConfigError` if invalid."""
        raw = value
        try:
            if self.type == "int":
                if isinstance(value, bool):
                    raise ValueError
                if isinstance(value, float):
                    if not value.is_integer():
                        raise ValueError
                    value = int(value)
                value = int(str(value).strip(), 10) if isinstance(value, str) else int(value)
            elif self.type == "float":
                value = float(value)
                if value != value:  # NaN
                    raise ValueError
            elif self.type == "bool":
                if isinstance(value, str):
                    key = value.strip().lower()
                    if key not in _BOOLS:
                        raise ValueError
                    value = _BOOLS[key]
                else:
                    value = bool(value)
            elif self.type == "choice":
                value = str(value).strip()
                if value not in self.choices:
                    raise ValueError
            else:
                value = "" if value is None else str(value).strip()
        except (TypeError, ValueError):
            raise ConfigError(self._message(raw)) from None
        if self.type in ("int", "float"):
            if (self.min is not None and value < self.min) or (
                self.max is not None and value > self.max
            ):
                raise ConfigError(self._message(raw))
        return value

    def _message(self, raw):
        shown = raw.strip() if isinstance(raw, str) and raw.strip() else repr(raw)
        return f"The '{self.name}' setting must be {self.describe_type()}. Got {shown} instead."


def _num(x):
    return str(int(x)) if float(x).is_integer() else str(x)


_BOOLS = {"1": True, "yes": True, "true": True, "on": True, "0": False, "no": False,
          "false": False, "off": False}

_O = "original"
SCHEMA = (
    # --- the original PyCASP [Diarizer] keys ---------------------------------------------------
    Setting("basename", "str", "", "meeting id written in RTTM field 2 (default: the input file's"
            " stem); must not contain spaces", group=_O),
    Setting("mfcc_feats", "path", "", "HTK feature file to diarize (this or 'audio' is required)",
            group=_O),
    Setting("spnsp_file", "path", "", "speech/non-speech segment file; when set only its speech"
            " frames are clustered", group=_O),
    Setting("output_cluster", "path", None, "RTTM output path", required=True, group=_O),
    Setting("gmm_output", "path", "", "GMM parameter dump path (default: output_cluster with"
            " the suffix .gmm)", group=_O),
    Setting("em_iterations", "int", 3, "maximum EM iterations per (re)training", min=1, group=_O),
    Setting("initial_clusters", "int", 16, "number of initial clusters (uniform segmentation)",
            min=1, group=_O),
    Setting("M_mfcc", "int", 5, "Gaussians per initial cluster GMM", min=1, group=_O),
    Setting("KL_ntop", "int", 0, "number of lowest-KL cluster pairs scored by BIC per merge"
            " step (0 = all pairs)", min=0, group=_O),
    Setting("num_seg_iters_init", "int", 2, "resegmentation rounds before merging starts",
            min=0, group=_O),
    Setting("num_seg_iters", "int", 3, "resegmentation rounds before each merge step", min=0,
            group=_O),
    Setting("seg_length", "int", 250, "majority-vote window in frames (250 = 2.5 s at 10 ms)",
            min=1, group=_O),
    # --- ours -----------------------------------------------------------------------------------
    Setting("audio", "path", "", "audio file to diarize (WAV/FLAC/OGG/anything soundfile reads);"
            " alternative to mfcc_feats", group="input"),
    Setting("uem", "path", "", "UEM file: only the listed regions of this meeting are"
            " diarized", group="input"),
    Setting("sample_rate", "int", 16000, "audio is resampled to this rate (Hz) before MFCCs",
            min=4000, group="features"),
    Setting("audio_level", "float", -32.0, "speech level (dBFS, 95th percentile of the 10 ms"
            " frame power) the WebRTC VAD hears the audio at, whatever the recording's level;"
            " quieter audio is also raised to within 3 dB of it (by a power of two) before the"
            " features, whose floors would flatten it (0 = everything at the recorded level)",
            min=-120.0, max=0.0, group="features"),
    Setting("n_mfcc", "int", 19, "number of MFCCs (c1..cN, plus c0 if mfcc_c0)", min=1, max=128,
            group="features"),
    Setting("mfcc_c0", "bool", False, "include c0 as an extra coefficient", group="features"),
    Setting("mfcc_window", "float", 0.03, "MFCC analysis window (s)", min=0.005, max=0.2,
            group="features"),
    Setting("mfcc_hop", "float", 0.01, "MFCC frame hop (s)", min=0.001, max=0.1,
            group="features"),
    Setting("n_mels", "int", 40, "mel bands of the MFCC filterbank", min=4, max=256,
            group="features"),
    Setting("feature_norm", "choice", "none", "normalisation of the speech frames before"
            " clustering: none, cmvn (mean and variance) or warp (feature warping to N(0, 1))",
            choices=("none", "cmvn", "warp"), group="features"),
    Setting("norm_window", "int", 0, "sliding window of feature_norm in frames (0 = the whole"
            " recording; warp needs a window, 300 if 0)", min=0, group="features"),
    Setting("deltas", "bool", False, "append delta coefficients to the features",
            group="features"),
    Setting("sad", "choice", "model_webrtc_runs", "speech detection when no spnsp_file is"
            " given: model (speech/non-speech GMMs bootstrapped from energy), model_webrtc_runs"
            " (the model's speech runs, each kept whole if the WebRTC VAD finds speech in"
            " webrtc_min_share of it, so non-speech sounds the model takes for speech are"
            " dropped), energy (log-energy threshold), webrtc (the WebRTC VAD alone),"
            " model_webrtc (speech where both model and webrtc find it) or none (cluster every"
            " frame, as the original)",
            choices=("model", "energy", "webrtc", "model_webrtc", "model_webrtc_runs", "none"),
            group="features"),
    Setting("webrtc_mode", "int", 2, "aggressiveness of the WebRTC VAD, 0 (keeps most speech)"
            " to 3 (rejects most non-speech)", min=0, max=3, group="features"),
    Setting("webrtc_highpass", "float", 250.0, "cut-off (Hz) of a high-pass filter on the"
            " WebRTC VAD's input, so a low rumble is not taken for speech (0 = none); real"
            " recordings: missed + false-alarm speech 10.7 -> 8.3 percent of the speech (200 Hz:"
            " 9.9)", min=0.0, group="features"),
    Setting("webrtc_min_share", "float", 0.3, "sad = model_webrtc_runs: fraction of a speech"
            " run of the model detector the WebRTC VAD must find speech in for the run to stay"
            " (0.2, 0.3 and 0.4 dropped the same runs of the evaluation recordings)", min=0.0,
            max=1.0, group="features"),
    Setting("sad_min_speech", "float", 0.25, "shortest speech run kept by the speech detector"
            " (s)", min=0.0, group="features"),
    Setting("sad_min_silence", "float", 0.4, "shortest silence run kept by the speech detector"
            " (s)", min=0.0, group="features"),
    Setting("sad_pad", "float", 0.0, "hangover of the model speech detector: every speech run"
            " grows by this much (s) on both sides", min=0.0, max=2.0, group="features"),
    Setting("covariance_type", "choice", "diag", "GMM covariance type",
            choices=("diag", "full"), group="model"),
    Setting("backend", "choice", "numpy", "array library for the GMM engine (cupy needs the"
            " 'gpu' extra and a GPU)", choices=("numpy", "cupy", "array_api_strict"),
            group="model"),
    Setting("dtype", "choice", "float32", "floating type of the GMM engine (float32: statistics"
            " still sum in float64; float64 gave the same DER on the evaluation sets, 1.4x slower)",
            choices=("float32", "float64"), group="model"),
    Setting("resegmentation", "choice", "viterbi", "frame labelling between merges: majority"
            " (the original's vote in seg_length windows) or viterbi (HMM with a minimum"
            " duration, speaker changes free at pauses)", choices=("majority", "viterbi"),
            group="model"),
    Setting("min_duration", "int", 250, "minimum speaker segment of the Viterbi resegmentation"
            " (frames)", min=1, group="model"),
    Setting("final_min_duration", "int", 100, "minimum speaker segment of the final Viterbi"
            " labelling of every frame, after the merges (frames; 0 = min_duration). The merges"
            " are decided with min_duration; 100 against 250 kept every merge and caught short"
            " turns and backchannels: Forgiving DER synthetic10 1.91 -> 0.17, realvoice 6.20 ->"
            " 4.28, lower on all 8 evaluation sets", min=0, group="model"),
    Setting("ccr", "float", 1.0, "cluster complexity ratio (Anguera et al. 2006): seconds of"
            " speech per initial Gaussian; the initial clusters are min(initial_clusters,"
            " speech / (M_mfcc x ccr)) so short recordings start with fewer clusters (0 = always"
            " initial_clusters)", min=0.0, group="model"),
    Setting("ccr_long", "float", 15.0, "cluster complexity ratio of long recordings: seconds"
            " of speech per initial Gaussian above which a recording starts from more than"
            " initial_clusters clusters, speech / (M_mfcc x ccr_long), at most"
            " max_initial_clusters (0 = never more than initial_clusters). 15: more than 16"
            " clusters from 20 minutes of speech, 20 from 25 minutes; 16 initial clusters lost a"
            " speaker in 3 of the 4 synthetic meetings of 45 minutes to 4 hours, 20 in none"
            " (1-hour Forgiving DER 5.93 -> 0.13, clustering 1.5x slower)", min=0.0, group="model"),
    Setting("max_initial_clusters", "int", 20, "most initial clusters ccr_long may give a long"
            " recording", min=1, group="model"),
    Setting("initial_segmentation", "choice", "kmeans", "initial clusters: uniform"
            " (initial_clusters consecutive blocks, the original) or kmeans (k-means over the"
            " mean vectors of init_seg_length-frame segments)", choices=("uniform", "kmeans"),
            group="model"),
    Setting("init_seg_length", "int", 150, "segment length in frames of the kmeans initial"
            " segmentation (0 = seg_length); recordings clustered on every k-th frame"
            " (max_cluster_frames) use at least seg_length. 150 against 250, mean Forgiving DER"
            " over seeds 0-3: 35-50 s meetings 11.10 -> 4.12, 1-minute held out 13.74 -> 9.98,"
            " real recordings 29.02 -> 27.36; on long recordings it cost a speaker once",
            min=0, group="model"),
    Setting("reseg_tol", "float", 0.005, "end a step's resegmentation rounds early once a round"
            " relabels fewer than this fraction of the frames (0 = always num_seg_iters rounds)",
            min=0.0, max=1.0, group="model"),
    Setting("merge_candidates", "int", 4, "per merge step, train every candidate merged model"
            " one EM iteration and only this many (the best after it) to the end (0 = all to"
            " the end)", min=0, group="model"),
    Setting("fair_bic", "bool", False, "compare every merged model with its two cluster models"
            " trained as many extra EM iterations on their own frames, so a large model that is"
            " not yet converged gains nothing from a merge that more EM alone would give it",
            group="model"),
    Setting("max_cluster_frames", "int", 20000, "clustering works on at most this many speech"
            " frames (every k-th frame of longer meetings); the final labelling still scores"
            " every frame (0 = cluster every frame). 20000 against 30000: no DER loss on the"
            " 5- and 10-minute sets and the 1-hour meeting (at most +0.25), clustering 1.7x"
            " faster; 15000 lost a speaker in one 10-minute meeting", min=0, group="model"),
    Setting("bridge_pauses", "float", 0.5, "a pause shorter than this many seconds between two"
            " frames of the same speaker becomes part of the turn, as in the usual annotation"
            " convention (0 = turns end wherever the speech detector ends them)", min=0.0,
            group="model"),
    Setting("ensemble_runs", "int", 0, "run the clustering this many times (seeds seed,"
            " seed+1, ...) and keep the run that agrees best with the others (medoid under the"
            " adjusted Rand index); 0 = automatic from ensemble_budget", min=0, group="model"),
    Setting("ensemble_budget", "float", 4800.0, "automatic ensemble_runs: this many seconds"
            " divided by the seconds of speech, at most 16, and 1 below 12 (at the default,"
            " meetings with more than 400 s of speech run once; short meetings, whose"
            " clustering is cheap and least stable, get the most runs). 12-16 runs against the"
            " earlier 3-8 (1200 s, 1 below 3) lowered the mean Forgiving DER over seeds 0-3 on"
            " all seven sets of short meetings, e.g. 5-minute real voices 6.08 -> 4.27, 1-minute"
            " 13.50 -> 11.04, real recordings 22.65 -> 21.67", min=0.0, group="model"),
    Setting("ensemble_spread", "float", 1.0, "odd-numbered ensemble runs start from this many"
            " times the initial clusters (at most initial_clusters), so the runs also differ in"
            " their starting point (1 = every run starts from the same count; 1.5 helped 35-50 s"
            " meetings but hurt held-out 1-minute ones)", min=1.0, group="model"),
    Setting("final_retrain", "choice", "auto", "after the merges, train the final clusters'"
            " models afresh (M_mfcc Gaussians each from a fresh initialisation, then"
            " resegmentation rounds) instead of labelling the frames with the merged models of"
            " M_a + M_b + ... Gaussians; auto = when the clustering runs an ensemble (short"
            " meetings, see ensemble_budget), where it lowered the mean Forgiving DER over seeds"
            " 0-3 on all seven sets (3-minute meetings 15.07 -> 9.93, 5-minute 4.27 -> 3.26);"
            " on single runs of long meetings it helped real voices but hurt the synthetic and"
            " 4-hour meetings", choices=("auto", "true", "false"), group="model"),
    Setting("merge_tolerance", "float", 0.0, "also merge a pair whose delta-BIC is negative but"
            " above -merge_tolerance x the loss of merging two disjoint clusters"
            " (0 = the original rule, delta-BIC > 0)", min=0.0, max=1.0, group="model"),
    Setting("clr", "bool", False, "second clustering stage after BIC: merge clusters by"
            " cross-likelihood ratio of models MAP-adapted from a background model of the"
            " meeting", group="model"),
    Setting("clr_threshold", "float", 0.0, "merge clusters while their cross-likelihood ratio"
            " exceeds this", group="model"),
    Setting("clr_components", "int", 64, "Gaussians of the meeting's background model (clr)",
            min=1, group="model"),
    Setting("num_speakers", "int", 0, "exact number of speakers when known (0 = estimate)",
            min=0, group="model"),
    Setting("min_speakers", "int", 0, "never output fewer speakers than this (0 = automatic:"
            " 2, as a meeting has at least two participants, or max_speakers if that is 1; set"
            " 1 for recordings that may hold a single speaker)", min=0, group="model"),
    Setting("max_speakers", "int", 0, "never output more speakers than this (0 = no maximum);"
            " initial_clusters is raised to it if needed", min=0, group="model"),
    Setting("gmm_init", "choice", "kmeans", "seeding of the initial cluster GMMs: original"
            " (mean + evenly spaced frames) or kmeans (k-means++ and Lloyd iterations)",
            choices=("original", "kmeans"), group="model"),
    Setting("blas_threads", "int", 1, "BLAS threads of the GMM engine on the CPU (0 = the"
            " library's default); results depend on it in the last digits, so 1 keeps outputs"
            " identical across machines, --jobs and Dask (and was fastest for these matrix"
            " shapes)", min=0, group="model"),
    Setting("seed", "int", 0, "random seed; the same input and seed give byte-identical output",
            min=0, group="model"),
    Setting("speakers", "path", "", "folder of enrolled speakers (diarizer enroll): clusters are"
            " named after the best-matching enrolled speaker", group="ours"),
    Setting("ubm", "path", "", "background model (diarizer ubm) for linking speakers across"
            " meetings (default: the one in the 'speakers' folder)", group="ours"),
    Setting("id_threshold", "float", 0.8, "average per-frame log-likelihood ratio (speaker vs"
            " background) above which a cluster takes an enrolled speaker's name when the LLR"
            " alone decides (fewer than id_min_cohort others enrolled)", group="ours"),
    Setting("id_cohort_threshold", "float", 0.5, "average per-frame log-likelihood ratio"
            " above which a cluster takes an enrolled speaker's name when its T-score is checked"
            " too (id_min_cohort or more others enrolled; with fewer, id_threshold alone"
            " decides)", group="ours"),
    Setting("id_tnorm_threshold", "float", 4.5, "minimum T-score (the best speaker's LLR against"
            " the mean and standard deviation of the other enrolled speakers' LLRs) for a name,"
            " used when at least id_min_cohort others are enrolled", group="ours"),
    Setting("id_min_cohort", "int", 10, "fewest other enrolled speakers for the T-score to be"
            " used", min=2, group="ours"),
    Setting("id_verify_turns", "bool", True, "with 'speakers': check every turn alone; a named"
            " turn whose average per-frame LLR for its name is below id_turn_threshold is renamed"
            " after the best enrolled speaker of the turn (if above id_threshold) or given its"
            " cluster's spkNN label; an anonymous turn is named if it passes the clusters' rule",
            group="ours"),
    Setting("id_turn_threshold", "float", 0.2, "lowest average per-frame LLR of a named turn"
            " for its name (id_verify_turns)", group="ours"),
    Setting("id_redecode", "bool", True, "with 'speakers': decode the speech again among the"
            " enrolled speakers named in the meeting (their enrolled models, Viterbi with"
            " final_min_duration): a turn that joins two named people is split, and frames of an"
            " anonymous turn take a present name where its LLR beats id_redecode_threshold",
            group="ours"),
    Setting("id_redecode_threshold", "float", 0.8, "lowest average per-frame LLR for frames of"
            " an anonymous turn to take the name of a speaker named in the meeting (id_redecode)",
            group="ours"),
    Setting("id_constraints", "bool", True, "with 'speakers': never merge two clusters that"
            " would be named as two different enrolled speakers", group="ours"),
    Setting("enroll_relevance_factor", "float", 4.0, "MAP relevance factor of enrolled speaker"
            " models (diarizer enroll; linking uses relevance_factor)", min=0.0, group="ours"),
    Setting("relevance_factor", "float", 16.0, "MAP relevance factor of enrolled and linked"
            " speaker models", min=0.0, group="ours"),
    Setting("link_speakers", "bool", False, "in a batch, link clusters across meetings: one"
            " person gets one global_NN label in every RTTM", group="ours"),
    Setting("link_threshold", "float", 0.5, "distance between MAP-adapted speaker models below"
            " which clusters of different meetings are linked", min=0.0, group="ours"),
)

_BY_LOWER = {s.name.lower(): s for s in SCHEMA}

Settings = dataclasses.make_dataclass(
    "Settings",
    [(s.name, object, dataclasses.field(default=None if s.required else s.default))
     for s in SCHEMA],
    frozen=True,
    namespace={
        "__doc__": "Typed values of every setting in :data:`SCHEMA` (attribute per key).",
        "replace": lambda self, **kw: make_settings({**dataclasses.asdict(self), **kw},
                                                    check_required=False),
        "as_dict": lambda self: dataclasses.asdict(self),
    },
)


def _lookup(key, source):
    spec = _BY_LOWER.get(key.strip().lower().replace("-", "_"))
    if spec is None:
        close = difflib.get_close_matches(key.lower(), list(_BY_LOWER), n=3, cutoff=0.6)
        hint = ""
        if close:
            names = " or ".join(repr(_BY_LOWER[c].name) for c in close)
            hint = f" Did you mean {names}?"
        where = f" in {source}" if source else ""
        raise ConfigError(f"Unknown setting '{key}'{where}.{hint}")
    return spec


def _check_backend(name, source):
    """Raise :class:`ConfigError` if the array library of ``backend`` does not import here."""
    from ._xp import get_xp

    try:
        get_xp(name)
    except ImportError as exc:
        where = f" ({source})" if source else ""
        raise ConfigError(f"{exc}{where}") from None


def _check_mfcc(typed, source):
    """Raise :class:`ConfigError` if the MFCC settings cannot go together."""
    where = f" in {source}" if source else ""

    def get(name):
        return typed.get(name, _BY_LOWER[name.lower()].default)

    n_mfcc, n_mels = get("n_mfcc"), get("n_mels")
    if n_mfcc >= n_mels:
        raise ConfigError(f"The 'n_mfcc' setting ({n_mfcc}) must be smaller than 'n_mels'"
                          f" ({n_mels}){where}: the DCT of {n_mels} mel bands has"
                          f" {n_mels - 1} coefficients after c0.")
    window, hop, rate = get("mfcc_window"), get("mfcc_hop"), get("sample_rate")
    try:  # the rounding rule the MFCC framing uses
        frame_samples(rate, window, hop)
    except ValueError:  # within the settings' ranges: a window shorter than the hop
        raise ConfigError(f"The 'mfcc_window' setting ({window:g} s) must not be shorter than"
                          f" 'mfcc_hop' ({hop:g} s){where}: frames would skip samples.") from None


def make_settings(values, source=None, check_required=True):
    """Build :class:`Settings` from a mapping of names (any case, ``-`` or ``_``) to values.

    Parameters
    ----------
    values : mapping of str to object
        Text or typed values; missing keys take their default.
    source : str, optional
        Where the values came from, used in error messages.
    check_required : bool, default=True
        Raise if a required setting is absent, or if neither 'mfcc_feats' nor 'audio' is set.

    Returns
    -------
    Settings

    Raises
    ------
    ConfigError
        Unknown key (with the closest known key), wrong type or range, missing required key.
    """
    typed = {}
    for key, value in values.items():
        spec = _lookup(key, source)
        if value is None and spec.required:
            continue
        typed[spec.name] = spec.convert(value)
    if typed.get("backend", "numpy") != "numpy":
        _check_backend(typed["backend"], source)
    _check_mfcc(typed, source)
    if check_required:
        where = f" in {source}" if source else ""
        for spec in SCHEMA:
            if spec.required and typed.get(spec.name) in (None, ""):
                raise ConfigError(
                    f"The '{spec.name}' setting is required{where}: {spec.help}."
                )
        if not typed.get("mfcc_feats") and not typed.get("audio"):
            raise ConfigError(
                f"One of the 'mfcc_feats' or 'audio' settings is required{where}."
            )
    return Settings(**typed)


def read_config(path, overrides=None, check_required=True):
    """Read a ``[Diarizer]`` configuration file.

    Parameters
    ----------
    path : str or os.PathLike or None
        The ``.cfg`` file. ``None`` means no file: every value comes from ``overrides``.
    overrides : mapping of str to object, optional
        Values that replace those of the file (e.g. from the command line).
    check_required : bool, default=True
        See :func:`make_settings`.

    Returns
    -------
    Settings

    Raises
    ------
    ConfigError
        Missing file, missing ``[Diarizer]`` section, unknown key, bad value, missing required key.

    Examples
    --------
    >>> s = read_config(None, {"mfcc_feats": "a.htk", "output_cluster": "a.rttm"})
    >>> s.seg_length
    250
    """
    values = {}
    source = None
    if path is not None:
        path = os.fspath(path)
        source = path
        if not os.path.isfile(path):
            raise ConfigError(f"{path}: configuration file not found")
        parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";", "#"))
        try:
            with open(path, encoding="utf-8") as fh:
                parser.read_file(fh)
        except (configparser.Error, UnicodeDecodeError) as exc:
            first = str(exc).strip().splitlines()[0]
            raise ConfigError(f"{path}: cannot parse the configuration file ({first})") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the configuration file ({exc.strerror})") \
                from None
        if not parser.has_section(SECTION):
            raise ConfigError(f"{path}: no [{SECTION}] section")
        for key, value in parser.items(SECTION):
            values[_lookup(key, f"[{SECTION}] of {path}").name] = value
        source = f"[{SECTION}] of {path}"
    for key, value in (overrides or {}).items():
        values[_lookup(key, "the command line").name] = value
    return make_settings(values, source=source, check_required=check_required)


_EXAMPLES = {"basename": "meeting-id", "mfcc_feats": "meeting.htk", "spnsp_file": "meeting.spch",
             "output_cluster": "meeting.rttm", "gmm_output": "meeting.gmm", "audio": "meeting.wav",
             "uem": "meeting.uem", "speakers": "speakers/", "ubm": "ubm.gmm"}


def default_config_text():
    """The text of ``configs/default.cfg``: every setting with its help and default.

    Returns
    -------
    str
        A ``[Diarizer]`` section; settings without a default are commented out with an example.
    """
    import textwrap

    lines = ["# The documented default: what `diarizer` uses when a setting is not given. Every",
             "# setting is listed with its help and default (as in `diarizer --help`); generated",
             "# by diarizer.config.default_config_text(). Copy it and edit what you need.",
             f"[{SECTION}]"]
    for spec in SCHEMA:
        lines += ["# " + line for line in textwrap.wrap(spec.help, 96)]
        if spec.required or spec.default in ("", None):
            lines.append(f"# {spec.name} = {_EXAMPLES.get(spec.name, '')}".rstrip())
        elif spec.type == "bool":
            lines.append(f"{spec.name} = {'true' if spec.default else 'false'}")
        else:
            lines.append(f"{spec.name} = {spec.default}")
    return "\n".join(lines) + "\n"
