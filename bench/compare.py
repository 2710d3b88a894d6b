#!/usr/bin/env python3
"""Runs inv's benchmarks and the same cases in PyTorch back to back, prints the ratio table.

    bench/compare.py BUILD_DIR [--threads 2] [--groups conv,gemm,train,rmle,attack] [--repeat N]

PyTorch is Debian's /usr/bin/python3 torch 1.13 (oneDNN), with torch.set_num_threads(threads)
and, in its process only, OpenBLAS for its GEMMs (LD_LIBRARY_PATH=.../openblas-openmp,
OPENBLAS_CORETYPE). The ratio is PyTorch time / inv time: above 1 means inv is faster.
Output: a markdown table (paste into docs/performance.md) with the machine it ran on.
With --repeat N both sides run N times, alternating, and the table gives each case's
median time and the median of its N per-run ratios with their range: on a shared
machine one run's ratio can be off by a third.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys

ap = argparse.ArgumentParser()
ap.add_argument("build_dir")
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--repeat", type=int, default=1, help="runs of both sides; the table gives medians")
ap.add_argument("--groups", default="conv,gemm,train,rmle,attack")
ap.add_argument("--openblas-coretype", default=None,
                help="OpenBLAS kernel for PyTorch's GEMMs (default: SkylakeX on AVX-512 machines, else Haswell)")
args = ap.parse_args()
flags = next((l for l in open("/proc/cpuinfo") if l.startswith("flags")), "").split()
if args.openblas_coretype is None:
    args.openblas_coretype = "SkylakeX" if "avx512f" in flags else "Haswell"
here = os.path.dirname(os.path.abspath(__file__))


def run(cmd, env):
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return {r["case"]: r for r in (json.loads(line) for line in out.splitlines() if line.startswith("{"))}


env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
torch_env = dict(env, LD_LIBRARY_PATH="/usr/lib/x86_64-linux-gnu/openblas-openmp",
                 OPENBLAS_CORETYPE=args.openblas_coretype)
runs = []  # (ours, theirs) per repetition
for _ in range(max(1, args.repeat)):
    ours = run([os.path.join(args.build_dir, "bench", "bench_inv"), args.groups], env)
    theirs = run(["/usr/bin/python3", os.path.join(here, "torch_bench.py"), str(args.threads), args.groups],
                 torch_env)
    runs.append((ours, theirs))

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
isa = "AVX-512" if "avx512f" in flags else ("AVX2+FMA" if "avx2" in flags else "SSE")
print(f"Machine: {cpu}, {os.cpu_count()} cores, {isa}; {platform.platform()}; {args.threads} threads; "
      f"OPENBLAS_CORETYPE={args.openblas_coretype}\n")
median = statistics.median
if len(runs) == 1:
    print("| case | inv (ms) | PyTorch (ms) | PyTorch / inv |")
    print("|---|---:|---:|---:|")
else:
    print(f"Medians of {len(runs)} runs; the last column gives the lowest and highest per-run ratio.\n")
    print("| case | inv (ms) | PyTorch (ms) | PyTorch / inv | range |")
    print("|---|---:|---:|---:|---:|")
for case in runs[0][0]:
    ms = median([o[case]["ms"] for o, _ in runs])
    gf = [o[case]["gflops"] for o, _ in runs if "gflops" in o[case]]
    extra = f" ({median(gf):.0f} GFLOP/s)" if gf else ""
    if not all(case in t for _, t in runs):
        print(f"| {case} | {ms:.3f}{extra} | - | - |" + (" - |" if len(runs) > 1 else ""))
        continue
    tms = median([t[case]["ms"] for _, t in runs])
    tgf = [t[case]["gflops"] for _, t in runs if "gflops" in t[case]]
    textra = f" ({median(tgf):.0f} GFLOP/s)" if tgf else ""
    ratios = [t[case]["ms"] / o[case]["ms"] for o, t in runs]
    row = f"| {case} | {ms:.3f}{extra} | {tms:.3f}{textra} | {median(ratios):.2f} |"
    if len(runs) > 1:
        row += f" {min(ratios):.2f}-{max(ratios):.2f} |"
    print(row)
