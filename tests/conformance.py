#!/usr/bin/env python3
"""conformance.py — libdinet (through the dinet CLI) against PyTorch.

Builds random-weight resnet50 and cbam_resnet50 models with the PyTorch
reference (tests/torch_ref.py), writes them as model files, writes test
images as PNG and checks that

  - `dinet classify --json` gives PyTorch's logits (max abs diff <= 1e-3);
  - `dinet explain --method gradcam` gives PyTorch's Grad-CAM at layer1..4,
    for the top class and for another class given with --class
    (max abs diff <= 1e-2 * max(map); a map PyTorch finds all zero must be
    ~0 in dinet too);
  - `dinet explain --method cbam` gives the SpatialGate sigmoid of the last
    block of the stage (max abs diff <= 1e-3); resnet50 refuses it;
  - an F16 model file gives the logits of the F16-rounded PyTorch model;
  - a non-square source image is resized as Pillow's BILINEAR resize does.

Images are written at exactly input_size x input_size (except the resize
case), so preprocessing is only (v / 255 - mean) / std, with non-trivial
mean and std in the metadata.

Environment: DINET (the dinet binary; meson sets it), SOURCE_ROOT.
Exits 77 (meson's "skipped") when torch, numpy or PIL cannot be imported,
1 when a check fails. Prints "N passed, N failed" at the end.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

try:
    import numpy as np
    import torch
    from PIL import Image
except Exception as e:  # noqa: BLE001 - any import failure means "skip"
    print("conformance: SKIP: cannot import torch/numpy/PIL (%s: %s); "
          "install python3-torch (Debian) to run the PyTorch conformance test"
          % (type(e).__name__, e))
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.environ.get("SOURCE_ROOT") or os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests"))
sys.path.insert(0, HERE)
import torch_ref  # noqa: E402

LOGIT_TOL = 1e-3          # absolute, logits
CAM_REL_TOL = 1e-2        # relative to max(map), Grad-CAM
CBAM_TOL = 1e-3           # absolute, sigmoid maps in (0, 1)
K = 5
CLASSES = ["normal", "benign", "atypical", "malignant", "other"]
MEAN = [0.52, 0.41, 0.33]
STD = [0.21, 0.27, 0.19]

passed = 0
failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok    %s%s" % (name, ("  (" + detail + ")") if detail else ""))
    else:
        failed += 1
        print("FAIL  %s%s" % (name, ("  (" + detail + ")") if detail else ""))
    sys.stdout.flush()
    return ok


def find_dinet():
    d = os.environ.get("DINET")
    if d:
        return d
    for cand in ("build/engine/dinet", "build/dinet"):
        p = os.path.join(SOURCE_ROOT, cand)
        if os.access(p, os.X_OK):
            return p
    return None


DINET = find_dinet()


def run_dinet(args, expect_ok=True):
    """Runs dinet; returns (rc, parsed JSON or None, stderr)."""
    p = subprocess.run([DINET] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=300)
    out = None
    if p.returncode == 0:
        try:
            out = json.loads(p.stdout)
        except ValueError as e:
            print("  dinet %s: bad JSON (%s): %.200s" % (" ".join(args[:2]), e, p.stdout))
    elif expect_ok:
        print("  dinet %s failed (rc %d): %s" % (" ".join(args), p.returncode, p.stderr.strip()))
    return p.returncode, out, p.stderr


def arr(v):
    """JSON numbers (null for non-finite) to a float64 array."""
    return np.array(v if v is not None else [], dtype=np.float64)


def maxdiff(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return float("inf")
    d = np.abs(a - b)
    return float("inf") if np.isnan(d).any() else float(d.max(initial=0.0))


# ---- model files ------------------------------------------------------------

ST_DTYPES = {torch.float32: ("F32", "<f4"), torch.float16: ("F16", "<f2"),
             torch.int64: ("I64", "<i8")}


def save_safetensors_dtype(path, tensors, metadata, dtype):
    """torch_ref.save_safetensors with floating tensors stored as dtype
    (torch.float32 or torch.float16); integer tensors (num_batches_tracked)
    keep their own dtype, as the safetensors package would write them."""
    header = {"__metadata__": metadata}
    offset = 0
    blobs = []
    for name, t in tensors.items():
        t = t.detach().contiguous()
        t = t.to(dtype) if t.is_floating_point() else t.to(torch.int64)
        code, npt = ST_DTYPES[t.dtype]
        b = t.numpy().astype(npt).tobytes()
        header[name] = {"dtype": code, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - (len(h) + 8) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def make_model(arch, seed):
    m = torch_ref.ResNet50(K, arch == "cbam_resnet50")
    torch_ref.randomize(m, seed)
    m.eval()
    for p in m.parameters():  # Grad-CAM differentiates w.r.t. activations only
        p.requires_grad_(False)
    return m


def write_model(path, model, arch, size):
    torch_ref.save_model(path, model, arch, CLASSES, size, MEAN, STD)


def metadata(arch, size):
    return {"arch": arch, "classes": json.dumps(CLASSES), "input_size": str(size),
            "mean": json.dumps(MEAN), "std": json.dumps(STD)}


# ---- images -------------------------------------------------------------------

def make_image(rng, w, h, gray=False):
    """Smooth structure (sinusoids, blobs), noise and some saturated pixels."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    chans = []
    for _ in range(1 if gray else 3):
        v = np.full((h, w), rng.uniform(60, 190))
        for _ in range(3):
            fx, fy = rng.uniform(0.02, 0.3, 2)
            v += rng.uniform(20, 60) * np.sin(fx * xx + rng.uniform(0, 6)) * \
                np.cos(fy * yy + rng.uniform(0, 6))
        for _ in range(2):
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)
            r = rng.uniform(3, max(4, min(w, h) / 3))
            v += rng.uniform(-120, 120) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
        v += rng.normal(0, 12, (h, w))
        chans.append(v)
    a = np.clip(np.rint(np.stack(chans, -1)), 0, 255).astype(np.uint8)
    return a[:, :, 0] if gray else a


