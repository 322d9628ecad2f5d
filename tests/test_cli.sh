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
# dinet COMMAND --help / -h: that command's usage (exit 0), naming every
# option the command parses; the general usage names them all too
opts_classify="--model --json --tta --no-tta --threads"
opts_explain="--model --method --layer --class --smooth --faithfulness --json --png --colormap --opacity --block --topk --channels --fusion --batch --threads"
opts_info="--model --json"
opts_init="--out --classes --arch --size --seed --abnormal"
opts_bench="--model --arch --classes --batch --size --threads --iters --gradcam --train --explain --layer --faithfulness --json"
opts_train="--data --out --val --val-split --group-by --resume --init --alpha --abnormal --balance --quiet --arch --loss --optimizer --size --epochs --batch --threads --max-steps --eval-every --seed --split-seed --gamma --lr --weight-decay --center-crop --warmup --scale-min --jitter --mixup"
opts_cv="--folds $opts_train"
opts_eval="--model --data --list --exclude --json --tta --no-tta --threads"
opts_calibrate="--model --data --list --out --dtype --tta --no-tta --threads"
names_opts() { # names_opts FILE OPTION...: every OPTION appears in FILE as a whole word
  local f=$1 o; shift
  for o in "$@"; do grep -Eq -- "$o([^a-z0-9-]|\$)" "$f" || { echo "missing $o" >&2; return 1; }; done
}
"$DINET" --help > "$tmp/usage.txt"
for c in classify explain info init bench train cv eval calibrate; do
  "$DINET" $c --help > "$tmp/h.txt"
  check "$c --help exits 0" test $? -eq 0
  check "$c --help prints its own usage" grep -q "^usage: dinet $c " "$tmp/h.txt"
  check "$c -h prints the same" sh -c "\"$DINET\" $c -h | cmp -s - '$tmp/h.txt'"
  eval "opts=\$opts_$c"
  check "$c --help names its options" names_opts "$tmp/h.txt" $opts
  [ $c = cv ] || [ $c = train ] || check "the usage names $c's options" names_opts "$tmp/usage.txt" $opts
  cat "$tmp/h.txt" >> "$tmp/all-help.txt"
