"""One meeting, end to end: features -> speech frames -> clustering -> speaker turns -> RTTM.

The :func:`diarize` function is the Python API; :func:`run` is what ``diarizer -c my.cfg`` does
(read inputs, diarize, write RTTM and GMM dump atomically).

Timeline bookkeeping: all frames of the input form the *full timeline*; speech detection (or the
spnsp file, or a UEM) keeps a subset, the *speech frames*, which are clustered as one contiguous
sequence (as the original did). Labels are mapped back to the full timeline, where non-speech
frames have label -1 and produce no turn::

    full timeline  n n s s s s n n s s s n
    speech frames      0 1 2 3     4 5 6
    labels             A A B B     B A A
    turns              [2,4)A [4,6)B [8,9)B [9,11)A
"""

import logging
import os
import time
from dataclasses import dataclass, field

import numpy as np

from ._xp import get_xp
from .clustering import agglomerative_clustering
from .config import Settings, make_settings
from .exceptions import ConfigError, InputError
from .segments import bridge_gaps, labels_to_turns, seconds_to_frames

__all__ = ["Features", "DiarizationResult", "load_features", "diarize", "run", "with_input"]

log = logging.getLogger(__name__)

MIN_SPEECH_SECONDS = 1.0
MAX_AUTO_RUNS = 16  # most clustering runs ensemble_budget gives a short meeting
MIN_AUTO_RUNS = 12  # fewest: below this the meeting runs once


@dataclass
class Features:
    """Frames of one recording and which of them are speech.

    Attributes
    ----------
    X : ndarray of shape (n_frames, n_features)
        Feature frames on the full timeline (float32).
    frame_period : float
        Seconds per frame.
    speech : ndarray of shape (n_frames,) of bool
        Frames to cluster.
    source : str
        Path of the input (used in error messages).
    timings : dict of str to float
        Seconds spent reading and computing features.
    """

    X: np.ndarray
    frame_period: float
    speech: np.ndarray
    source: str = "<array>"
    timings: dict = field(default_factory=dict)

    @property
    def n_frames(self):
        """Number of frames on the full timeline."""
        return int(self.X.shape[0])

    @property
    def duration(self):
        """Duration of the full timeline in seconds."""
        return self.n_frames * self.frame_period


@dataclass
class DiarizationResult:
    """Speaker turns of one meeting and the models behind them.

    Attributes
    ----------
    uri : str
        Meeting id (RTTM field 2).
    turns : list of Turn
        Speaker turns in integer frames, in time order, labels ``spk00``, ``spk01``, ... in order of
        first appearance.
    frame_period : float
        Seconds per frame.
    labels : ndarray of shape (n_frames,)
        Speaker index per frame of the full timeline (-1 for non-speech).
    gmms : GMMSet
        Final speaker models; GMM ``i`` is speaker ``spk{i:02d}``.
    timings : dict of str to float
        Seconds per stage.
    n_merges : int
        Merge steps performed.
    speaker_names : list of str
        Label of each speaker (``spkNN``, or an enrolled name when ``speakers`` is set; two
        clusters may then share a name).
    speaker_scores : dict of str to dict
        With ``speakers`` set: per cluster (by its ``spkNN`` name) the best enrolled speaker and
        its average per-frame log-likelihood ratio (``{"speaker": ..., "llr": ...}``).
    """

    uri: str
    turns: list
    frame_period: float
    labels: np.ndarray
    gmms: object
    timings: dict = field(default_factory=dict)
    n_merges: int = 0
    speaker_names: list = field(default_factory=list)
    speaker_scores: dict = field(default_factory=dict)

    @property
    def n_speakers(self):
        """Number of speakers in the output: distinct labels of the turns."""
        return len({t.label for t in self.turns})

    @property
    def speech_seconds(self):
        """Seconds labelled with a speaker."""
        return float(np.count_nonzero(self.labels >= 0) * self.frame_period)

    def rttm_turns(self):
        """The turns as :class:`~diarizer.io.rttm.RTTMTurn` records (seconds)."""
        from .io.rttm import turns_to_rttm

        return turns_to_rttm(self.uri, self.turns, self.frame_period)

    def rttm_text(self):
        """The RTTM file content."""
        from .io.rttm import format_rttm

        return format_rttm(self.rttm_turns())

    def write_rttm(self, path):
        """Write the turns as RTTM, atomically."""
        from .io.rttm import write_rttm

        write_rttm(path, self.rttm_turns())

    def write_gmm(self, path):
        """Write the speaker models (text dump, or ``.npz`` by extension), atomically."""
        from .gmm import dump_gmms

        dump_gmms(path, self.gmms)


