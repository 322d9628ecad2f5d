#!/usr/bin/env python3
"""cv-table.py OUT — the ablation table from the fold results of `dinet cv`
runs in OUT/ARCH-LOSS/foldN/result.txt (last-epoch accuracy, macro-F1,
best-epoch accuracy, macro-F1, best epoch), as Markdown: mean ± sample sd."""
import os
import statistics
import sys

out = sys.argv[1]
rows = []
for arch in ("resnet50", "cbam_resnet50"):
    for loss in ("ce", "focal"):
        d = os.path.join(out, f"{arch}-{loss}")
        folds = []
        for f in range(1, 100):
            p = os.path.join(d, f"fold{f}", "result.txt")
            if not os.path.exists(p):
                break
            folds.append([float(v) for v in open(p).read().split()[:4]])
        rows.append((arch, loss, folds))

def ms(vals):
    if len(vals) < 2:
        return "n/a"
    return f"{100 * statistics.mean(vals):.1f} ± {100 * statistics.stdev(vals):.1f}"

print("| network | loss | folds | accuracy, last epoch | macro-F1, last epoch "
      "| accuracy, best epoch* | macro-F1, best epoch* |")
print("|---|---|---:|---:|---:|---:|---:|")
for arch, loss, folds in rows:
    cols = [ms([f[j] for f in folds]) for j in range(4)]
    name = "CBAM-ResNet50" if arch == "cbam_resnet50" else "ResNet-50"
    lname = "focal (γ 2)" if loss == "focal" else "cross-entropy"
    print(f"| {name} | {lname} | {len(folds)} | " + " | ".join(cols) + " |")
print("\n*chosen on the validation fold itself, so optimistic; the last-epoch columns are the honest ones.")
