#!/bin/bash
# ship-model.sh RUN_DIR DATA_DIR NAME — turns a training run into a shipped
# model: fits the temperature on the run's validation split, stores the
# validation figures in the metadata, writes models/NAME.safetensors (F16),
# and saves the validation report (plain and with 8-view TTA) for the card.
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
$dinet calibrate --model "$src" --data "$data" --list "$run/val.txt" \
  --out "models/$name.safetensors" --dtype f16 > "models/$name.calibration.txt"
$dinet eval --model "models/$name.safetensors" --data "$data" --list "$run/val.txt" > "models/$name.val.txt"
$dinet eval --model "models/$name.safetensors" --data "$data" --list "$run/val.txt" --tta > "models/$name.val-tta.txt"
cp "$run/log.csv" "models/$name.log.csv"
cp "$run/val.txt" "models/$name.val-files.txt"
$dinet info --model "models/$name.safetensors" | head -20
cat "models/$name.val.txt"