def with_input(values, path):
    """Settings values with ``path`` as the input file.

    Parameters
    ----------
    values : mapping of str to object
        Settings by name.
    path : str or os.PathLike
        An HTK file (by suffix, :data:`~diarizer.io.htk.HTK_SUFFIXES`) or any audio file.

    Returns
    -------
    dict
        A copy with ``mfcc_feats`` (HTK) or ``audio`` (otherwise) set to ``path``, the other one
        cleared.
    """
    from .io.htk import HTK_SUFFIXES

    path = os.fspath(path)
    key = "mfcc_feats" if path.lower().endswith(HTK_SUFFIXES) else "audio"
    return {**values, "mfcc_feats": "", "audio": "", key: path}


def _uem_mask(settings, uri, n_frames, frame_period):
    from .io.uem import read_uem

    regions = read_uem(settings.uem)
    if uri not in regions:
        listed = ", ".join(sorted(regions)[:5]) or "nothing"
        raise InputError(settings.uem, f"no region for meeting '{uri}' (the file lists {listed})")
    mask = np.zeros(n_frames, dtype=bool)
    for start, end in regions[uri]:
        a = max(seconds_to_frames(start, frame_period), 0)
        b = min(seconds_to_frames(end, frame_period), n_frames)
        mask[a:b] = True
    return mask


def load_features(settings):
    """Read the input named by the settings and pick the speech frames.

    Parameters
    ----------
    settings : Settings
        Uses ``mfcc_feats`` or ``audio``, ``spnsp_file``, ``sad``, the MFCC settings and ``uem``.

    Returns
    -------
    Features

    Raises
    ------
    InputError
        The input cannot be read, or leaves too little speech.
    ConfigError
        Both or neither of 'mfcc_feats' and 'audio' are set.
    """
    with _blas_threads(settings):
        return _load_features(settings)


