#!/usr/bin/python3
"""views-agreement.py MODEL DATA LIST — accuracy of a model's 8-view calls
split by whether all views agree, on the images of LIST (paths under DATA,
whose folder is the true class; a run's val.txt).

Runs `dinet classify --json` (build/engine/dinet, or $DINET) and prints, for
calls whose 8 views all put the same class first and for split calls: how
many, 7-class accuracy, normal/abnormal accuracy (by the top class's group)
and abnormal sensitivity. Nothing is fitted: it is a reading aid for the
viewer's "Views disagree" line.
"""
import json
import os
import subprocess
import sys


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__.strip().splitlines()[0])
    model, data, listing = sys.argv[1:]
    dinet = os.environ.get("DINET", os.path.join(os.path.dirname(__file__), "..", "build", "engine", "dinet"))
    files = [os.path.join(data, line.strip()) for line in open(listing) if line.strip()]
    out = subprocess.run([dinet, "classify", "--model", model, "--json", *files],
                         check=True, capture_output=True, text=True).stdout
    calls = json.loads(out)
    if not calls or calls[0].get("views_agree") is None or len(calls[0]["view_classes"]) < 2:
        sys.exit("the model predicts from one view: nothing to split")
    rows = {}
    for c in calls:
        true = os.path.basename(os.path.dirname(c["image"]))
        abnormal = {x["name"] for x in c["classes"] if x.get("abnormal")}
        key = "all views agree" if c["views_agree"] == len(c["view_classes"]) else "views split"
        r = rows.setdefault(key, {"n": 0, "right": 0, "binary": 0, "abn": 0, "abn_found": 0})
        r["n"] += 1
        r["right"] += c["class"] == true
        r["binary"] += (c["class"] in abnormal) == (true in abnormal)
        if true in abnormal:
            r["abn"] += 1
            r["abn_found"] += c["class"] in abnormal
    for key in ("all views agree", "views split"):
        r = rows.get(key)
        if not r:
            print(f"{key}: none")
            continue
        n = r["n"]
        sens = f"{r['abn_found']}/{r['abn']}" if r["abn"] else "n/a"
        print(f"{key}: {n} images, accuracy {100 * r['right'] / n:.1f} % ({r['right']}/{n}), "
              f"normal/abnormal {100 * r['binary'] / n:.1f} %, abnormal sensitivity {sens}")


if __name__ == "__main__":
    main()