def write_png(path, a):
    Image.fromarray(a, "L" if a.ndim == 2 else "RGB").save(path)


def torch_input(path, size):
    """The PNG as dinet preprocesses it: Pillow BILINEAR resize when the size
    differs, then (v / 255 - mean) / std in float32."""
    im = Image.open(path).convert("RGB")
    if im.size != (size, size):
        im = im.resize((size, size), Image.BILINEAR)
    v = np.asarray(im, dtype=np.float32)
    mean = np.array(MEAN, dtype=np.float32)
    std = np.array(STD, dtype=np.float32)
    x = (v / np.float32(255.0) - mean) / std
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]


# ---- PyTorch references ----------------------------------------------------------

def torch_logits(model, x):
    with torch.no_grad():
        return model(x)[0].double().numpy()


def torch_gradcam(model, x, target):
    """Grad-CAM of logit[target] at every stage: maps {stage: (map, pre-ReLU
    scale)}, the logits, and the SpatialGate output of each stage's last
    block (CBAM models)."""
    x = x.clone().requires_grad_(True)  # weights need no gradient here
    logits, feats = model(x, keep=True)
    logits[0, target].backward()
    maps = {}
    for s in range(1, 5):
        A = feats[s].detach()[0].double()
        G = feats[s].grad[0].double()
        w = G.mean((1, 2))
        pre = (w[:, None, None] * A).sum(0)
        maps[s] = (pre.clamp(min=0).numpy(), float(pre.abs().max()))
    gates = {}
    for s in range(1, 5):
        blk = getattr(model, "layer%d" % s)[-1]
        if blk.cbam is not None:
            gates[s] = blk.cbam.SpatialGate.last.detach()[0, 0].double().numpy()
    return maps, logits.detach()[0].double().numpy(), gates


# ---- checks ------------------------------------------------------------------------

