"""Batch of 20 short meetings: wall time of ``--jobs 1``, ``--jobs 2`` and ``--dask local``.

Run by hand::

    python benchmarks/bench_batch.py [--data /work/cache/batch20] [--real /work/cache/meetings/real]
                                     [--workers 2] [-- extra diarizer settings...]

The meetings are the 30 s excerpts of ``--real`` (``*.wav`` with their ``.rttm``/``.uem``) plus
synthetic 30 s meetings made with ``tests/synth.py`` to reach 20. Each mode runs
``python -m diarizer batch`` in a fresh process with ``--force`` into its own output directory
(process start and imports included, as a user sees it); then every RTTM and GMM dump of the
three runs is compared byte for byte.
"""

import argparse
import glob
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))


def make_list(data, real, n):
    from synth import make_meeting, write_ref

    os.makedirs(data, exist_ok=True)
    lines = []
    for wav in sorted(glob.glob(os.path.join(real, "*.wav")))[:n]:
        stem = os.path.splitext(wav)[0]
        extra = [p for p in (stem + ".uem", stem + ".rttm") if os.path.isfile(p)]
        lines.append(" ".join([wav, *extra]))
    for i in range(n - len(lines)):
        name = f"synth{i:02d}"
        wav = os.path.join(data, name + ".wav")
        ref = os.path.join(data, name + ".rttm")
        if not (os.path.isfile(wav) and os.path.isfile(ref)):
            write_ref(ref, name, make_meeting(wav, seconds=30.0, n_speakers=2 + i % 3,
                                              seed=100 + i))
        lines.append(f"{wav} {ref}")
    path = os.path.join(data, "batch.lst")
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return path, len(lines)


def run(lst, outdir, mode, extra):
    cmd = [sys.executable, "-m", "diarizer", "batch", lst, "-o", outdir, "--force", *mode, *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        print(proc.stderr[-2000:], file=sys.stderr)
    return wall, proc.returncode


def files(outdir):
    names = sorted(n for n in os.listdir(outdir) if n.endswith((".rttm", ".gmm")))
    return {n: open(os.path.join(outdir, n), "rb").read() for n in names}


def source_digest():
    """Digest of the package sources: a run is void if they change under it (shared checkout)."""
    import hashlib

    import diarizer

    root = os.path.dirname(diarizer.__file__)
    h = hashlib.sha256()
    for path in sorted(glob.glob(os.path.join(root, "**", "*.py"), recursive=True)):
        with open(path, "rb") as fh:
            h.update(path.encode() + fh.read())
    return h.hexdigest()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="/work/cache/batch20")
    parser.add_argument("--real", default="/work/cache/meetings/real")
    parser.add_argument("-n", type=int, default=20, help="meetings in the batch")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("extra", nargs="*", help="settings passed to every run")
    args = parser.parse_args()
    lst, n = make_list(args.data, args.real, args.n)
    modes = [("--jobs 1", ["--jobs", "1"]),
             (f"--jobs {args.workers}", ["--jobs", str(args.workers)]),
             (f"--dask local ({args.workers} workers)", ["--dask", "local"])]
    digest = source_digest()
    results = []
    for label, mode in modes:
        outdir = os.path.join(args.data, "out-" + mode[-1])
        wall, code = run(lst, outdir, mode, args.extra)
        results.append((label, outdir, wall, code))
        print(f"{label}: {wall:.1f} s (exit {code})", file=sys.stderr)
    if source_digest() != digest:
        print("WARNING: diarizer sources changed during the benchmark; rerun it", file=sys.stderr)
    base = files(results[0][1])
    print(f"batch: {n} meetings from {lst}; {os.cpu_count()} CPU cores")
    print(f"{'mode':<26} {'wall s':>8} {'speed-up':>9} {'exit':>5}  outputs vs --jobs 1")
    for label, outdir, wall, code in results:
        got = files(outdir)
        same = got == base and len(base) == 2 * n
        diff = sorted(k for k in set(got) | set(base) if got.get(k) != base.get(k))
        note = f"{len(got)} files, byte-identical" if same else f"DIFFER: {', '.join(diff[:4])}"
        print(f"{label:<26} {wall:8.1f} {results[0][2] / wall:8.2f}x {code:>5}  {note}")


if __name__ == "__main__":
    main()
