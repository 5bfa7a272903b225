"""End-to-end speed and memory of the diarizer (issue 10; run by hand, prints a table).

    python benchmarks/bench_pipeline.py [--meetings speed_10m,speed_1h,speed_4h]
        [--configs default,fast,accurate] [--repeat 1] [--no-features] [--no-peer]
        [--backend numpy|cupy|array_api_strict] [--out DIR] [--compare-src OLD_TREE]

Each row is one ``diarizer`` process (``diarizer.cli.main`` in a child Python, exactly what
``python -m diarizer`` runs, plus a hook that writes the pipeline's per-stage ``timings`` to a
JSON file). Columns:

* stage seconds from ``DiarizationResult.timings``: ``read`` (audio read + resample or HTK read),
  ``mfcc`` (MFCC and frame energy), ``sad`` (speech detection), ``init`` (initial training),
  ``reseg`` (every resegmentation round, including the final labelling), ``merge`` (candidate
  training and delta-BIC of every merge step), ``clr``, ``output`` (RTTM + GMM dump);
* ``wall``: the whole child process (interpreter start, imports, everything), measured by the
  parent; ``cpu s``: the child's user + system CPU seconds (``os.wait4`` rusage, minimum over
  the repeats; far less sensitive than the wall to the load of a shared machine, but it adds up
  the threads); ``xRT`` = meeting duration / wall; ``clust xRT`` = duration / the clustering stage;
* ``RSS``: peak resident memory of the child (``os.wait4`` rusage, ``ru_maxrss``);
* merge steps, speakers found, and the Forgiving DER (collar 0.25 s, overlap skipped, the
  meeting's UEM) computed with :func:`diarizer.scoring.score`.

Configs: ``default`` (no config file), ``fast`` / ``accurate`` (``configs/*.cfg``: the original's
two presets of its own keys, our settings at their defaults).
``+feat`` rows cluster precomputed features: the MFCC of the same audio written as HTK plus an
spnsp file of the speech detector's frames (``--mfcc-feats ... --spnsp-file ...``), so the
same frames are clustered; their ``clust xRT`` is the clustering-alone figure.
The ``resemblyzer`` row is the neural peer (``/work/cache/peer-venv``) on the same file in the
same run; its wall excludes its model load (as the peer prints it).

With ``--repeat R`` every row runs R times; the table shows the minimum wall and the spread
(max/min) so the noise of the shared machine is visible; stage times are those of the fastest
run. ``--compare-src OLD`` (a folder holding
an older ``diarizer`` package, e.g. from ``git archive``) adds a ``(before)`` row per config, run
alternately with the current code so both see the same machine load.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEED = Path("/work/cache/meetings/speed")
PEER_VENV = Path("/work/cache/peer-venv")
PEER_TOOL = Path("/work/shared/tools/peers/resemblyzer_peer.py")
CONFIGS = {
    "default": [],
    "fast": ["-c", str(ROOT / "configs" / "fast.cfg")],
    "accurate": ["-c", str(ROOT / "configs" / "accurate.cfg")],
}
STAGES = [("read", "read"), ("mfcc", "mfcc"), ("sad", "sad"), ("init", "initial_training"),
          ("reseg", "resegmentation"), ("merge", "merging"), ("final", "final_training"),
          ("clr", "clr"), ("output", "output")]
_PEER_LINE = re.compile(r"^(\S+): wall ([\d.]+) s for ([\d.]+) s audio, RTF ([\d.]+), "
                        r"speakers (\d+)")

_CHILD = r"""
import json, sys
import diarizer.pipeline as p
out = sys.argv[1]
_run = p.run
def run(settings):
    r = _run(settings)
    with open(out, "w") as f:
        json.dump({"timings": r.timings, "n_merges": r.n_merges, "n_speakers": r.n_speakers}, f)
    return r
