"""Score the speech detectors against reference speech regions (run by hand).

    python benchmarks/sad_eval.py [/work/shared/data] [--cache /work/cache/meetings]
                                  [--sets synthetic10,realvoice]
                                  [--speed /work/cache/meetings/speed/speed_1h.wav]
                                  [--set min_silence=0.4 --set pad=0.1 ...]
                                  [--output OUT_DIR ...]

The detectors (``sad`` = ``energy``: a log-energy threshold; ``model``: GMMs bootstrapped from it;
and, when ``webrtcvad`` is installed, ``webrtc``: the WebRTC VAD; ``model_webrtc``: speech where
both ``model`` and ``webrtc`` find it; ``model_webrtc_runs``: the runs of ``model`` that ``webrtc``
confirms) on the real recordings, and on the synthetic meetings of
``benchmarks/datasets.py`` when the cache exists.

References: pyAudioAnalysis count/count2 ``.segments`` (speech lines), and the union of the
reference turns of the trustworthy pyannote AMI debug excerpts (see shared/data/README.md) and
of pyannote's sample.wav. Scoring is per 10 ms frame (no collar): missed = reference speech the
detector marks as silence, false alarm = detected speech outside the reference. Percentages are
of the reference speech duration. The detectors run with the pipeline's settings
(``sad_min_speech``, ``sad_min_silence``, ``sad_pad`` and ``webrtc_highpass`` of
``diarizer.config``) unless ``--set`` overrides them. Under each table the errors are split by
where they are (seconds)::

    miss  pause   a stretch inside reference speech cut out with detected speech on both sides
                  (a pause inside a turn: the reference's annotation convention counts it)
          edge    detected speech on one side only: a turn starts late or ends early
          whole   no detected speech next to it: a reference stretch missed entirely
    FA    bridge  a reference silence with reference speech on both sides filled in
          edge    reference speech on one side only: a turn extended
          isolated  no reference speech next to it: a sound the reference does not count

``--output DIR`` scores, instead of the detectors, the speech of diarization outputs: the union of
the turns of ``DIR/<uri>.rttm`` (e.g. ``benchmarks/accuracy.py --out`` run directories of the real
set), after the clustering, the resegmentation and ``bridge_pauses``: the speech a user receives.

The ``sad s`` column is the detector's own time (features
excluded). ``--speed WAV`` also times both detectors on that file's features (best of 3, after
a warm-up run), e.g. the 1-hour meeting of ``benchmarks/datasets.py``. BLAS runs on
``--blas-threads`` threads (default 1, the pipeline's ``blas_threads`` default): on a shared
2-core machine, 2 threads made the skinny products of the 30 s files ten times slower.
"""

import argparse
import os
import time

import numpy as np
from threadpoolctl import threadpool_limits

from diarizer.config import SCHEMA
from diarizer.features.mfcc import log_energy, mfcc
from diarizer.features.sad import energy_sad, mask_to_runs, model_sad
from diarizer.io.audio import read_audio

HOP = 0.01
AMI = {"dev00": "debug.development.rttm", "dev01": "debug.development.rttm",
       "tst00": "debug.test.rttm", "trn03": "debug.train.rttm", "trn04": "debug.train.rttm",
       "trn05": "debug.train.rttm", "trn06": "debug.train.rttm", "trn08": "debug.train.rttm",
       "trn09": "debug.train.rttm"}


def _paint(regions, n):
    ref = np.zeros(n, dtype=bool)
    for start, end in regions:
        ref[int(np.floor(start / HOP + 0.5)):int(np.floor(end / HOP + 0.5))] = True
    return ref


def _rttm_regions(path, uri):
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            f = line.split()
            if f and f[0] == "SPEAKER" and f[1] == uri:
                out.append((float(f[3]), float(f[3]) + float(f[4])))
    return out


def _segments_regions(path):
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            f = line.split()
            if len(f) >= 3 and f[2] == "speech":
                out.append((float(f[0]), float(f[1])))
    return out


def cases(root):
    for name in ("count", "count2"):
        d = os.path.join(root, "pyaudioanalysis")
        yield name, os.path.join(d, name + ".wav"), _segments_regions(
            os.path.join(d, name + ".segments"))
    d = os.path.join(root, "pyannote_ami_debug")
    for uri, rttm in AMI.items():
        yield uri, os.path.join(d, uri + ".wav"), _rttm_regions(os.path.join(d, rttm), uri)
    d = os.path.join(root, "pyannote_sample")
    yield "sample", os.path.join(d, "sample.wav"), _rttm_regions(
        os.path.join(d, "sample.rttm"), "sample")


def cache_cases(cache, sets=("synthetic10", "realvoice")):
    for set_name in sets:
        manifest = os.path.join(cache, set_name, "manifest.tsv")
        if not os.path.exists(manifest):
            continue
        with open(manifest) as fh:
            next(fh)
            for line in fh:
                uri, wav, rttm = line.split("\t")[:3]
                yield uri, wav, _rttm_regions(rttm, uri)