def check_classify(tag, mpath, model, imgs, size):
    rc, out, err = run_dinet(["classify", "--model", mpath, "--json"] + imgs)
    if not check("%s classify runs" % tag, rc == 0 and isinstance(out, list)
                 and len(out) == len(imgs), "rc %d %s" % (rc, err.strip()[:200])):
        return
    with torch.no_grad():  # one batch; eval-mode BN treats samples independently
        zall = model(torch.cat([torch_input(i, size) for i in imgs])).double().numpy()
    for img, r, zt in zip(imgs, out, zall):
        zd = arr(r.get("logits"))
        d = maxdiff(zd, zt)
        name = os.path.basename(img)
        check("%s classify %s logits" % (tag, name), d <= LOGIT_TOL,
              "max|diff| %.3g, max|logit| %.3g" % (d, np.abs(zt).max()))
        top = int(np.argmax(zt))
        check("%s classify %s class" % (tag, name), r.get("class") == CLASSES[top],
              "dinet %s, torch %s" % (r.get("class"), CLASSES[top]))
        p = arr(r.get("probabilities"))  # softmax of its own logits (temperature 1)
        pd = np.exp(zd - zd.max()) / np.exp(zd - zd.max()).sum() if zd.size else zd
        check("%s classify %s probabilities" % (tag, name), maxdiff(p, pd) <= 1e-6,
              "max|diff| from softmax(logits) %.3g" % maxdiff(p, pd))


def compare_cam(tag, out, ref_map, scale, zt, target):
    m = arr(out.get("map"))
    mx = float(ref_map.max(initial=0.0))
    if mx > 1e-6 * max(scale, 1e-30):
        tol = CAM_REL_TOL * mx
        what = "max(map) %.3g" % mx
    else:  # PyTorch's map is (all but) zero: dinet's must be too
        tol = CAM_REL_TOL * max(scale, 1e-12)
        what = "all-zero map, pre-ReLU scale %.3g" % scale
    d = maxdiff(m, ref_map)
    ok = d <= tol
    ok &= out.get("class_index") == target and out.get("class") == CLASSES[target]
    dz = maxdiff(arr(out.get("logits")), zt)
    ok &= dz <= LOGIT_TOL
    check(tag, ok, "map %s vs %s, max|diff| %.3g, tol %.3g, %s; class %s; logits %.3g"
          % ("x".join(map(str, m.shape)), "x".join(map(str, ref_map.shape)), d, tol, what,
             out.get("class_index"), dz))


def check_explain(tag, mpath, model, img, size, top_layers, other_layers, cbam_layers,
                  last_layers=()):
    """Grad-CAM of the top class (no --class) at top_layers, of the third
    class (--class NAME or INDEX) at other_layers, of the last class at
    last_layers (often a map with no positive evidence, all zero); CBAM maps
    at cbam_layers (for resnet50: checks that dinet refuses them)."""
    x = torch_input(img, size)
    zt = torch_logits(model, x)
    order = list(np.argsort(-zt))
    cbam = model.layer1[0].cbam is not None
    for which, layers in (("top", top_layers), ("other", other_layers), ("last", last_layers)):
        if not layers:
            continue
        target = int(order[{"top": 0, "other": 2, "last": -1}[which]])
        maps, zk, gates = torch_gradcam(model, x, target)
        check("%s torch logits with and without keep" % tag, maxdiff(zk, zt) <= 1e-5)
        for s in layers:
            args = ["explain", "--model", mpath, "--method", "gradcam", "--layer",
                    "layer%d" % s, "--json"]
            if which != "top":  # by name and by index
                args += ["--class", CLASSES[target] if s % 2 else str(target)]
            rc, out, err = run_dinet(args + [img])
            name = "%s gradcam layer%d class %s (%s)" % (tag, s, CLASSES[target], which)
            if not check(name + " runs", rc == 0 and isinstance(out, dict),
                         "rc %d %s" % (rc, err.strip()[:200])):
                continue
            compare_cam(name, out, maps[s][0], maps[s][1], zt, target)
        if which == "top" and cbam:
            for s in cbam_layers:
                rc, out, err = run_dinet(["explain", "--model", mpath, "--method", "cbam",
                                          "--layer", "layer%d" % s, "--json", img])
                name = "%s cbam layer%d" % (tag, s)
                if not check(name + " runs", rc == 0 and isinstance(out, dict),
                             "rc %d %s" % (rc, err.strip()[:200])):
                    continue
                m = arr(out.get("map"))
                d = maxdiff(m, gates[s])
                check(name, d <= CBAM_TOL, "map %s, max|diff| %.3g, range %.3g..%.3g"
                      % ("x".join(map(str, m.shape)), d, gates[s].min(), gates[s].max()))
    if not cbam:
        rc, out, err = run_dinet(["explain", "--model", mpath, "--method", "cbam", "--layer",
                                  "layer4", "--json", img], expect_ok=False)
        check("%s cbam refused without CBAM" % tag, rc != 0 and "CBAM" in err,
              "rc %d: %s" % (rc, err.strip()[:120]))