def _load_features(settings):
    timings = {}
    if settings.mfcc_feats and settings.audio:
        raise ConfigError("Set only one of the 'mfcc_feats' and 'audio' settings, not both.")
    t = time.perf_counter()
    energy = vad = None
    if settings.mfcc_feats:
        from .io.htk import read_htk

        source = settings.mfcc_feats
        htk = read_htk(source)
        X, frame_period = htk.data, htk.frame_period
        timings["read"] = time.perf_counter() - t
    elif settings.audio:
        from .features.stream import audio_features

        # read, resample and featurise block by block: the signal is never whole in memory
        source = settings.audio
        from .io.level import file_gains

        level, gain, vad_gain = file_gains(
            source, settings.audio_level,
            highpass=settings.webrtc_highpass if _uses_webrtc(settings) else 0.0)
        if settings.audio_level:
            log.info("%s: speech level %s dBFS, gain %g (audio_level %g)", source,
                     "n/a" if level is None else f"{level:.1f}", gain, settings.audio_level)
        if _uses_webrtc(settings):
            from .features.webrtc import WebRTCStream, rule_of, vad_frame

            vad = WebRTCStream(settings.sample_rate, settings.webrtc_mode,
                               frame=vad_frame(rule_of(settings.sad)), gain=vad_gain,
                               highpass=settings.webrtc_highpass)
        X, energy, info = audio_features(
            source, sample_rate=settings.sample_rate, n_mfcc=settings.n_mfcc, gain=gain,
            window=settings.mfcc_window, hop=settings.mfcc_hop, n_mels=settings.n_mels,
            include_c0=settings.mfcc_c0,
            energy=settings.sad != "none" and not settings.spnsp_file, timings=timings,
            on_block=None if vad is None else vad.feed)
        if info.n_samples < MIN_SPEECH_SECONDS * settings.sample_rate:  # not "found no speech"
            raise InputError(source, f"audio lasts only {info.n_samples / settings.sample_rate:.2f}"
                             f" s; at least {MIN_SPEECH_SECONDS:g} s of speech is needed")
        frame_period = settings.mfcc_hop
    else:
        raise ConfigError("One of the 'mfcc_feats' or 'audio' settings is required.")
    n = X.shape[0]
    t = time.perf_counter()
    if settings.spnsp_file:
        from .io.spnsp import read_spnsp, segments_to_mask

        segs = read_spnsp(settings.spnsp_file, frame_period=frame_period, n_frames=n)
        speech = segments_to_mask(segs, n)
        if not speech.any():
            raise InputError(settings.spnsp_file, "the file leaves no speech frames")
    elif settings.sad != "none" and energy is not None:
        from .features.sad import energy_sad, model_sad

        kw = dict(hop=frame_period, min_speech=settings.sad_min_speech,
                  min_silence=settings.sad_min_silence)
        if settings.sad in ("model", "model_webrtc", "model_webrtc_runs"):
            speech = model_sad(X, energy[:n], backend=settings.backend, seed=settings.seed,
                               pad=settings.sad_pad, **kw)
        elif settings.sad == "energy":
            speech = energy_sad(energy[:n], **kw)
        if vad is not None:  # webrtc alone, or combined with the model detector's mask
            from .features.webrtc import rule_of, webrtc_speech

            speech = webrtc_speech(vad.decisions(), n, frame_period,
                                   min_speech=settings.sad_min_speech,
                                   min_silence=settings.sad_min_silence,
                                   model=None if settings.sad == "webrtc" else speech,
                                   rule=rule_of(settings.sad),
                                   min_share=settings.webrtc_min_share)
        if speech.size < n:
            speech = np.concatenate([speech, np.zeros(n - speech.size, dtype=bool)])
        if not speech.any():
            raise InputError(source, "the speech detector found no speech")
    else:
        if settings.sad != "none" and settings.mfcc_feats:
            log.info("%s: HTK input without spnsp_file: every frame is clustered", source)
        speech = np.ones(n, dtype=bool)
    timings["sad"] = time.perf_counter() - t
    return Features(X=np.ascontiguousarray(X, dtype=np.float32), frame_period=float(frame_period),
                    speech=speech, source=str(source), timings=timings)


def _uses_webrtc(settings):
    """Whether the speech detection of ``settings`` runs the WebRTC VAD on the audio."""
    return not settings.spnsp_file and settings.sad in ("webrtc", "model_webrtc",
                                                        "model_webrtc_runs")


def _transform(X, settings):
    """Deltas and normalisation of the speech frames, as the feature settings say."""
    if settings.deltas:
        import librosa

        width = min(9, X.shape[0] - (1 - X.shape[0] % 2))
        if width >= 3:
            X = np.concatenate([X, librosa.feature.delta(X, width=width, axis=0)], axis=1)
    if settings.feature_norm != "none":
        from .features.normalize import cmvn, feature_warping

        window = settings.norm_window or None
        if settings.feature_norm == "warp":
            X = feature_warping(X, window=min(window or 300, X.shape[0]))
        else:
            X = cmvn(X, window=window)
    return np.ascontiguousarray(X, dtype=np.float32)


MEETING_MIN_SPEAKERS = 2
"""Automatic ``min_speakers``: a meeting has at least two participants. Over seeds 0-3 the
ten real recordings went from 24.08 to 22.65 % Forgiving DER and the held-out 30-second
meetings from 9.84 to 3.38 % (two-person clips no longer merge into one speaker); ten
single-speaker recordings went from 7.98 to 18.25 % (seed 0), hence ``min_speakers = 1``."""