done
# every option the sources parse is in some command's help (a new option
# must be documented)
src=${SOURCE_ROOT:-.}/engine/cli
parsed=$(grep -oh 'cli_opt([^"]*"--[a-z0-9-]*' "$src"/*.c | grep -o -- '--[a-z0-9-]*' | sort -u)
check "sources parse options (found $(echo $parsed | wc -w))" test "$(echo $parsed | wc -w)" -gt 40
check "every parsed option is in a command's help" names_opts "$tmp/all-help.txt" $parsed
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
    assert set(o) >= {"image", "class", "probabilities", "logits", "size_fit"}
    assert o["size_fit"] == "fits", "a model without data.image_side: every image fits"
    assert o["view_classes"] == [o["class"]] and o["views_agree"] == 1, "one view: it agrees"
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

# the screening flag, as eval counts it and the viewer shows it: the text
# line and --json carry P(abnormal) (the sum of the abnormal classes'
# probabilities) and "suspicious" when it is >= 0.5, for a grouped model only
$DINET init --out "$tmp/typo.safetensors" --classes normal_a,abnormal_b --abnormal abnormal_x 2> "$tmp/typo.err" && rc=0 || rc=$?
check "init refuses an --abnormal name that is not a class" test $rc -eq 1
check "... naming it" grep -q abnormal_x "$tmp/typo.err"
check "... and writes no model" test ! -e "$tmp/typo.safetensors"
$DINET init --out "$tmp/m1.safetensors" --classes normal_a,abnormal_b,abnormal_c --abnormal abnormal_c --size 64 --seed 3
$DINET init --out "$tmp/m0.safetensors" --classes normal_a,abnormal_b,abnormal_c --size 64 --seed 3
for m in m m1 m0; do
  $DINET classify --model "$tmp/$m.safetensors" $imgs > "$tmp/$m.txt"
  $DINET classify --model "$tmp/$m.safetensors" --json $imgs > "$tmp/$m.json"
done
check "classify --json is valid JSON" $PY -m json.tool "$tmp/m.json" /dev/null
check "classify: text line and JSON carry the screening flag" $PY - "$tmp" $imgs <<'PYEOF'
import json, re, sys
d, imgs = sys.argv[1], sys.argv[2:]
names = ["normal_a", "abnormal_b", "abnormal_c"]
groups = {"m": {"abnormal_b", "abnormal_c"}, "m1": {"abnormal_c"}, "m0": None}
flags = set()
for m, ab in groups.items():
    lines = open(f"{d}/{m}.txt", encoding="utf-8").read().splitlines()
    js = json.load(open(f"{d}/{m}.json"))
    assert len(lines) == len(js) == len(imgs), m
    for line, o, img in zip(lines, js, imgs):
        p = o["probabilities"]
        top = max(range(3), key=lambda j: p[j])
        assert o["image"] == img and o["top"] == o["class"] == names[top], o
        assert [c["name"] for c in o["classes"]] == names, o["classes"]
        assert [c["probability"] for c in o["classes"]] == p
        assert o["views"] == 1 and len(o["logits"]) == 3
        head = "%s: %s (%.1f%%)" % (img, names[top], 100 * p[top])
        if ab is None:
            assert "p_abnormal" not in o and "suspicious" not in o, o
            assert all("abnormal" not in c for c in o["classes"])
            assert line == head, line
            continue
        assert [c["abnormal"] for c in o["classes"]] == [n in ab for n in names]
        pab = sum(p[j] for j in range(3) if names[j] in ab)
        assert abs(o["p_abnormal"] - pab) < 1e-6, (o["p_abnormal"], pab)
        assert o["suspicious"] is (pab >= 0.5), o
        flags.add(o["suspicious"])
        r = re.fullmatch(re.escape(head) + r" (normal|abnormal) · P\(abnormal\) ([0-9.]+)%( suspicious)?", line)
        assert r, line
        assert r.group(1) == ("abnormal" if names[top] in ab else "normal"), line
        assert abs(float(r.group(2)) - 100 * pab) <= 0.05 + 1e-6, (line, pab)
        assert bool(r.group(3)) is o["suspicious"], line
assert flags == {True, False}, "both a suspicious and an unflagged image: %s" % flags
PYEOF

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
# each view's own top class, in the views' order, and how many give the mean's
assert t["view_classes"] == [v["class"] for v in views], (t["view_classes"], [v["class"] for v in views])
assert t["views_agree"] == sum(v["class"] == t["class"] for v in views)
PYEOF

# eval: the views used and a labelled confusion matrix; --json keeps its keys
mkdir -p "$tmp/data/normal_a" "$tmp/data/abnormal_b" "$tmp/data/abnormal_c"
cp "$tmp/img0.png" "$tmp/view1.png" "$tmp/data/normal_a/"
cp "$tmp/img1.png" "$tmp/img2.png" "$tmp/data/abnormal_b/"
cp "$tmp/img3.png" "$tmp/view2.png" "$tmp/view3.png" "$tmp/data/abnormal_c/"
$DINET eval --model "$tmp/m.safetensors" --data "$tmp/data" > "$tmp/ev1.txt"
check "eval exits 0" test $? -eq 0
check "eval says one view" grep -qx "views: 1" "$tmp/ev1.txt"
$DINET eval --model "$tmp/m.safetensors" --data "$tmp/data" --tta > "$tmp/ev8.txt"
check "eval --tta says 8 dihedral views" grep -q "^views: 8 (dihedral" "$tmp/ev8.txt"
check "eval labels the confusion matrix" grep -q "rows: true class, columns: predicted" "$tmp/ev1.txt"
$DINET eval --model "$tmp/m.safetensors" --data "$tmp/data" --json > "$tmp/ev1.json"
check "eval: numbered columns and rows, the counts of --json" $PY - "$tmp/ev1.txt" "$tmp/ev1.json" <<'PYEOF'
import json, re, sys
t = open(sys.argv[1]).read().splitlines(); o = json.load(open(sys.argv[2]))
i = next(i for i, l in enumerate(t) if l.startswith("confusion"))
assert t[i + 1].split() == ["0", "1", "2"], t[i + 1]
names = ["normal_a", "abnormal_b", "abnormal_c"]
for r in range(3):
    f = t[i + 2 + r].split()
    assert f[:2] == [str(r), names[r]] and [int(v) for v in f[2:]] == o["confusion"][r], t[i + 2 + r]
assert len(t) == i + 5
# the existing keys stay; views is added
assert set(o) >= {"images", "accuracy", "balanced_accuracy", "macro_f1", "nll", "ece",
                  "abnormal_sensitivity", "specificity", "binary_accuracy", "flag_sensitivity",
                  "flag_specificity", "flag_accuracy", "classes", "confusion"}, o.keys()
assert o["images"] == 7 and o["views"] == 1
PYEOF
printf 'normal_a/img0.png\nabnormal_c/img3.png\n' > "$tmp/list.txt"
$DINET eval --model "$tmp/m.safetensors" --data "$tmp/data" --list "$tmp/list.txt" --tta --json > "$tmp/ev8.json"
check "eval --list --tta --json" $PY -c "import json; o=json.load(open('$tmp/ev8.json')); assert o['images']==2 and o['views']==8, o"
$DINET calibrate --model "$tmp/m.safetensors" --data "$tmp/data" --out "$tmp/c.safetensors" --dtype f8 2> "$tmp/cal.err"
check "calibrate --dtype f8 is an error" test $? -eq 1
check "calibrate --dtype message" grep -q "dtype" "$tmp/cal.err"

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