_BOTH = ("min_speech", "min_silence")
_DEFAULTS = {s.name: s.default for s in SCHEMA}
PIPELINE = {"min_speech": _DEFAULTS["sad_min_speech"],
            "min_silence": _DEFAULTS["sad_min_silence"], "pad": _DEFAULTS["sad_pad"],
            "webrtc_highpass": _DEFAULTS["webrtc_highpass"]}
_KINDS = (("miss", ("pause", "edge", "whole")), ("FA", ("bridge", "edge", "isolated")))


def _where(err, other):
    """Seconds of the runs of ``err`` with ``other`` True on both sides, one side, neither."""
    starts, ends, values = mask_to_runs(err)
    out = np.zeros(3)
    for a, b in zip(starts[values], ends[values]):
        sides = int(a > 0 and other[a - 1]) + int(b < err.size and other[b])
        out[2 - sides] += (b - a) * HOP
    return out


def _webrtc(y, n, kw, detector, model=None, gain=1.0):
    """``sad = detector`` (``webrtc``; given the model's mask, ``model_webrtc`` or
    ``model_webrtc_runs``) on ``y`` (16 kHz), as the pipeline runs it."""
    from diarizer.features.webrtc import WebRTCStream, rule_of, vad_frame, webrtc_speech

    rule = rule_of(detector)
    vad = WebRTCStream(16000, _DEFAULTS["webrtc_mode"], frame=vad_frame(rule), gain=gain,
                       highpass=kw["webrtc_highpass"])
    vad.feed(y)
    return webrtc_speech(vad.decisions(), n, HOP, min_speech=kw["min_speech"],
                         min_silence=kw["min_silence"], model=model, rule=rule,
                         min_share=_DEFAULTS["webrtc_min_share"])


def _detect(detector, X, e, y=None, vad_gain=1.0, **sad_kw):
    kw = {**PIPELINE, **sad_kw}
    if detector == "energy":
        return energy_sad(e, hop=HOP, **{k: v for k, v in kw.items() if k in _BOTH})
    if detector == "webrtc":
        return _webrtc(y, e.size, kw, detector, gain=vad_gain)
    found = model_sad(X, e, hop=HOP, **{k: v for k, v in kw.items() if k != "webrtc_highpass"})
    if detector in ("model_webrtc", "model_webrtc_runs"):
        return _webrtc(y, e.size, kw, detector, model=found, gain=vad_gain)
    return found


def detectors():
    """The detectors compared: energy, model, and the WebRTC ones when webrtcvad is installed."""
    try:
        import webrtcvad  # noqa: F401
    except ImportError:
        print("webrtcvad is not installed: pip install 'diarizer[webrtc]' to compare it too")
        return ("energy", "model")
    return ("energy", "model", "webrtc", "model_webrtc", "model_webrtc_runs")


def _parse_set(items):
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            out[key] = None if value == "None" else int(value)
        except ValueError:
            out[key] = float(value)
    return out


AUDIO_LEVEL = [_DEFAULTS["audio_level"]]  # --audio-level


def _read(wav, **sad_kw):
    """The 16 kHz signal of ``wav`` at the level the pipeline brings it to (audio_level), and
    the further gain of the WebRTC VAD's input (high-passed at ``webrtc_highpass`` Hz of
    ``sad_kw``, else of :data:`PIPELINE`)."""
    from diarizer.io.level import file_gains

    hp = {**PIPELINE, **sad_kw}["webrtc_highpass"]
    _, gain, vad_gain = file_gains(wav, AUDIO_LEVEL[0], highpass=hp)
    return read_audio(wav, gain=gain)[0], vad_gain


def evaluate(items, detector, **sad_kw):
    """Score ``detector`` on every ``(name, wav, regions)`` item; print the table."""
    elapsed = [0.0]

    def masks():
        for name, wav, regions in items:
            y, vad_gain = _read(wav, **sad_kw)
            e, X = log_energy(y), mfcc(y)
            t = time.perf_counter()
            sys_ = _detect(detector, X, e, y, vad_gain, **sad_kw)
            elapsed[0] += time.perf_counter() - t
            yield name, _paint(regions, e.size), sys_

    return _score(detector, masks(), lambda: f"  sad s {elapsed[0]:.2f}")


def evaluate_output(items, out_dir):
    """Score the speech of a diarization output: the union of the turns of ``out_dir/<uri>.rttm``.

    This is the speech a user of the pipeline receives: the detector's regions after the
    clustering, the resegmentation and the bridging of same-speaker pauses
    (``bridge_pauses``). Items without an RTTM in ``out_dir`` are left out (and named).
    """
    import soundfile as sf

    def masks():
        for name, wav, regions in items:
            path = os.path.join(out_dir, name + ".rttm")
            if not os.path.exists(path):
                print(f"{name}: no {path}, left out")
                continue
            n = int(round(sf.info(wav).duration / HOP))
            yield name, _paint(regions, n), _paint(_rttm_regions(path, name), n)

    return _score(f"output of {out_dir}", masks(), lambda: "")