def _speaker_bounds(settings):
    """(min clusters, max clusters (0 = none), initial clusters) from the speaker-count settings.

    Without ``num_speakers`` or ``min_speakers`` the minimum is :data:`MEETING_MIN_SPEAKERS` (at
    most ``max_speakers``): short recordings of two people otherwise merge into one cluster.
    """
    hi = settings.num_speakers or settings.max_speakers
    lo = (settings.num_speakers or settings.min_speakers
          or min(MEETING_MIN_SPEAKERS, hi or MEETING_MIN_SPEAKERS))
    if hi and lo > hi:
        raise ConfigError(f"The 'min_speakers' setting ({lo}) must not exceed 'max_speakers' "
                          f"({hi}).")
    k = settings.initial_clusters
    if hi and k < hi:
        log.info("initial_clusters raised from %d to %d to allow %d speakers", k, hi, hi)
        k = hi
    return lo, hi, k


def _speech_runs(idx):
    """Runs of consecutive frame indices, as ``[start, end)`` positions into ``idx``."""
    breaks = np.flatnonzero(np.diff(idx) > 1) + 1
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [idx.size]])
    return np.stack([starts, ends], axis=1).astype(np.int64)


def _check_basename(basename):
    if any(c.isspace() for c in basename):
        raise ConfigError(f"The 'basename' setting must not contain spaces (RTTM cannot hold "
                          f"them). Got {basename!r} instead.")


def _default_uri(settings, source):
    if settings.basename:
        return settings.basename
    stem = os.path.basename(source)
    for _ in range(2):
        stem = os.path.splitext(stem)[0] if "." in stem[1:] else stem
    return "_".join(stem.split()) or "meeting"


def diarize(features, settings=None, **overrides):
    """Diarize one meeting.

    Parameters
    ----------
    features : Features or ndarray of shape (n_frames, n_features) or str
        Precomputed features (every frame is speech; frame period ``mfcc_hop``), a
        :class:`Features`, or the path of an audio or HTK file.
    settings : Settings, optional
        Settings (defaults for anything not given). Required settings need not be set.
    **overrides
        Settings by name, e.g. ``KL_ntop=3``.

    Returns
    -------
    DiarizationResult
        Its ``turns`` are integer frames; ``write_rttm`` converts to seconds.

    Examples
    --------
    >>> result = diarize("meeting.wav", initial_clusters=8)  # doctest: +SKIP
    >>> result.write_rttm("meeting.rttm")  # doctest: +SKIP
    """
    base = settings.as_dict() if settings is not None else {}
    values = {k: v for k, v in base.items() if v is not None}
    values.update(overrides)
    if isinstance(features, (str, os.PathLike)):
        values = with_input(values, features)
    settings = make_settings(values, check_required=False)
    if isinstance(features, (str, os.PathLike)):
        features = load_features(settings)
    elif not isinstance(features, Features):
        X = np.asarray(features, dtype=np.float32)
        if X.ndim != 2:
            raise ValueError(f"features must have shape (n_frames, n_features). Got {X.shape}.")
        features = Features(X=X, frame_period=settings.mfcc_hop,
                            speech=np.ones(X.shape[0], dtype=bool))
    _check_basename(settings.basename)
    return _diarize_features(features, settings, _default_uri(settings, features.source))


def _blas_threads(settings):
    """Context limiting the BLAS threads as the 'blas_threads' setting says."""
    import contextlib

    if not settings.blas_threads:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=settings.blas_threads, user_api="blas")


