#!/bin/bash
# tools/ablation.sh [OUT] — the DeepInsight-Net ablation on Herlev: {resnet50,
# cbam_resnet50} x {cross-entropy, focal loss}, 5-fold stratified CV, one
# input size (48 px) and one short schedule (10 epochs) so that all 20 runs fit
# a 2-core CPU session (about 20 min per configuration on a quiet machine).
# Both losses use the same per-class alpha (inverse class frequency), so the
# loss column differs only by the focusing term (gamma 2 vs 0). Interrupted
# runs resume (dinet cv keeps finished folds). Prints the table with
# tools/cv-table.py.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
dinet=${DINET:-$root/build/engine/dinet}
data=${DATA:-$root/../shared/data/herlev}
out=${1:-$root/runs/ablation}
mkdir -p "$out"
for cfg in "cbam_resnet50 focal" "resnet50 ce" "cbam_resnet50 ce" "resnet50 focal"; do
  set -- $cfg
  echo "== $1 $2 $(date -u +%FT%TZ)"
  "$dinet" cv --data "$data" --out "$out/$1-$2" --folds 5 \
    --arch "$1" --loss "$2" --alpha auto --size 48 --epochs 10 --batch 16 --lr 0.02 --warmup 1 \
    --scale-min 0.6 --seed 1 --threads "${THREADS:-1}" \
    --abnormal carcinoma_in_situ,light_dysplastic,moderate_dysplastic,severe_dysplastic \
    2> "$out/$1-$2.log"
done
/usr/bin/python3 "$root/tools/cv-table.py" "$out"
