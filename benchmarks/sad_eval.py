"""Score the speech detectors against reference speech regions (run by hand).

    python benchmarks/sad_eval.py [/work/shared/data] [--cache /work/cache/meetings]

Both detectors (energy threshold, and the GMM model detector bootstrapped from it) on the real
recordings, and on the synthetic meetings of ``benchmarks/datasets.py`` when the cache exists.

References: pyAudioAnalysis count/count2 ``.segments`` (speech lines), and the union of the
reference turns of the trustworthy pyannote AMI debug excerpts (see shared/data/README.md) and
of pyannote's sample.wav. Scoring is per 10 ms frame (no collar): missed = reference speech the
detector marks as silence, false alarm = detected speech outside the reference. Percentages are
of the reference speech duration.
"""

import os
import sys

import numpy as np

from diarizer.features.mfcc import log_energy, mfcc
from diarizer.features.sad import energy_sad, model_sad
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


def evaluate(items, detector, **sad_kw):
    rows = []
    print(f"\n{detector}:\n{'file':8s} {'ref s':>7s} {'sys s':>7s} {'miss s':>7s} {'FA s':>7s}"
          f" {'miss %':>7s} {'FA %':>7s}")
    for name, wav, regions in items:
        y, _ = read_audio(wav)
        e = log_energy(y)
        if detector == "energy":
            sys_ = energy_sad(e, hop=HOP, **sad_kw)
        else:
            sys_ = model_sad(mfcc(y), e, hop=HOP, **sad_kw)
        ref = _paint(regions, e.size)
        miss = np.count_nonzero(ref & ~sys_) * HOP
        fa = np.count_nonzero(~ref & sys_) * HOP
        tot = np.count_nonzero(ref) * HOP
        rows.append((tot, miss, fa))
        print(f"{name:8s} {tot:7.2f} {sys_.sum() * HOP:7.2f} {miss:7.2f} {fa:7.2f}"
              f" {100 * miss / tot:6.1f}% {100 * fa / tot:6.1f}%")
    tot, miss, fa = np.sum(rows, axis=0)
    print(f"{'TOTAL':8s} {tot:7.2f} {'':7s} {miss:7.2f} {fa:7.2f}"
          f" {100 * miss / tot:6.1f}% {100 * fa / tot:6.1f}%"
          f"  miss+FA {100 * (miss + fa) / tot:.1f}%")
    return tot, miss, fa


def main(root="/work/shared/data", cache="/work/cache/meetings"):
    real = [c for c in cases(root) if c[0] not in ("count", "count2")]
    synth = list(cache_cases(cache))
    for detector in ("energy", "model"):
        evaluate(real, detector)
        if synth:
            evaluate(synth, detector)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(*args[:1])
