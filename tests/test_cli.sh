#!/bin/bash
# test_cli.sh — the dinet command line: classify, explain, info, init, bench,
# and its errors (exit 1, one line on stderr, other images still classified).
set -u
DINET=${DINET:-./build/engine/dinet}
PY=/usr/bin/python3
pass=0; fail=0
check() { # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $what" >&2; fi
}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
if ! $PY -c "import PIL" 2>/dev/null; then echo "SKIP: python3-pil is needed to make test images"; exit 77; fi

$DINET init --out "$tmp/m.safetensors" --classes normal_a,abnormal_b,abnormal_c --abnormal abnormal_b,abnormal_c --size 64 --seed 3
check "init writes a model" test -s "$tmp/m.safetensors"
for c in classify explain info eval calibrate bench init; do
  check "$c --help prints the usage" sh -c "\"$DINET\" $c --help | grep -q 'usage: dinet'"
done
$PY - "$tmp" <<'PYEOF'
import sys, random
from PIL import Image
d = sys.argv[1]; random.seed(1)
for i, (w, h, mode) in enumerate([(64, 64, "RGB"), (200, 120, "L"), (90, 90, "RGBA"), (33, 47, "P")]):
    im = Image.new(mode, (w, h))
    im.putdata([tuple(random.randrange(256) for _ in range(len(mode) if mode != "P" else 1)) if mode not in ("L", "P") else random.randrange(256) for _ in range(w * h)])
    im.save(f"{d}/img{i}.png")
Image.new("RGB", (64, 64), (200, 30, 90)).save(f"{d}/img4.jpg", quality=90)
Image.new("RGB", (64, 64), (20, 130, 90)).save(f"{d}/img5.tif")
Image.new("RGB", (64, 64), (20, 30, 190)).save(f"{d}/img6.bmp")
open(f"{d}/broken.png", "wb").write(open(f"{d}/img0.png", "rb").read()[:100])
PYEOF
imgs="$tmp/img0.png $tmp/img1.png $tmp/img2.png $tmp/img3.png $tmp/img4.jpg $tmp/img5.tif $tmp/img6.bmp"

# classify: JSON, in argument order, every key
$DINET classify --model "$tmp/m.safetensors" --json $imgs > "$tmp/c.json"
check "classify exits 0" test $? -eq 0
check "classify JSON" $PY - "$tmp/c.json" $imgs <<'PYEOF'
import json, sys, math
r = json.load(open(sys.argv[1])); names = sys.argv[2:]
assert [o["image"] for o in r] == names, "order"
for o in r:
    assert set(o) >= {"image", "class", "probabilities", "logits"}
    assert len(o["probabilities"]) == 3 and len(o["logits"]) == 3
    assert abs(sum(o["probabilities"]) - 1) < 1e-4
    assert o["class"] == ["normal_a", "abnormal_b", "abnormal_c"][max(range(3), key=lambda j: o["logits"][j])]
PYEOF
# one bad image among good ones: reported, others classified, exit 1
$DINET classify --model "$tmp/m.safetensors" --json "$tmp/img0.png" "$tmp/broken.png" "$tmp/missing.png" "$tmp/img4.jpg" > "$tmp/c2.json" 2> "$tmp/c2.err"
rc=$?
check "bad image exits 1" test $rc -eq 1
check "good images still classified" $PY -c "import json,sys; r=json.load(open('$tmp/c2.json')); assert len(r)==2, r"
check "each failure is one line naming the file" bash -c "[ \$(wc -l < '$tmp/c2.err') -eq 2 ] && grep -q broken.png '$tmp/c2.err' && grep -q missing.png '$tmp/c2.err'"
# readable output
$DINET classify --model "$tmp/m.safetensors" "$tmp/img0.png" > "$tmp/c.txt"
check "text output names the class and group" grep -Eq "img0.png: (normal_a|abnormal_b|abnormal_c) \(.*%\) (normal|abnormal)" "$tmp/c.txt"

# classify --tta: the mean probability of the 8 dihedral views, checked
# against single-view classifications of the 8 views made by PIL
$PY - "$tmp" <<'PYEOF'
import sys
from PIL import Image
d = sys.argv[1]; im = Image.open(f"{d}/img0.png")
ops = [None, Image.FLIP_LEFT_RIGHT, Image.FLIP_TOP_BOTTOM, Image.ROTATE_180,
       Image.TRANSPOSE, Image.TRANSVERSE, Image.ROTATE_90, Image.ROTATE_270]
for i, op in enumerate(ops):
    (im if op is None else im.transpose(op)).save(f"{d}/view{i}.png")
PYEOF
$DINET classify --model "$tmp/m.safetensors" --json "$tmp"/view?.png > "$tmp/views.json"
$DINET classify --model "$tmp/m.safetensors" --json --tta "$tmp/img0.png" > "$tmp/tta.json"
check "classify --tta exits 0" test $? -eq 0
check "classify --tta averages the 8 views" $PY - "$tmp/views.json" "$tmp/tta.json" <<'PYEOF'
import json, sys, math
views = json.load(open(sys.argv[1])); t = json.load(open(sys.argv[2]))[0]
assert len(views) == 8 and t["views"] == 8 and "logits" not in t
def softmax(z):
    m = max(z); e = [math.exp(v - m) for v in z]; s = sum(e); return [v / s for v in e]
