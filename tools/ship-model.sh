#!/bin/bash
# ship-model.sh RUN_DIR DATA_DIR NAME — turns a training run into a shipped
# model: fits the temperature on the run's validation split, stores the
# validation figures in the metadata, writes models/NAME.safetensors (F16),
# and saves the validation report for the card. The model predicts from the
# mean of the 8 dihedral views (dinet calibrate --tta; the temperature is
# fitted to those): NAME.val.txt is what the viewer and classify give,
# NAME.val-one-view.txt the same model from one view. TTA=0 ships a
# one-view model instead.
# FROM=last ships the run's last epoch (checkpoint.safetensors) instead of
# the best one by validation macro-F1 (best.safetensors): no choice made on
# the validation split.
set -euo pipefail
run=$1; data=$2; name=$3
case ${FROM:-best} in
  best) src="$run/best.safetensors" ;;
  last) src="$run/checkpoint.safetensors" ;;
  *) echo "ship-model.sh: FROM must be best or last" >&2; exit 1 ;;
esac
cd "$(dirname "$0")/.."
dinet=${DINET:-build/engine/dinet}
tta=--tta; [ "${TTA:-1}" = 0 ] && tta=--no-tta
$dinet calibrate --model "$src" --data "$data" --list "$run/val.txt" $tta \
  --out "models/$name.safetensors" --dtype f16 > "models/$name.calibration.txt"
$dinet eval --model "models/$name.safetensors" --data "$data" --list "$run/val.txt" > "models/$name.val.txt"
$dinet eval --model "models/$name.safetensors" --data "$data" --list "$run/val.txt" --no-tta > "models/$name.val-one-view.txt"
cp "$run/log.csv" "models/$name.log.csv"
cp "$run/val.txt" "models/$name.val-files.txt"
$dinet info --model "models/$name.safetensors" | head -20
cat "models/$name.val.txt"