def _ensemble_runs(settings, speech_seconds):
    """Clustering runs of the ensemble: ``ensemble_runs``, or ``ensemble_budget / speech``.

    The automatic count is at most ``MAX_AUTO_RUNS``, and 1 below ``MIN_AUTO_RUNS`` (the medoid
    of a few runs is itself unstable: of runs finding 5, 4, 3 and 3 speakers it keeps a 3) or
    when no initialisation draws random numbers.
    """
    if settings.ensemble_runs:
        return settings.ensemble_runs
    if settings.initial_segmentation != "kmeans" and settings.gmm_init != "kmeans":
        return 1  # nothing random: every run would be the same
    runs = int(min(MAX_AUTO_RUNS, settings.ensemble_budget // speech_seconds))
    return runs if runs >= MIN_AUTO_RUNS else 1


def _diarize_features(features, settings, uri):
    with _blas_threads(settings):
        return _diarize_features_inner(features, settings, uri)


def _diarize_features_inner(features, settings, uri):
    timings = dict(features.timings)
    speech = features.speech
    inside = None
    if settings.uem:
        inside = _uem_mask(settings, uri, features.n_frames, features.frame_period)
        speech = speech & inside
    idx = np.flatnonzero(speech)
    n_speech = idx.size
    min_frames = int(np.ceil(MIN_SPEECH_SECONDS / features.frame_period))
    if n_speech < min_frames:
        raise InputError(features.source, f"only {n_speech * features.frame_period:.2f} s of "
                         f"speech; at least {MIN_SPEECH_SECONDS:g} s is needed")
    lo, hi, k = _speaker_bounds(settings)
    need = k * settings.M_mfcc  # checked against the configured counts, before ccr lowers k
    if n_speech < need:
        raise ConfigError(f"The 'initial_clusters' ({k}) and 'M_mfcc' ({settings.M_mfcc}) "
                          f"settings need at least {need} speech frames; {features.source} has "
                          f"{n_speech}.")
    speech_s = n_speech * features.frame_period
    if settings.ccr_long > 0:
        by_long = int(speech_s / (settings.M_mfcc * settings.ccr_long))
        k_long = min(max(by_long, k), max(settings.max_initial_clusters, k))
        if k_long > k:
            log.info("%.1f s of speech: %d initial clusters (ccr_long %.1f s)", speech_s, k_long,
                     settings.ccr_long)
            k = k_long
    k_max = k
    if settings.ccr > 0:
        by_data = int(speech_s / (settings.M_mfcc * settings.ccr))
        k_ccr = min(k, max(by_data, lo, 1))
        if k_ccr < k:
            log.info("%.1f s of speech: %d initial clusters (ccr %.2f s)", speech_s, k_ccr,
                     settings.ccr)
            k = k_ccr
    runs = _ensemble_runs(settings, speech_s)
    Xs = features.X[idx]
    if not np.all(np.isfinite(Xs)):
        bad = int(np.flatnonzero(~np.isfinite(Xs).all(axis=1))[0])
        raise InputError(features.source, f"non-finite feature value in frame {int(idx[bad])}")
    Xs = _transform(Xs, settings)
    xp = get_xp(settings.backend)
    dtype = getattr(xp, settings.dtype)
    X = xp.asarray(Xs, dtype=dtype)
    t = time.perf_counter()
    cannot_link = db = llr = None
    if settings.speakers:  # issue 8: every speech frame scored once against the enrolled
        from .speakers.naming import frame_llr, identity_constraints, speaker_db

        db = speaker_db(settings, features)
        llr = frame_llr(db, features.X[idx])
        if settings.id_constraints:  # never merge two known people
            cannot_link = identity_constraints(
                db, None, id_threshold=settings.id_threshold,
                tnorm_threshold=settings.id_tnorm_threshold, min_cohort=settings.id_min_cohort,
                llr=llr, cohort_threshold=settings.id_cohort_threshold)
    result = agglomerative_clustering(
        X, initial_clusters=k, n_components=settings.M_mfcc, min_clusters=lo, max_clusters=hi,
        em_iterations=settings.em_iterations, seg_length=settings.seg_length,
        kl_ntop=settings.KL_ntop, num_seg_iters_init=settings.num_seg_iters_init,
        num_seg_iters=settings.num_seg_iters, covariance_type=settings.covariance_type,
        init=settings.gmm_init, resegmentation=settings.resegmentation,
        min_duration=settings.min_duration, final_min_duration=settings.final_min_duration,
        runs=_speech_runs(idx),
        clr={"threshold": settings.clr_threshold, "n_components": settings.clr_components}
        if settings.clr else None,
        merge_tolerance=settings.merge_tolerance,
        max_frames=settings.max_cluster_frames,
        merge_candidates=settings.merge_candidates, fair_bic=settings.fair_bic,
        initial_segmentation=settings.initial_segmentation,
        init_seg_length=settings.init_seg_length,
        reseg_tol=settings.reseg_tol, n_init=runs,
        ensemble_clusters=[k, max(k, min(k_max, round(k * settings.ensemble_spread)))],
        cannot_link=cannot_link, xp=xp, dtype=dtype, seed=settings.seed,
        retrain=settings.final_retrain == "true" or (settings.final_retrain == "auto"
                                                     and runs > 1))
    timings.update(result.timings)
    timings["clustering"] = time.perf_counter() - t
    full = np.full(features.n_frames, -1, dtype=np.int64)
    full[idx] = result.labels
    # Rename clusters spk00, spk01, ... in order of first appearance; reorder the models to match.
    order = []
    seen = set()
    for lab in full[idx][np.r_[True, np.diff(full[idx]) != 0]].tolist():
        if lab not in seen:
            seen.add(lab)
            order.append(lab)
    rank = np.full(result.gmms.n_gmms, -1, dtype=np.int64)
    rank[order] = np.arange(len(order))
    full = np.where(full >= 0, rank[np.maximum(full, 0)], -1)
    names = [f"spk{i:02d}" for i in range(len(order))]
    turn_labels, scores = full, {}
    if settings.speakers:  # name clusters after enrolled speakers (issue 8)
        from .speakers.naming import apply_speaker_names

        names, turn_labels, scores = apply_speaker_names(settings, features, full, names,
                                                         llr=llr)
    gap = seconds_to_frames(settings.bridge_pauses, features.frame_period)
    turns = labels_to_turns(bridge_gaps(turn_labels, gap, inside), names)
    if settings.speakers and settings.id_verify_turns:
        from .speakers.naming import verify_turns

        fallback = {}
        for old, new in zip(scores, names):
            fallback.setdefault(new, old)
        turns, changed = verify_turns(turns, idx, llr, db.names,
                                      turn_threshold=settings.id_turn_threshold,
                                      id_threshold=settings.id_threshold, fallback=fallback,
                                      tnorm_threshold=settings.id_tnorm_threshold,
                                      min_cohort=settings.id_min_cohort,
                                      cohort_threshold=settings.id_cohort_threshold)
        if changed:
            log.info("%d turns relabelled by their own LLR (id_turn_threshold %g)", changed,
                     settings.id_turn_threshold)
    if settings.speakers and settings.id_redecode:
        from .speakers.redecode import redecode_named

        turns, changed = redecode_named(
            turns, idx, llr, db.names, threshold=settings.id_redecode_threshold,
            min_duration=settings.final_min_duration or settings.min_duration)
        if changed:
            log.info("%d speech frames relabelled by decoding among the named speakers "
                     "(id_redecode)", changed)
    return DiarizationResult(uri=uri, turns=turns, frame_period=features.frame_period,
                             labels=full, gmms=result.gmms.select(order), timings=timings,
                             n_merges=result.n_merges, speaker_names=names,
                             speaker_scores=scores)


def run(settings):
    """Diarize the meeting named by the settings and write its RTTM and GMM dump.

    Parameters
    ----------
    settings : Settings
        Complete settings (``output_cluster`` and an input are required).

    Returns
    -------
    DiarizationResult
    """
    from .io._atomic import check_writable

    if not isinstance(settings, Settings):
        settings = make_settings(settings)
    rttm_path = settings.output_cluster
    gmm_path = settings.gmm_output or os.path.splitext(rttm_path)[0] + ".gmm"
    _check_basename(settings.basename)
    check_writable(rttm_path)
    check_writable(gmm_path)
    features = load_features(settings)
    uri = _default_uri(settings, features.source)
    result = _diarize_features(features, settings, uri)
    t = time.perf_counter()
    result.write_rttm(rttm_path)
    try:
        result.write_gmm(gmm_path)
    except BaseException:  # never leave an RTTM without its dump (issue 7)
        try:
            os.unlink(rttm_path)
        except OSError:
            pass
        raise
    result.timings["output"] = time.perf_counter() - t
    return result