mean = [sum(softmax(v["logits"])[k] for v in views) / 8 for k in range(3)]
got = [math.exp(v) for v in t["log_probabilities"]]
assert all(abs(a - b) < 1e-4 for a, b in zip(mean, got)), (mean, got)
assert abs(sum(t["probabilities"]) - 1) < 1e-4
assert t["class"] == ["normal_a", "abnormal_b", "abnormal_c"][max(range(3), key=lambda j: mean[j])]
PYEOF

# explain
for layer in layer1 layer2 layer3 layer4; do
  $DINET explain --model "$tmp/m.safetensors" --method gradcam --layer $layer --json "$tmp/img0.png" > "$tmp/e.json"
  check "explain gradcam $layer" $PY - "$tmp/e.json" $layer <<'PYEOF'
import json, sys
o = json.load(open(sys.argv[1])); n = {"layer1": 16, "layer2": 8, "layer3": 4, "layer4": 2}[sys.argv[2]]
assert o["layer"] == sys.argv[2] and o["method"] == "gradcam"
assert len(o["map"]) == n and all(len(r) == n for r in o["map"]), "map is at the stage's resolution"
assert min(min(r) for r in o["map"]) >= 0
PYEOF
done
$DINET explain --model "$tmp/m.safetensors" --method cbam --layer layer2 --class abnormal_c --json --png "$tmp/o.png" "$tmp/img1.png" > "$tmp/e2.json"
check "explain cbam with class and png" $PY -c "
import json; from PIL import Image
o=json.load(open('$tmp/e2.json')); assert o['class']=='abnormal_c' and len(o['map'])==8
assert all(0 < v < 1 for r in o['map'] for v in r), 'sigmoid attention'
im=Image.open('$tmp/o.png'); assert im.size==(200,120)"
$DINET explain --model "$tmp/m.safetensors" --class nosuch "$tmp/img0.png" 2> "$tmp/e.err"
check "unknown class is an error" test $? -eq 1
check "unknown class message" grep -q nosuch "$tmp/e.err"
$DINET explain --model "$tmp/m.safetensors" --layer layer9 "$tmp/img0.png" 2>/dev/null
check "bad layer is an error" test $? -eq 1

# info
$DINET info --model "$tmp/m.safetensors" --json > "$tmp/i.json"
check "info JSON" $PY -c "
import json; o=json.load(open('$tmp/i.json'))
assert o['arch']=='cbam_resnet50' and o['classes']==['normal_a','abnormal_b','abnormal_c']
assert 25_000_000 < o['parameters'] < 30_000_000, o['parameters']
assert o['metadata']['input_size']=='64'"

# hostile model files
printf 'not a model' > "$tmp/bad.safetensors"
$DINET classify --model "$tmp/bad.safetensors" "$tmp/img0.png" 2> "$tmp/b.err"
check "bad model exits 1" test $? -eq 1
check "bad model: one line naming the file" bash -c "[ \$(wc -l < '$tmp/b.err') -eq 1 ] && grep -q bad.safetensors '$tmp/b.err'"
head -c 5000 "$tmp/m.safetensors" > "$tmp/trunc.safetensors"
$DINET info --model "$tmp/trunc.safetensors" 2>/dev/null
check "truncated model exits 1" test $? -eq 1

# bench runs (no timing asserted)
$DINET bench --size 32 --batch 2 --iters 1 --threads 1 --json > "$tmp/b.json"
check "bench JSON" $PY -c "import json; o=json.load(open('$tmp/b.json')); assert o['median_s']>0"
# explanation vs forward in turns: pairs, a ratio, the method and layer echoed
$DINET bench --size 64 --iters 3 --threads 1 --explain layercam --layer layer3 --json > "$tmp/e.json"
check "bench --explain JSON" $PY -c "import json; o=json.load(open('$tmp/e.json')); assert o['what']=='explain-paired' and o['method']=='layercam' and o['layer']==3 and o['pairs']==3 and o['ratio_min']<=o['ratio_median']<=o['ratio_max'] and o['ratio_min']>0 and o['faithfulness'] is False"
$DINET bench --size 64 --iters 2 --threads 1 --explain gradcam --faithfulness --json > "$tmp/f.json"
check "bench --explain --faithfulness JSON" $PY -c "import json; o=json.load(open('$tmp/f.json')); assert o['faithfulness'] is True and o['explain_median_s']>0"
$DINET bench --size 64 --iters 2 --explain gradcam --batch 2 2>/dev/null
check "bench --explain with --batch exits 1" test $? -eq 1
$DINET bench --size 64 --iters 2 --explain nosuchmethod 2>/dev/null
check "bench --explain unknown method exits 1" test $? -eq 1
$DINET bench --size 64 --iters 2 --layer layer3 2>/dev/null
check "bench --layer without --explain exits 1" test $? -eq 1
$DINET nosuchcommand 2>/dev/null
check "unknown command exits 1" test $? -eq 1

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