p.run = run
from diarizer.cli import main
raise SystemExit(main(sys.argv[2:]))
"""


def read_manifest(folder):
    lines = (folder / "manifest.tsv").read_text().splitlines()
    head = lines[0].split("\t")
    return {row[0]: dict(zip(head, row)) for row in (ln.split("\t") for ln in lines[1:] if ln)}


def run_child(argv, src=None):
    """Run one diarizer process; return (wall s, rusage, info dict).

    ``src``: a folder holding another copy of the ``diarizer`` package to run instead (put first
    on ``PYTHONPATH``; the child runs in a neutral working directory so the checkout's package is
    not picked up from ``''``).
    """
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        info_path = f.name
    cmd = [sys.executable, "-c", _CHILD, info_path, *argv]
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = os.pathsep.join(p for p in [str(src), env.get("PYTHONPATH")] if p)
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            cwd=tempfile.gettempdir())
    out, err = proc.communicate()
    wall = time.perf_counter() - t
    rusage = proc.rusage if hasattr(proc, "rusage") else None
    if proc.returncode != 0:
        raise RuntimeError(f"diarizer {' '.join(argv)}: exit {proc.returncode}: "
                           f"{err.decode()[-800:]}")
    info = json.loads(Path(info_path).read_text())
    os.unlink(info_path)
    return wall, rusage, info


def _popen_wait4():
    """Make Popen record the child's rusage (peak RSS) via os.wait4."""
    orig = subprocess.Popen._try_wait

    def _try_wait(self, wait_flags):
        pid, sts, ru = os.wait4(self.pid, wait_flags)
        if pid == self.pid:
            self.rusage = ru
        return pid, sts

    subprocess.Popen._try_wait = _try_wait
    return orig


def forgiving_der(ref_path, uem_path, hyp_path):
    from diarizer.io.rttm import read_rttm
    from diarizer.io.uem import read_uem
    from diarizer.scoring import score

    report = score(read_rttm(ref_path), read_rttm(hyp_path), uem=read_uem(uem_path),
                   collar=0.25, skip_overlap=True)
    return report.total.der


def precompute_features(row, workdir, config_args):
    """HTK features + spnsp file of the speech frames the config's SAD picks, for ``+feat``."""
    from diarizer.cli import _overrides, build_parser
    from diarizer.config import read_config
    from diarizer.io.htk import write_htk
    from diarizer.io.spnsp import mask_to_segments, write_spnsp
    from diarizer.pipeline import load_features

    args = build_parser().parse_args([*config_args, "--audio", row["wav"],
                                      "--output-cluster", str(workdir / "x.rttm")])
    cfg = next((config_args[i + 1] for i, a in enumerate(config_args) if a == "-c"), None)
    settings = read_config(cfg, _overrides(args))
    feats = load_features(settings)
    htk = workdir / f"{row['meeting']}.htk"
    spnsp = workdir / f"{row['meeting']}.spch"
    write_htk(htk, feats.X, samp_period=int(round(feats.frame_period * 1e7)))
    write_spnsp(spnsp, mask_to_segments(feats.speech), frame_period=feats.frame_period)
    return htk, spnsp


def run_peer(row, workdir):
    py = PEER_VENV / "bin" / "python"
    if not py.exists() or not PEER_TOOL.exists():
        return None
    out = workdir / "peer"
    t = time.perf_counter()
    proc = subprocess.run([str(py), str(PEER_TOOL), row["wav"], "-o", str(out)],
                          capture_output=True, text=True)
    total = time.perf_counter() - t
    if proc.returncode != 0:
        return {"error": proc.stderr[-300:]}
    wall = None
    for line in proc.stdout.splitlines():
        m = _PEER_LINE.match(line)
        if m:
            wall = float(m.group(2))
    hyp = out / f"{Path(row['wav']).stem}.rttm"
    lines = [ln.split() for ln in hyp.read_text().splitlines() if ln.strip()]
    hyp.write_text("".join(" ".join([f[0], row["meeting"], *f[2:]]) + "\n" for f in lines))
    n_spk = len({f[7] for f in lines})
    return {"wall": wall, "process": total, "n_speakers": n_spk,
            "der": forgiving_der(row["rttm"], row["uem"], hyp)}


