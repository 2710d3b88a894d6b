#!/usr/bin/python3
"""Markdown tables from the defense.csv of `inv defend` (for docs/results.md).

    scripts/defense_table.py DIR/defense.csv            every setting: accuracy, and per attacker PSNR (dB) /
                                                         SSIM in the reference mode / SSIM in the Gaussian mode
    scripts/defense_table.py DIR/defense.csv --smallest  per split and position: the smallest level at
                                                         which each attacker's SSIM is <= 0.3, and its accuracy
"""
import csv
import sys

rows = list(csv.DictReader(open(sys.argv[1])))
attacks = list(dict.fromkeys(r["attack"] for r in rows))
cells = {}
for r in rows:
    key = (r["split"], r["defense"], r["position"], float(r["level"]))
    cells.setdefault(key, {"accuracy": float(r["accuracy"]), "bound": r["fisher_mse_bound"]})[r["attack"]] = r

if "--smallest" in sys.argv:
    print("| split | position | attacker | smallest level with SSIM ≤ 0.3 | accuracy there |")
    print("|---|---|---|---:|---:|")
    groups = {}
    for (split, kind, pos, level), c in sorted(cells.items()):
        if kind != "none":
            groups.setdefault((split, kind, pos), []).append((level, c))
    for (split, kind, pos), items in groups.items():
        for a in attacks:
            if a == "label-only":
                continue
            hit = next(((lv, c) for lv, c in items if a in c and float(c[a]["ssim_reference"]) <= 0.3), None)
            print(f"| {split} | {kind} ({pos}) | {a} | {hit[0]:g} | {100 * hit[1]['accuracy']:.2f} % |" if hit
                  else f"| {split} | {kind} ({pos}) | {a} | none ≤ {max(lv for lv, _ in items):g} | |")
    sys.exit(0)

bound = any(c["bound"] for c in cells.values())
head = "| split | defense | level | accuracy | " + " | ".join(f"{a} PSNR / SSIM / SSIM-G" for a in attacks)
head += " | white-box MSE | Fisher bound on the MSE |" if bound else " |"
print(head)
print("|---|---|---:|---:|" + "---:|" * len(attacks) + ("---:|---:|" if bound else ""))
for (split, kind, pos, level), c in cells.items():
    name = "none" if kind == "none" else f"{kind} ({pos})"
    line = f"| {split} | {name} | {level:g} | {100 * c['accuracy']:.2f} % | "
    line += " | ".join(f"{float(c[a]['psnr']):.2f} / {float(c[a]['ssim_reference']):.3f} / "
                       f"{float(c[a]['ssim_gaussian']):.3f}" if a in c else ""
                       for a in attacks) + " |"
    if bound:
        line += f" {float(c['white-box']['mse']):.4f} | {float(c['bound']):.4f} |" if c["bound"] else " | |"
    print(line)
