#!/usr/bin/env python3
"""explain_conformance.py — `dinet explain` methods against PyTorch.

Random-weight resnet50 and cbam_resnet50 models from tests/torch_ref.py,
written as model files; test images exactly 64 x 64 (so preprocessing is
only (v / 255 - mean) / std). For each, `dinet explain --json` must give
the maps of a PyTorch reference written here:

  - Grad-CAM++ (pytorch-grad-cam's closed form: alpha = g^2 / (2 g^2 +
    sum(A) g^3 + 1e-6), 0 where g = 0; w = sum relu(g) alpha),
  - HiResCAM (relu(sum_c g * A)), LayerCAM (relu(sum_c relu(g) * A)),
  - counterfactual Grad-CAM (w = mean(-dS/dA)),
  - the LayerCAM fusion of layer2..4 (min-max normalised after ReLU,
    F.interpolate bilinear to layer2, element-wise max),
  - the 8-view dihedral TTA of LayerCAM (each view's map flipped and
    transposed back),
with max |diff| <= 1e-2 * max(map) (a map PyTorch finds all zero must be
~0 in dinet too, and flagged "no_positive_evidence"); and --faithfulness
must give PyTorch's deletion/insertion AUC (Gaussian-blur baseline, sigma
5% of the side) and average drop within 2e-3.

Environment: DINET (the dinet binary; meson sets it), SOURCE_ROOT.
Exits 77 when torch, numpy or PIL cannot be imported. Prints
"N passed, N failed" at the end.
"""
import json
import math
import os
import subprocess
import sys
import tempfile
import time

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
    from PIL import Image
except Exception as e:  # noqa: BLE001 - any import failure means "skip"
    print("explain_conformance: SKIP: cannot import torch/numpy/PIL (%s: %s)"
          % (type(e).__name__, e))
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.environ.get("SOURCE_ROOT") or os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests"))
sys.path.insert(0, HERE)
import torch_ref  # noqa: E402

CAM_REL_TOL = 1e-2
FAITH_TOL = 2e-3
LOGIT_TOL = 1e-3
K = 4
CLASSES = ["normal", "benign", "atypical", "malignant"]
MEAN = [0.49, 0.44, 0.36]
STD = [0.23, 0.25, 0.21]
S = 64

passed = 0
failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
    print("%s  %s%s" % ("ok  " if ok else "FAIL", name, ("  (" + detail + ")") if detail else ""))
    sys.stdout.flush()
    return ok


def find_dinet():
    d = os.environ.get("DINET")
    if d:
        return d
    for cand in ("build/engine/dinet", "build-x/engine/dinet"):
        p = os.path.join(SOURCE_ROOT, cand)
        if os.access(p, os.X_OK):
            return p
    return None


DINET = find_dinet()


def run_dinet(args):
    p = subprocess.run([DINET] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=300)
    out = None
    if p.returncode == 0:
        try:
            out = json.loads(p.stdout)
        except ValueError as e:
            print("  bad JSON (%s): %.200s" % (e, p.stdout))
    else:
        print("  dinet %s failed (rc %d): %s" % (" ".join(args), p.returncode, p.stderr.strip()))
    return p.returncode, out


def arr(v):
    return np.array(v if v is not None else [], dtype=np.float64)


def maxdiff(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return float("inf")
    d = np.abs(a - b)
    return float("inf") if np.isnan(d).any() else float(d.max(initial=0.0))


def make_image(rng):
    yy, xx = np.mgrid[0:S, 0:S].astype(np.float64)
    chans = []
    for _ in range(3):
        v = np.full((S, S), rng.uniform(60, 190))
        for _ in range(3):
            fx, fy = rng.uniform(0.02, 0.3, 2)
            v += rng.uniform(20, 60) * np.sin(fx * xx + rng.uniform(0, 6)) * \
                np.cos(fy * yy + rng.uniform(0, 6))
        cx, cy, r = rng.uniform(0, S), rng.uniform(0, S), rng.uniform(4, 14)
        v += rng.uniform(-120, 120) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
        v += rng.normal(0, 12, (S, S))
        chans.append(v)
    return np.clip(np.rint(np.stack(chans, -1)), 0, 255).astype(np.uint8)


def torch_input(path):
    v = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)
    x = (v / np.float32(255.0) - np.array(MEAN, np.float32)) / np.array(STD, np.float32)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]


def make_model(arch, seed):
    m = torch_ref.ResNet50(K, arch == "cbam_resnet50")
    torch_ref.randomize(m, seed)
    m.eval()
    for p in m.parameters():
        p.requires_grad_(False)
    return m


# ---- PyTorch references -------------------------------------------------------

def stage_ag(model, x, target, sign=1.0):
    """Logits, and per stage (A, dS/dA) of image 0 as float64 C x H x W."""
    x = x.clone().requires_grad_(True)
    logits, feats = model(x, keep=True)
    (sign * logits[0, target]).backward()
    ag = {s: (feats[s].detach()[0].double(), feats[s].grad[0].double()) for s in range(1, 5)}
    return logits.detach()[0].double().numpy(), ag