def _score(title, masks, tail):
    """Print the per-file table of ``(name, ref, sys)`` masks, the total and where errors are."""
    rows = []
    where = np.zeros(6)
    print(f"\n{title}:\n{'file':8s} {'ref s':>7s} {'sys s':>7s} {'miss s':>7s} {'FA s':>7s}"
          f" {'miss %':>7s} {'FA %':>7s}")
    for name, ref, sys_ in masks:
        miss = np.count_nonzero(ref & ~sys_) * HOP
        fa = np.count_nonzero(~ref & sys_) * HOP
        tot = np.count_nonzero(ref) * HOP
        rows.append((tot, miss, fa))
        where += np.concatenate([_where(ref & ~sys_, sys_), _where(~ref & sys_, ref)])
        print(f"{name:8s} {tot:7.2f} {sys_.sum() * HOP:7.2f} {miss:7.2f} {fa:7.2f}"
              f" {100 * miss / tot:6.1f}% {100 * fa / tot:6.1f}%")
    if not rows:
        print("nothing to score")
        return 0.0, 0.0, 0.0
    tot, miss, fa = np.sum(rows, axis=0)
    print(f"{'TOTAL':8s} {tot:7.2f} {'':7s} {miss:7.2f} {fa:7.2f}"
          f" {100 * miss / tot:6.1f}% {100 * fa / tot:6.1f}%"
          f"  miss+FA {100 * (miss + fa) / tot:.1f}%{tail()}")
    parts = [f"{kind} {name} {sec:.2f} s ({100 * sec / tot:.1f}%)"
             for (kind, names), secs in zip(_KINDS, (where[:3], where[3:]))
             for name, sec in zip(names, secs)]
    print("where: " + ", ".join(parts[:3]) + "\n       " + ", ".join(parts[3:]))
    return tot, miss, fa


def time_detectors(wav, repeat=3, **sad_kw):
    """Best-of-``repeat`` wall time of each detector on the features of ``wav``."""
    y, vad_gain = _read(wav, **sad_kw)
    e, X = log_energy(y), mfcc(y)
    print(f"\nspeed: {os.path.basename(wav)}, {e.size} frames ({e.size * HOP / 3600:.2f} h)")
    for detector in detectors():
        _detect(detector, X, e, y, vad_gain, **sad_kw)
        best = min(_timed(detector, X, e, y, vad_gain, **sad_kw) for _ in range(repeat))
        print(f"{detector:8s} {best:7.3f} s  ({e.size * HOP / best:.0f}x real time)")


def _timed(detector, X, e, y, vad_gain, **sad_kw):
    t = time.perf_counter()
    _detect(detector, X, e, y, vad_gain, **sad_kw)
    return time.perf_counter() - t


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", default="/work/shared/data")
    parser.add_argument("--cache", default="/work/cache/meetings")
    parser.add_argument("--sets", default="synthetic10,realvoice",
                        help="comma-separated sets of the cache (e.g. add realvoice1,short)")
    parser.add_argument("--speed", help="a long WAV to time the detectors on")
    parser.add_argument("--blas-threads", type=int, default=1)
    parser.add_argument("--only-speed", action="store_true", help="skip the accuracy tables")
    parser.add_argument("--output", nargs="+", default=[], metavar="DIR",
                        help="instead of the detectors, score the speech of diarization outputs:"
                        " the union of the turns of DIR/<uri>.rttm (e.g. an accuracy.py --out"
                        " run directory of the real set)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="keyword of both detectors (min_silence, min_speech) or, for"
                        " keys only model_sad takes (pad, clip, ...), of the model detector")
    parser.add_argument("--audio-level", type=float, default=AUDIO_LEVEL[0],
                        help="setting audio_level: the speech level (dBFS) the audio is brought"
                        " to, 0 = as recorded (default: the pipeline's)")
    args = parser.parse_args(argv)
    AUDIO_LEVEL[0] = args.audio_level
    with threadpool_limits(args.blas_threads):
        _run(args)


def _run(args):
    real = [c for c in cases(args.root) if c[0] not in ("count", "count2")]
    synth = list(cache_cases(args.cache, tuple(filter(None, args.sets.split(",")))))
    kw = _parse_set(args.set)
    if args.output:
        for out_dir in args.output:
            evaluate_output(real + synth, out_dir)
        return
    for detector in detectors() if not args.only_speed else ():
        evaluate(real, detector, **kw)
        if synth:
            evaluate(synth, detector, **kw)
    if args.speed:
        time_detectors(args.speed, **kw)


if __name__ == "__main__":
    main()