def fmt_row(name, cfg, dur, walls, rss, info, der, cpus=()):
    t = info["timings"]
    wall = min(walls)
    spread = max(walls) / wall if len(walls) > 1 else 1.0
    clust = t.get("clustering", 0.0)
    stages = " | ".join(f"{t.get(k, 0.0):.2f}" for _, k in STAGES)
    cpu = f"{min(cpus):.2f}" if cpus else ""
    return (f"| {name} | {cfg} | {stages} | {clust:.2f} | {wall:.2f} (x{spread:.2f}) | {cpu} | "
            f"{dur / wall:.0f} | {dur / clust if clust else float('nan'):.0f} | "
            f"{rss / 2**20:.0f} | {info['n_merges']} | {info['n_speakers']} | {der:.2f} |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--meetings", default="speed_10m,speed_1h,speed_4h")
    ap.add_argument("--configs", default="default,fast,accurate")
    ap.add_argument("--feature-configs", default="default",
                    help="configs also run from precomputed features ('' = none)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--backend", default="numpy",
                    help="engine namespace: numpy, cupy (GPU) or array_api_strict (CPU stand-in)")
    ap.add_argument("--dtype", default=None, help="engine dtype override (float32/float64)")
    ap.add_argument("--manifest", type=Path, default=SPEED)
    ap.add_argument("--out", type=Path, default=None, help="keep outputs here (default: temp)")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    ap.add_argument("--compare-src", type=Path, default=None,
                    help="folder that holds an older copy of the diarizer package (OLD/diarizer):"
                         " every row also runs it, alternating with the current code (A/B in the"
                         " same conditions)")
    a = ap.parse_args(argv)
    if a.compare_src and not (a.compare_src / "diarizer" / "__init__.py").is_file():
        # the child would silently import the current package instead: not an A/B
        ap.error(f"--compare-src {a.compare_src}: no diarizer/__init__.py under it (give the "
                 "folder that holds the package, not the package itself)")
    _popen_wait4()
    rows = read_manifest(a.manifest)
    extra = ["--backend", a.backend] + (["--dtype", a.dtype] if a.dtype else [])
    workdir = a.out or Path(tempfile.mkdtemp(prefix="bench_pipeline_"))
    workdir.mkdir(parents=True, exist_ok=True)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"# bench_pipeline: backend {a.backend}, repeat {a.repeat}, load average {load}",
          flush=True)
    cols = " | ".join(s for s, _ in STAGES)
    print(f"| meeting | config | {cols} | clustering | wall s (max/min) | cpu s | xRT | "
          f"clust xRT | RSS MiB | merges | spk | DER % |", flush=True)
    print("|---|---|" + "---|" * (len(STAGES) + 10), flush=True)
    results = []
    feat_cfgs = [c for c in a.feature_configs.split(",") if c]
    for name in [m for m in a.meetings.split(",") if m]:
        row = rows[name]
        row["meeting"] = name
        dur = float(row["minutes"]) * 60
        jobs = [(c, CONFIGS[c], None) for c in a.configs.split(",") if c]
        for c in feat_cfgs:
            jobs.append((c + "+feat", CONFIGS[c], "feat"))
        for cfg, cargs, kind in jobs:
            hyp = workdir / f"{name}.{cfg}.rttm"
            if kind == "feat":
                htk, spnsp = precompute_features(row, workdir, cargs)
                inp = ["--mfcc-feats", str(htk), "--spnsp-file", str(spnsp)]
            else:
                inp = ["--audio", row["wav"]]
            variants = [("", None)] + ([("(before)", a.compare_src)] if a.compare_src else [])
            acc = {tag: ([], 0, None) for tag, _ in variants}
            cpus = {tag: [] for tag, _ in variants}
            for _ in range(a.repeat):
                for tag, src in variants:
                    out = hyp.with_suffix(f".{'before' if src else 'after'}.rttm")
                    argv = [*cargs, *inp, "--output-cluster", str(out), "--basename", name,
                            *extra]
                    wall, ru, info = run_child(argv, src)
                    walls, rss, best = acc[tag]
                    if best is None or wall < min(walls):  # stage times of the fastest run
                        best = info
                    acc[tag] = (walls + [wall], max(rss, ru.ru_maxrss * 1024 if ru else 0), best)
                    if ru:
                        cpus[tag].append(ru.ru_utime + ru.ru_stime)
            for tag, src in variants:
                walls, rss, info = acc[tag]
                out = hyp.with_suffix(f".{'before' if src else 'after'}.rttm")
                der = forgiving_der(row["rttm"], row["uem"], out)
                print(fmt_row(name, cfg + tag, dur, walls, rss, info, der, cpus[tag]),
                      flush=True)
                results.append({"meeting": name, "config": cfg + tag, "walls": walls,
                                "cpus": cpus[tag],
                                "rss": rss, "der": der, **info})
        if not a.no_peer:
            peer = run_peer(row, workdir)
            if peer and "error" not in peer:
                blank = " | ".join("" for _ in STAGES)
                print(f"| {name} | resemblyzer | {blank} |  | {peer['wall']:.2f} (load excl.; "
                      f"process {peer['process']:.1f}) |  | {dur / peer['wall']:.0f} |  |  |  | "
                      f"{peer['n_speakers']} | {peer['der']:.2f} |", flush=True)
                results.append({"meeting": name, "config": "resemblyzer", **peer})
            elif peer:
                print(f"| {name} | resemblyzer | failed: {peer['error']!r} |", flush=True)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"# load average at the end {load}; outputs in {workdir}", flush=True)
    if a.json:
        a.json.write_text(json.dumps(results, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
