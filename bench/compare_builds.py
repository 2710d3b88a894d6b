#!/usr/bin/python3
"""Two builds of bench_inv, alternating, on the same cases: did a change make anything slower?

    bench/compare_builds.py BEFORE_BUILD AFTER_BUILD [--groups rmle,train] [--repeat 5] [--threads 2]

Runs BEFORE_BUILD/bench/bench_inv and AFTER_BUILD/bench/bench_inv one after the other,
--repeat times, and prints a markdown table: each case's median time in both builds and
the median of the per-run ratios before / after (above 1: the change made it faster),
with their range. Alternating the two spreads the machine's slow spells over both.
"""
import argparse
import json
import os
import statistics
import subprocess

ap = argparse.ArgumentParser()
ap.add_argument("before")
ap.add_argument("after")
ap.add_argument("--groups", default="conv,gemm,train,rmle,attack")
ap.add_argument("--repeat", type=int, default=5)
ap.add_argument("--threads", type=int, default=2)
args = ap.parse_args()
env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
times = {"before": {}, "after": {}}
for _ in range(max(1, args.repeat)):
    for side in ("before", "after"):
        exe = os.path.join(getattr(args, side), "bench", "bench_inv")
        out = subprocess.run([exe, args.groups], env=env, capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("{"):
                r = json.loads(line)
                times[side].setdefault(r["case"], []).append(r["ms"])
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"{cpu}, {os.cpu_count()} cores, {args.threads} threads; medians of {args.repeat} alternating runs\n")
print("| case | before (ms) | after (ms) | before / after (range) |")
print("|---|---:|---:|---:|")
for case, b in times["before"].items():
    a = times["after"].get(case)
    if not a:
        continue
    ratios = [x / y for x, y in zip(b, a)]
    print(f"| {case} | {statistics.median(b):.4g} | {statistics.median(a):.4g} | "
          f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}) |")
