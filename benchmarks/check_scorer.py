"""Check diarizer.scoring against every md-eval-22 run in /work/shared/data/scoring.

Usage::

    python benchmarks/check_scorer.py [--data /work/shared/data/scoring] [--time-case CASE]

For each mdeval_out/*.txt (line 1 = the md-eval command, run from the data directory) it scores
the same ref/sys/uem/collar/-1 with diarizer.scoring.score_paths and compares every per-file and
ALL row of mdeval_results.tsv: DER (from times, 4 decimals) and the four times (md-eval prints 6
decimals). Then it times md-eval and ours on one case (default: vbx_ami_mixheadset_test).
Exit status 1 if a row differs by more than 0.01 % DER or 0.005 s.
"""

import argparse
import csv
import os
import shlex
import subprocess
import sys
import time
from collections import defaultdict

from diarizer.scoring import score_paths

DER_TOL = 0.01
TIME_TOL = 0.005


def parse_command(line):
    argv = shlex.split(line)
    argv = argv[argv.index("md-eval-22.pl") + 1:] if "md-eval-22.pl" in argv else argv[2:]
    opts = {"uem": None, "collar": 0.0, "skip_overlap": False}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "-r":
            opts["ref"] = argv[i + 1]
            i += 1
        elif a == "-s":
            opts["sys"] = argv[i + 1]
            i += 1
        elif a == "-u":
            opts["uem"] = argv[i + 1]
            i += 1
        elif a == "-c":
            opts["collar"] = float(argv[i + 1])
            i += 1
        elif a == "-1":
            opts["skip_overlap"] = True
        elif a in ("-af",):
            pass
        else:
            raise ValueError(f"unknown md-eval option {a!r} in {line!r}")
        i += 1
    return opts


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/work/shared/data/scoring")
    ap.add_argument("--time-case", default="vbx_ami_mixheadset_test")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-timing", action="store_true")
    args = ap.parse_args(argv)
    os.chdir(args.data)

    expected = defaultdict(dict)
    with open("mdeval_results.tsv", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            expected[row["stdout_file"]][row["file"]] = row

    worst_der = (0.0, None)
    worst_time = (0.0, None)
    n_rows = n_bad = 0
    print(f"{'run':<62} {'rows':>4} {'DER md-eval':>11} {'DER ours':>9} {'max|dDER|':>9} "
          f"{'max|dt| s':>9}")
    for name in sorted(expected):
        with open(os.path.join("mdeval_out", name)) as fh:
            opts = parse_command(fh.readline())
        report = score_paths(opts["ref"], opts["sys"], uem=opts["uem"], collar=opts["collar"],
                             skip_overlap=opts["skip_overlap"])
        run_der = run_t = 0.0
        for uri, row in expected[name].items():
            fs = report.total if uri == "ALL" else report.files.get(uri)
            n_rows += 1
            if fs is None:
                print(f"  MISSING file {uri} in {name}")
                n_bad += 1
                continue
            d_der = abs(fs.der - float(row["DER_pct_from_times"]))
            d_t = max(abs(fs.scored - float(row["scored_spk_s"])),
                      abs(fs.missed - float(row["missed_spk_s"])),
                      abs(fs.false_alarm - float(row["falarm_spk_s"])),
                      abs(fs.confusion - float(row["spk_error_s"])))
            if d_der > DER_TOL or d_t > TIME_TOL:
                n_bad += 1
                print(f"  BAD {name} {uri}: ours {fs} der {fs.der:.4f} vs md-eval "
                      f"{row['DER_pct_from_times']} ({row['scored_spk_s']}, {row['missed_spk_s']},"
                      f" {row['falarm_spk_s']}, {row['spk_error_s']})")
            run_der, run_t = max(run_der, d_der), max(run_t, d_t)
            if d_der > worst_der[0]:
                worst_der = (d_der, f"{name} {uri}")
            if d_t > worst_time[0]:
                worst_time = (d_t, f"{name} {uri}")
        all_row = expected[name]["ALL"]
        md_der = float(all_row["DER_pct_from_times"])
        print(f"{name[:-4]:<62} {len(expected[name]):>4} {md_der:>11.4f} "
              f"{report.total.der:>9.4f} {run_der:>9.2e} {run_t:>9.2e}")
    print(f"\n{len(expected)} runs, {n_rows} rows, {n_bad} outside tolerance "
          f"({DER_TOL} % DER, {TIME_TOL} s)")
    print(f"worst |dDER| = {worst_der[0]:.3e} %  ({worst_der[1]})")
    print(f"worst |dt|   = {worst_time[0]:.3e} s  ({worst_time[1]})")

    if not args.no_timing:
        case = f"cases/{args.time_case}"
        cmd = ["perl", "md-eval-22.pl", "-af", "-r", f"{case}/ref.rttm", "-s", f"{case}/sys.rttm",
               "-c", "0.25"]
        t_md = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            t_md.append(time.perf_counter() - t0)
        t_us = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            score_paths(f"{case}/ref.rttm", f"{case}/sys.rttm", collar=0.25)
            t_us.append(time.perf_counter() - t0)
        print(f"\ntiming {args.time_case} (-c 0.25, best of {args.repeat}, incl. reading files): "
              f"md-eval {min(t_md):.3f} s, diarizer {min(t_us):.3f} s, "
              f"ratio {min(t_md) / min(t_us):.1f}x")
    return 1 if n_bad else 0


if __name__ == "__main__":
    sys.exit(main())
