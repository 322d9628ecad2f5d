#!/bin/bash
# test_shared_data.sh — every image in ../shared/data classifies, and grouped
# splits of the LBC set never put copies of one source on both sides.
set -u
DINET=${DINET:-./build/engine/dinet}
DATA=${SHARED_DATA:-../shared/data}
PY=/usr/bin/python3
if [ ! -d "$DATA/herlev" ] || [ ! -d "$DATA/lbc" ]; then
  echo "SKIP: $DATA is absent (only CI and developer machines have the shared data set)"
  exit 77
fi
pass=0; fail=0
check() { local what=$1; shift; if "$@"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $what" >&2; fi; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

$DINET init --out "$tmp/m.safetensors" --classes a,b --size 64 --seed 1
for set in herlev lbc cric; do
  [ -d "$DATA/$set" ] || continue
  find "$DATA/$set" -type f \( -name '*.jpg' -o -name '*.png' -o -name '*.bmp' -o -name '*.tif' \) | sort > "$tmp/$set.lst"
  n=$(wc -l < "$tmp/$set.lst")
  xargs -a "$tmp/$set.lst" -d '\n' $DINET classify --model "$tmp/m.safetensors" --threads 2 > "$tmp/$set.out" 2> "$tmp/$set.err"
  check "$set: dinet classify exits 0 on all $n images" test $? -eq 0
  check "$set: one line per image ($n)" test "$(wc -l < "$tmp/$set.out")" -eq "$n"
  check "$set: no errors" test ! -s "$tmp/$set.err"
done

# grouped split and folds on LBC by source_image_id
$DINET train --data "$DATA/lbc" --out "$tmp/split" --group-by source_image_id --val-split 0.15 \
  --epochs 1 --max-steps 1 --size 32 --batch 2 --seed 4 --quiet
check "split run" test -s "$tmp/split/val.txt"
$DINET cv --data "$DATA/lbc" --out "$tmp/cv" --group-by source_image_id --folds 3 \
  --epochs 1 --max-steps 1 --size 32 --batch 2 --seed 4 --quiet > "$tmp/cv1.out"
check "cv prints a line per fold and the mean" test "$(grep -c '^fold \|^cv 3 folds' "$tmp/cv1.out")" -eq 5
# a finished fold is not trained again: the rerun reports the same figures
# and appends nothing to the folds' logs
cat "$tmp"/cv/fold*/log.csv > "$tmp/logs1"
$DINET cv --data "$DATA/lbc" --out "$tmp/cv" --group-by source_image_id --folds 3 \
  --epochs 1 --max-steps 1 --size 32 --batch 2 --seed 4 --quiet > "$tmp/cv2.out"
check "cv rerun skips finished folds" cmp -s "$tmp/cv1.out" "$tmp/cv2.out"
check "cv rerun trains nothing" cmp -s "$tmp/logs1" <(cat "$tmp"/cv/fold*/log.csv)
# --split-seed fixes the split while --seed changes the rest
$DINET train --data "$DATA/lbc" --out "$tmp/split2" --group-by source_image_id --val-split 0.15 \
  --epochs 1 --max-steps 1 --size 32 --batch 2 --seed 9 --split-seed 4 --quiet
check "--split-seed gives the same split" cmp -s "$tmp/split/val.txt" "$tmp/split2/val.txt"
check "grouped split and folds never straddle a source image" $PY - "$DATA/lbc/labels.csv" "$tmp" <<'PYEOF'
import csv, sys, os
rows = list(csv.DictReader(open(sys.argv[1])))
group = {r["file"]: r["source_image_id"] for r in rows}
cls = {r["file"]: r["class"] for r in rows}
def load(p): return [l.strip() for l in open(p) if l.strip()]
t = sys.argv[2]
val, tr = load(f"{t}/split/val.txt"), load(f"{t}/split/train.txt")
assert len(val) + len(tr) == len(rows), (len(val), len(tr), len(rows))
assert not ({group[f] for f in val} & {group[f] for f in tr}), "a source image straddles the split"
for c in set(cls.values()):   # stratified: every class about 15 % in validation
    n = sum(1 for f in rows if f["class"] == c); v = sum(1 for f in val if cls[f] == c)
    assert 0.08 * n <= v <= 0.22 * n, (c, v, n)
folds = [set(load(f"{t}/cv/fold{i}/val.txt")) for i in (1, 2, 3)]
assert sum(map(len, folds)) == len(rows) and not (folds[0] & folds[1])
gs = [{group[f] for f in fo} for fo in folds]
assert not (gs[0] & gs[1] or gs[0] & gs[2] or gs[1] & gs[2]), "a source image in two folds"
PYEOF
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
