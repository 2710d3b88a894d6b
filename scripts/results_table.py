#!/usr/bin/env python3
"""Prints the markdown table of an `inv sweep` report (its results.json).

    scripts/results_table.py OUT_DIR/results.json [...]

One row per split layer x attack: mean PSNR (dB) and mean SSIM in both modes (the
reference code's and Wang et al.'s Gaussian) over the attacked images, the attack's
running time and, for the black-box attack, the number of edge queries; then the
target's test accuracy and the command. Standard library only.
"""
import json
import sys


def cell(v, fmt):
    return "inf" if v is None else format(v, fmt)


for path in sys.argv[1:]:
    r = json.load(open(path))
    t = r["target"]
    print(f"{r['model']} on {r['dataset']['name']}: "
          f"{t['accuracy_label']} {100 * t['test_accuracy']:.2f}% ({t['test_images']} images); "
          f"`{r['run']['command']}` took {r['run']['seconds'] / 60:.1f} min on {r['run']['threads']} threads\n")
    print("| split | output | attack | PSNR (dB) | SSIM (reference) | SSIM (Gaussian) | time (s) | queries |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    shapes = {s["layer"]: "x".join(map(str, s["output_shape"])) for s in r["splits"]}
    for c in r["results"]:
        m = c["mean"]
        print(f"| {c['split']} | {shapes.get(c['split'], '?')} | {c['attack']} | {cell(m['psnr'], '.2f')} | "
              f"{m['ssim_reference']:.3f} | {m['ssim_gaussian']:.3f} | {c['seconds']:.0f} | "
              f"{c['queries'] if c['queries'] else '-'} |")
    print()