def cam(method, A, G):
    """(map, pre-ReLU scale) of one method from A, G."""
    if method == "gradcam++":
        g2 = G * G
        g3 = g2 * G
        sa = A.sum((1, 2))[:, None, None]
        a = g2 / (2 * g2 + sa * g3 + 1e-6)
        a = torch.where(G != 0, a, torch.zeros_like(a))
        w = (G.clamp(min=0) * a).sum((1, 2))
        pre = (w[:, None, None] * A).sum(0)
    elif method == "hirescam":
        pre = (G * A).sum(0)
    elif method == "layercam":
        pre = (G.clamp(min=0) * A).sum(0)
    elif method in ("gradcam", "counterfactual"):  # G already negated for counterfactual
        pre = (G.mean((1, 2))[:, None, None] * A).sum(0)
    else:
        raise ValueError(method)
    return pre.clamp(min=0).numpy(), float(pre.abs().max())


def normalize(m):
    """dinet_map_normalize: ReLU, min-max; zeros without positive evidence."""
    m = np.maximum(np.asarray(m, dtype=np.float64), 0)
    mn, mx = m.min(), m.max()
    if not mx > 0 or mx - mn < 1e-6 * mx:
        return np.zeros_like(m), True
    return (m - mn) / (mx - mn), False


def upsample(m, h, w):
    t = torch.from_numpy(np.asarray(m, dtype=np.float64))[None, None]
    return F.interpolate(t, size=(h, w), mode="bilinear", align_corners=False)[0, 0].numpy()


def fusion_ref(ag):
    parts = []
    h2, w2 = ag[2][0].shape[1:]
    for s in (2, 3, 4):
        m, _ = cam("layercam", *ag[s])
        parts.append(upsample(normalize(m)[0], h2, w2))
    return np.maximum(np.maximum(parts[0], parts[1]), parts[2])


def view(x, d):
    if d & 4:
        x = x.transpose(-2, -1)
    if d & 1:
        x = x.flip(-1)
    if d & 2:
        x = x.flip(-2)
    return x


def unview(m, d):
    if d & 2:
        m = m.flip(-2)
    if d & 1:
        m = m.flip(-1)
    if d & 4:
        m = m.transpose(-2, -1)
    return m


def tta_ref(model, x, method, stage, target):
    acc = None
    for d in range(8):
        _, ag = stage_ag(model, view(x, d), target)
        m, _ = cam(method, *ag[stage])
        m = unview(torch.from_numpy(m), d).numpy()
        acc = m if acc is None else acc + m
    return acc / 8


def probs(model, xs):
    with torch.no_grad():
        return torch.softmax(model(xs).double(), 1).numpy()


