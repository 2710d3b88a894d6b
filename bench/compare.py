#!/usr/bin/env python3
"""Runs inv's benchmarks and the same cases in PyTorch back to back, prints the ratio table.

    bench/compare.py BUILD_DIR [--threads 2] [--groups conv,gemm,train,rmle,attack]

PyTorch is Debian's /usr/bin/python3 torch 1.13 (oneDNN), with torch.set_num_threads(threads)
and, in its process only, OpenBLAS for its GEMMs (LD_LIBRARY_PATH=.../openblas-openmp,
OPENBLAS_CORETYPE). The ratio is PyTorch time / inv time: above 1 means inv is faster.
Output: a markdown table (paste into docs/performance.md) with the machine it ran on.
"""
import argparse
import json
import os
import platform
import subprocess
import sys

ap = argparse.ArgumentParser()
ap.add_argument("build_dir")
ap.add_argument("--threads", type=int, default=2)
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
ours = run([os.path.join(args.build_dir, "bench", "bench_inv"), args.groups], env)
torch_env = dict(env, LD_LIBRARY_PATH="/usr/lib/x86_64-linux-gnu/openblas-openmp",
                 OPENBLAS_CORETYPE=args.openblas_coretype)
theirs = run(["/usr/bin/python3", os.path.join(here, "torch_bench.py"), str(args.threads), args.groups], torch_env)

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
isa = "AVX-512" if "avx512f" in flags else ("AVX2+FMA" if "avx2" in flags else "SSE")
print(f"Machine: {cpu}, {os.cpu_count()} cores, {isa}; {platform.platform()}; {args.threads} threads; "
      f"OPENBLAS_CORETYPE={args.openblas_coretype}\n")
print("| case | inv (ms) | PyTorch (ms) | PyTorch / inv |")
print("|---|---:|---:|---:|")
for case, r in ours.items():
    t = theirs.get(case)
    extra = f" ({r['gflops']:.0f} GFLOP/s)" if "gflops" in r else ""
    textra = f" ({t['gflops']:.0f} GFLOP/s)" if t and "gflops" in t else ""
    ratio = f"{t['ms'] / r['ms']:.2f}" if t else "-"
    print(f"| {case} | {r['ms']:.3f}{extra} | {t['ms']:.3f}{textra} | {ratio} |" if t else f"| {case} | {r['ms']:.3f} | - | - |")