def main():
    if not DINET or not os.access(DINET, os.X_OK):
        print("conformance: SKIP: no dinet binary (set DINET=path/to/dinet)")
        return 77
    # One thread: the inputs are tiny, and torch's OpenMP threads slow down
    # by 10-50x when the machine is busy (e.g. meson running tests in parallel).
    torch.set_num_threads(1)
    t0 = time.time()
    print("dinet: %s, torch %s" % (DINET, torch.__version__))
    rng = np.random.RandomState(20240601)
    with tempfile.TemporaryDirectory(prefix="dinet-conformance-") as tmp:
        S = 64
        imgs = []
        for i in range(3):
            p = os.path.join(tmp, "rgb%d.png" % i)
            write_png(p, make_image(rng, S, S))
            imgs.append(p)
        p = os.path.join(tmp, "gray.png")
        write_png(p, make_image(rng, S, S, gray=True))
        imgs.append(p)

        # resnet50 at 64
        m = make_model("resnet50", 101)
        mp = os.path.join(tmp, "resnet50.safetensors")
        write_model(mp, m, "resnet50", S)
        check_classify("resnet50@64", mp, m, imgs, S)
        check_explain("resnet50@64", mp, m, imgs[0], S, (1, 2, 3, 4), (3,), (), (4,))
        del m
        os.unlink(mp)

        # cbam_resnet50 at 64, then the same weights in F16
        m = make_model("cbam_resnet50", 202)
        mp = os.path.join(tmp, "cbam.safetensors")
        write_model(mp, m, "cbam_resnet50", S)
        check_classify("cbam@64", mp, m, imgs, S)
        check_explain("cbam@64", mp, m, imgs[1], S, (1, 2, 3, 4), (1, 2, 3, 4), (1, 2, 3, 4))
        os.unlink(mp)

        sd = {k: (v.half().float() if v.is_floating_point() else v)
              for k, v in m.state_dict().items()}
        sd32 = m.state_dict()
        changed = max(float((v - sd32[k]).abs().max())
                      for k, v in sd.items() if v.is_floating_point())
        m.load_state_dict(sd)
        mp16 = os.path.join(tmp, "cbam-f16.safetensors")
        save_safetensors_dtype(mp16, m.state_dict(), metadata("cbam_resnet50", S),
                               torch.float16)
        with open(mp16, "rb") as f:
            hdr = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
        check("F16 file holds F16 tensors",
              hdr["conv1.weight"]["dtype"] == "F16" and changed > 0,
              "largest F16 rounding of a weight %.3g" % changed)
        check_classify("cbam@64 F16", mp16, m, imgs[:3], S)
        check_explain("cbam@64 F16", mp16, m, imgs[2], S, (4,), (), (4,))
        del m
        os.unlink(mp16)

        # cbam_resnet50 at 96, with a non-square source (Pillow BILINEAR resize)
        S = 96
        sq = os.path.join(tmp, "sq96.png")
        write_png(sq, make_image(rng, S, S))
        ns = os.path.join(tmp, "wide.png")
        write_png(ns, make_image(rng, 150, 83))
        m = make_model("cbam_resnet50", 303)
        mp = os.path.join(tmp, "cbam96.safetensors")
        write_model(mp, m, "cbam_resnet50", S)
        check_classify("cbam@96", mp, m, [sq, ns], S)
        check_explain("cbam@96", mp, m, sq, S, (4,), (2,), (3,), (4,))
        del m
    print("%.1f s" % (time.time() - t0))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