def blur_ref(x, sigma):
    r = int(math.ceil(3 * sigma))
    k = np.exp(-np.arange(-r, r + 1) ** 2 / (2 * sigma * sigma))
    k = torch.from_numpy(k / k.sum()).float()
    c = x.shape[1]
    xp = F.pad(x, (r, r, 0, 0), mode="replicate")
    y = F.conv2d(xp, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    yp = F.pad(y, (0, 0, r, r), mode="replicate")
    return F.conv2d(yp, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def faith_ref(model, x, m, target, steps=20, sigma_frac=0.05):
    h, w = x.shape[2:]
    hw = h * w
    up = upsample(m, h, w).reshape(-1)
    order = np.argsort(-up, kind="stable")
    base = blur_ref(x, np.float32(sigma_frac) * np.float32(max(h, w)))
    xf, bf = x.reshape(1, 3, -1), base.reshape(1, 3, -1)
    dele, ins = [], []
    for k in range(steps + 1):
        n = (2 * k * hw + steps) // (2 * steps)
        idx = torch.from_numpy(order[:n].copy())
        d = xf.clone()
        d[:, :, idx] = bf[:, :, idx]
        i = bf.clone()
        i[:, :, idx] = xf[:, :, idx]
        dele.append(d.reshape(1, 3, h, w))
        ins.append(i.reshape(1, 3, h, w))
    mask = torch.from_numpy(upsample(normalize(m)[0], h, w)).float()
    pd = probs(model, torch.cat(dele))[:, target]
    pi = probs(model, torch.cat(ins))[:, target]
    pm = probs(model, x * mask)[0, target]
    auc = lambda s: float(sum((s[k] + s[k + 1]) / 2 for k in range(steps)) / steps)
    p = pd[0]
    return {"deletion_auc": auc(pd), "insertion_auc": auc(pi),
            "average_drop": max(0.0, p - pm) / p, "increase_in_confidence": float(pm > p)}


# ---- checks ---------------------------------------------------------------------------

def compare(name, out, ref, scale, target, zt, method, layer):
    m = arr(out.get("map"))
    mx = float(np.max(ref, initial=0.0))
    if mx > 1e-6 * max(scale, 1e-30):
        tol, what = CAM_REL_TOL * mx, "max(map) %.3g" % mx
        flag_ok = out.get("no_positive_evidence") is False
    else:
        tol, what = CAM_REL_TOL * max(scale, 1e-12), "all-zero map, scale %.3g" % scale
        flag_ok = out.get("no_positive_evidence") is True
    d = maxdiff(m, ref)
    ok = d <= tol and flag_ok
    ok &= out.get("class_index") == target and out.get("class") == CLASSES[target]
    ok &= out.get("method") == method and out.get("layer") == layer
    dz = maxdiff(arr(out.get("logits")), zt)
    ok &= dz <= LOGIT_TOL
    check(name, ok, "map %s vs %s, max|diff| %.3g, tol %.3g, %s; flag %s; logits %.3g"
          % ("x".join(map(str, m.shape)), "x".join(map(str, np.shape(ref))), d, tol, what,
             out.get("no_positive_evidence"), dz))


def explain(mpath, img, method, layer, extra=()):
    rc, out = run_dinet(["explain", "--model", mpath, "--method", method, "--layer", layer,
                         "--json", "--threads", "1"] + list(extra) + [img])
    return out if rc == 0 and isinstance(out, dict) else None


def check_model(tag, arch, seed, img, layers, tmp):
    model = make_model(arch, seed)
    mpath = os.path.join(tmp, tag + ".safetensors")
    torch_ref.save_model(mpath, model, arch, CLASSES, S, MEAN, STD)
    x = torch_input(img)
    with torch.no_grad():
        zt = model(x)[0].double().numpy()
    order = list(np.argsort(-zt))
    for which, target in (("top", int(order[0])), ("other", int(order[2]))):
        _, ag = stage_ag(model, x, target)
        _, agn = stage_ag(model, x, target, sign=-1.0)
        extra = [] if which == "top" else ["--class", CLASSES[target]]
        methods = ("gradcam++", "hirescam", "layercam") if which == "top" else \
            ("gradcam++", "hirescam", "layercam", "counterfactual")
        for s in layers:
            for method in methods:
                out = explain(mpath, img, method, "layer%d" % s, extra)
                name = "%s %s layer%d class %s (%s)" % (tag, method, s, CLASSES[target], which)
                if not check(name + " runs", out is not None):
                    continue
                ref, scale = cam(method, *(agn if method == "counterfactual" else ag)[s])
                compare(name, out, ref, scale, target, zt, method, "layer%d" % s)
        out = explain(mpath, img, "layercam-fusion", "layer4", extra)
        name = "%s layercam-fusion class %s (%s)" % (tag, CLASSES[target], which)
        if check(name + " runs", out is not None):
            compare(name, out, fusion_ref(ag), 1.0, target, zt, "layercam-fusion",
                    "layer2+layer3+layer4")
    # dihedral TTA of LayerCAM at layer3, top class
    target = int(order[0])
    out = explain(mpath, img, "layercam", "layer3", ["--smooth"])
    name = "%s layercam layer3 --smooth" % tag
    if check(name + " runs", out is not None):
        ref = tta_ref(model, x, "layercam", 3, target)
        compare(name, out, ref, float(np.abs(ref).max()), target, zt, "layercam", "layer3")
        check(name + " smoothed flag", out.get("smoothed") is True)
    # faithfulness of Grad-CAM++ at layer3
    out = explain(mpath, img, "gradcam++", "layer3", ["--faithfulness"])
    name = "%s gradcam++ layer3 --faithfulness" % tag
    if check(name + " runs", out is not None and isinstance(out.get("faithfulness"), dict)):
        _, ag = stage_ag(model, x, target)
        fr = faith_ref(model, x, arr(out["map"]), target)  # dinet's map: only the metric
        got = out["faithfulness"]
        for key in ("deletion_auc", "insertion_auc", "average_drop", "increase_in_confidence"):
            v = got.get(key)
            check("%s %s" % (name, key), v is not None and abs(v - fr[key]) <= FAITH_TOL,
                  "dinet %s, torch %.6f" % (v, fr[key]))
    del model
    os.unlink(mpath)


def main():
    if not DINET or not os.access(DINET, os.X_OK):
        print("explain_conformance: SKIP: no dinet binary (set DINET=path/to/dinet)")
        return 77
    torch.set_num_threads(1)
    t0 = time.time()
    print("dinet: %s, torch %s" % (DINET, torch.__version__))
    rng = np.random.RandomState(4242)
    with tempfile.TemporaryDirectory(prefix="dinet-explain-") as tmp:
        imgs = []
        for i in range(2):
            p = os.path.join(tmp, "img%d.png" % i)
            Image.fromarray(make_image(rng), "RGB").save(p)
            imgs.append(p)
        check_model("cbam@64", "cbam_resnet50", 505, imgs[0], (1, 2, 3, 4), tmp)
        check_model("resnet50@64", "resnet50", 606, imgs[1], (3, 4), tmp)
    print("%.1f s" % (time.time() - t0))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
