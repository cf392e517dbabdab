#!/usr/bin/env python3
"""Folds `evaluate --json` files into one Markdown table: runs of the same set (files eval-<label>[-s<seed>].json)
are pooled, and each row gives the mean ± std (population, as apps/evaluate reports) of the best accuracies.
Usage: scripts/eval-table.py eval-*.json"""
import json, os, re, statistics, sys

groups = {}
for path in sys.argv[1:]:
    label = re.sub(r"-s\d+$", "", os.path.basename(path)[:-len(".json")])
    label = label[len("eval-"):] if label.startswith("eval-") else label
    try:
        doc = json.load(open(path))
    except (OSError, ValueError) as e:
        print("eval-table: %s: unreadable (%s)" % (path, e), file=sys.stderr)
        continue
    g = groups.setdefault(label, {"best": [], "cfg": doc.get("config", {})})
    g["best"] += [r["best"] for r in doc.get("runs", [])]

print("| set | runs | best acc. mean ± std (%) | epochs | device |")
print("|---|---:|---:|---:|---|")
for label, g in sorted(groups.items()):
    b = g["best"]
    if not b:
        continue
    print("| %s | %d | %.2f ± %.2f | %s | %s |" % (label, len(b), statistics.mean(b), statistics.pstdev(b),
                                                g["cfg"].get("epochs", "?"), g["cfg"].get("device", "?")))
