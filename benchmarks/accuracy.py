"""Accuracy table: DER of diarizer presets (and the peers) on the evaluation sets.

Run by hand (needs the sets made by ``benchmarks/datasets.py``; peers' RTTMs are read from
``--peers`` when present)::

    python benchmarks/accuracy.py --sets real synthetic10 realvoice \
        --systems original-fast original-accurate default

A system is a preset name (below) or ``name:key=value,key=value`` for an ad-hoc variant.
``--seeds 0 1 2 3`` runs every system once per ``seed`` (the k-means initialisation and the
clustering ensemble draw from it) and adds the per-seed totals and their mean: on meetings of a
few minutes one seed can move a set's total by several points, so compare settings on the mean
over seeds rather than on one seed. Each
meeting is diarized with the batch runner (process pool), scored with the package's scorer
(which agrees with md-eval-22) against a whole-file UEM: Forgiving = collar 0.25 s, overlap not
scored (md-eval ``-c 0.25 -1``); Full = collar 0, overlap scored (``-c 0``).
"""

import argparse
import csv
import os
import sys
import tempfile
import time

from diarizer.batch import Meeting, run_batch
from diarizer.config import read_config
from diarizer.io.rttm import read_rttm
from diarizer.io.uem import read_uem
from diarizer.scoring import FileScore, score

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = os.path.join(HERE, "..", "configs")

ORIGINAL = {"sad": "none", "resegmentation": "majority", "gmm_init": "original", "ccr": "0",
            "ccr_long": "0", "initial_segmentation": "uniform", "merge_candidates": "0",
            "max_cluster_frames": "0", "reseg_tol": "0", "ensemble_runs": "1", "bridge_pauses": "0",
            "min_speakers": "1"}
SYSTEMS = {
    # the original behaviour: no speech detection, majority vote, original seeding, fixed K
    "original-fast": ("fast.cfg", ORIGINAL),
    "original-accurate": ("accurate.cfg", ORIGINAL),
    "fast": ("fast.cfg", {}),
    "accurate": ("accurate.cfg", {}),
    "default": (None, {}),
}


def parse_system(spec):
    if ":" in spec:
        name, rest = spec.split(":", 1)
        base, over = SYSTEMS.get(name.split("+")[0], (None, {}))
        over = dict(over)
        for item in filter(None, rest.split(",")):
            k, v = item.split("=", 1)
            over[k] = v
        return spec, base, over
    base, over = SYSTEMS[spec]
    return spec, base, over


def load_set(cache, name):
    path = os.path.join(cache, name, "manifest.tsv")
    with open(path) as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return rows


def ref_count(rttm, uri):
    return len({t.speaker for t in read_rttm(rttm) if t.uri == uri})


def score_one(ref_path, hyp_turns, uem_path, uri):
    ref = [t for t in read_rttm(ref_path) if t.uri == uri]
    uem = read_uem(uem_path)
    f = score(ref, hyp_turns, uem=uem, collar=0.25, skip_overlap=True).total
    u = score(ref, hyp_turns, uem=uem, collar=0.0, skip_overlap=False).total
    return f, u


def with_seed(spec, seed):
    """``spec`` with ``seed=seed`` added to its settings."""
    return f"{spec}{',' if ':' in spec else ':'}seed={seed}"


def n_exact(res, rows):
    """Meetings whose speaker count found equals the reference's."""
    return sum(res[r["meeting"]][2] == ref_count(r["rttm"], r["meeting"]) for r in rows)


def print_seeds(rows, systems, seeds, columns):
    """Per system: the set's Forgiving / Full totals and exact counts per seed, and their mean."""
    res_of = dict(columns)
    print("\nOver seeds %s (Forgiving / Full DER %%, exact speaker counts):" % (
        " ".join(str(x) for x in seeds)))
    for spec in systems:
        runs = [res_of[with_seed(spec, x)] for x in seeds]
        tot = [total(res) for res in runs]
        exact = [n_exact(res, rows) for res in runs]
        per = ", ".join(f"{f.der:.2f} / {u.der:.2f} ({e})" for (f, u), e in zip(tot, exact))
        mf = sum(f.der for f, _ in tot) / len(tot)
        mu = sum(u.der for _, u in tot) / len(tot)
        print(f"- {spec}: {per}; mean {mf:.2f} / {mu:.2f}, exact {sum(exact) / len(exact):.1f} "
              f"of {len(rows)}")


def fmt(fs):
    return f"{fs.der:6.2f}"


def run_system(spec, rows, jobs, outroot):
    name, base, over = parse_system(spec)
    cfg = os.path.join(CONFIGS, base) if base else None
    settings = read_config(cfg, over, check_required=False).as_dict()
    for k in ("audio", "mfcc_feats", "output_cluster", "gmm_output", "basename"):
        settings.pop(k, None)
    meetings = [Meeting(r["meeting"], r["wav"], uem=r["uem"]) for r in rows]
    outdir = os.path.join(outroot, name.replace(":", "_").replace(",", "_").replace("=", "-"))
    t0 = time.perf_counter()
    summary = run_batch(meetings, outdir, settings, jobs=jobs, force=True)
    wall = time.perf_counter() - t0
    results = {}
    for r, row in zip(rows, summary):
        uri = r["meeting"]
        hyp_path = os.path.join(outdir, uri + ".rttm")
        hyp = read_rttm(hyp_path) if row["status"] == "ok" else []
        f, u = score_one(r["rttm"], hyp, r["uem"], uri)
        results[uri] = (f, u, row.get("speakers") or 0, row)
    return results, wall


def score_peer(peer_dir, rows):
    results = {}
    for r in rows:
        uri = r["meeting"]
        path = os.path.join(peer_dir, uri + ".rttm")
        if not os.path.exists(path):
            return None
        hyp = [t for t in read_rttm(path)]
        hyp = [type(t)(uri, t.start, t.duration, t.speaker) for t in hyp]
        f, u = score_one(r["rttm"], hyp, r["uem"], uri)
        results[uri] = (f, u, len({t.speaker for t in hyp}), None)
    return results


def total(results):
    f = sum((v[0] for v in results.values()), FileScore(0, 0, 0, 0))
    u = sum((v[1] for v in results.values()), FileScore(0, 0, 0, 0))
    return f, u


def print_set(name, rows, columns):
    print(f"\n## {name}: Forgiving / Full DER % (speakers found)\n")
    header = "| file | ref spk | " + " | ".join(c for c, _ in columns) + " |"
    print(header)
    print("|" + "---|" * (2 + len(columns)))
    for r in rows:
        uri = r["meeting"]
        cells = []
        for _, res in columns:
            f, u, n, row = res[uri]
            fail = "" if row is None or row["status"] == "ok" else " FAILED"
            cells.append(f"{f.der:.2f} / {u.der:.2f} ({n}){fail}")
        print(f"| {uri} | {ref_count(r['rttm'], uri)} | " + " | ".join(cells) + " |")
    cells = []
    exact = []
    for _, res in columns:
        f, u = total(res)
        cells.append(f"**{f.der:.2f} / {u.der:.2f}**")
        exact.append(n_exact(res, rows))
    print("| **total** | | " + " | ".join(cells) + " |")
    print("| count exact | | " + " | ".join(f"{e} of {len(rows)}" for e in exact) + " |")
    print("\nFull miss / FA / confusion s (scored):")
    for cname, res in columns:
        _, u = total(res)
        print(f"- {cname}: {u.missed:.2f} / {u.false_alarm:.2f} / {u.confusion:.2f} "
              f"({u.scored:.2f})")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cache", default="/work/cache/meetings")
    p.add_argument("--peers", default="/work/cache/peers")
    p.add_argument("--sets", nargs="+", default=["real", "synthetic10", "realvoice"])
    p.add_argument("--systems", nargs="+", default=["original-fast", "original-accurate",
                                                      "default"])
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--out", default=None, help="keep outputs here (default: a temp dir)")
    p.add_argument("--seeds", nargs="+", type=int, default=None,
                   help="run every system with each of these seeds and report the mean")
    args = p.parse_args(argv)
    systems = args.systems
    if args.seeds:
        systems = [with_seed(spec, x) for spec in args.systems for x in args.seeds]
    outroot = args.out or tempfile.mkdtemp(prefix="diarizer-accuracy-")
    for set_name in args.sets:
        rows = load_set(args.cache, set_name)
        columns = []
        timing = []
        for spec in systems:
            res, wall = run_system(spec, rows, args.jobs, os.path.join(outroot, set_name))
            columns.append((spec, res))
            audio = sum(v[3]["audio_s"] or 0 for v in res.values())
            timing.append((spec, wall, audio))
        for peer in ("textbook", "resemblyzer"):
            res = score_peer(os.path.join(args.peers, peer, set_name), rows)
            if res is not None:
                columns.append((f"peer:{peer}", res))
        print_set(set_name, rows, columns)
        if args.seeds:
            print_seeds(rows, args.systems, args.seeds, columns)
        print("\nWall time (batch, %d jobs):" % args.jobs)
        for spec, wall, audio in timing:
            print(f"- {spec}: {wall:.2f} s for {audio:.1f} s of audio (RTF {wall / audio:.4f})")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
