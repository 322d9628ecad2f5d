#!/usr/bin/env python3
"""bench.py — libdinet (`dinet bench`) against PyTorch CPU, same machine, same run.

    /usr/bin/python3 bench/bench.py [--out results.json] [--quick] [options]

Cases (CBAM-ResNet50, --threads threads for both engines):
  forward   at --size (224), batches 1 and 16: dinet forward vs torch eval
            mode under torch.no_grad();
  gradcam   at --size, layer4, batches 1 and 16 (one image at a time, as
            `dinet bench --gradcam` does): dinet_gradcam vs torch forward
            with keep=True (retain_grad) + backward of one logit.
            "gradcam" has torch do the same work as dinet: the backward
            stops at layer4's output (parameters frozen, layer4's output
            made leaves by forward hooks). "gradcam-autograd" is the
            usual PyTorch recipe: parameters requiring gradients, so the
            backward runs through the whole network (weight gradients
            included) — what a plain PyTorch Grad-CAM costs in practice;
  train     at --train-size (128), batch --train-batch (16): forward in
            train mode, focal loss (gamma 2), backward, SGD step (momentum
            0.9, weight decay 1e-4) — dinet bench --train vs the same in torch.
  explain   explanation cost relative to a forward pass, measured in turns
            so that a busy machine slows both sides alike: one image at
            --size, forward and map alternating (the order too), the median
            of the per-pair ratios (`dinet bench --explain METHOD`): Grad-CAM,
            Grad-CAM++, HiResCAM, LayerCAM and counterfactual at layer4, the
            LayerCAM fusion (layer2-4), Score-CAM (64 channels, batches of
            16) and Grad-CAM + faithfulness (deletion and insertion, 20 steps
            each). PyTorch equivalents, timed the same way, where one is
            written here: Grad-CAM (the same work as dinet) and the LayerCAM
            fusion (backward to layer2's output only, parameters frozen).
Each case: one warm-up iteration, then --runs1 (batch 1) / --runs16 (other
batches) timed iterations; the median (the upper one for an even count, as
dinet bench reports) is the result; ms/image = median / batch.

Memory: peak RSS (max RSS via wait4) of `dinet classify` on one image at
--size with a CBAM-ResNet50 model file, of the same in a fresh PyTorch
process, and of every `dinet bench` process.

The environment (OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE, ...) is passed to
dinet unchanged. The machine should be quiet: the load average at the start
and at the end is recorded, and a warning printed when it is high.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))

K = 7  # dinet bench's default --classes
ARCH = "cbam_resnet50"


def median(ts):
    """Upper median, as dinet bench computes it (t[iters / 2] of the sorted)."""
    s = sorted(ts)
    return s[len(s) // 2]


# Runs argv[2:] and writes its max RSS (KiB) to argv[1]. A small process
# in between: a child's ru_maxrss includes the memory of the process it was
# forked (or vforked) from, and this one holds torch and a model.
RSS_WRAPPER = (
    "import resource, subprocess, sys\n"
    "rc = subprocess.call(sys.argv[2:])\n"
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
    "sys.exit(rc)\n")


def run_rusage(cmd):
    """Runs cmd; returns (rc, stdout, stderr, its max RSS in MiB)."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rf:
        p = subprocess.run([sys.executable, "-S", "-c", RSS_WRAPPER, rf.name] + cmd,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        txt = rf.read().strip()
    rss = int(txt) / 1024.0 if txt else float("nan")
    return p.returncode, p.stdout.decode(), p.stderr.decode(), rss


def find_dinet(arg):
    for d in (arg, os.environ.get("DINET"), os.path.join(ROOT, "build", "engine", "dinet")):
        if d and os.access(d, os.X_OK):
            return d
    sys.exit("bench.py: no dinet binary (build it, or give --dinet PATH)")


# ---- dinet ---------------------------------------------------------------

def dinet_bench(dinet, what, batch, size, threads, runs):
    cmd = [dinet, "bench", "--arch", ARCH, "--classes", str(K), "--batch", str(batch),
           "--size", str(size), "--threads", str(threads), "--iters", str(runs), "--json"]
    if what.startswith("gradcam"):
        cmd.append("--gradcam")
    elif what == "train":
        cmd.append("--train")
    rc, out, err, rss = run_rusage(cmd)
    if rc != 0:
        raise RuntimeError("%s: rc %d: %s" % (" ".join(cmd), rc, err.strip()))
    r = json.loads(out)
    r["max_rss_mib"] = rss
    r["cmd"] = " ".join(cmd[1:])
    return r


EXPLAIN_CASES = [  # (method, layer, faithfulness, pairs at --runs-explain scale)
    ("gradcam", 4, False, 1.0), ("gradcam++", 4, False, 1.0), ("hirescam", 4, False, 1.0),
    ("layercam", 4, False, 1.0), ("counterfactual", 4, False, 1.0),
    ("layercam-fusion", 4, False, 1.0), ("scorecam", 4, False, 0.2), ("gradcam", 4, True, 0.2),
]


def dinet_explain_paired(dinet, method, layer, faith, size, threads, pairs):
    cmd = [dinet, "bench", "--arch", ARCH, "--classes", str(K), "--size", str(size),
           "--threads", str(threads), "--iters", str(pairs), "--explain", method,
           "--layer", "layer%d" % layer, "--json"]
    if faith:
        cmd.append("--faithfulness")
    rc, out, err, rss = run_rusage(cmd)
    if rc != 0:
        raise RuntimeError("%s: rc %d: %s" % (" ".join(cmd), rc, err.strip()))
    r = json.loads(out)
    r["cmd"] = " ".join(cmd[1:])
    return r


def paired_ratios(fa, fb, pairs):
    """fa, fb timed in turns (order alternating); per-pair ratios tb/ta."""
    fa()
    fb()  # warm-up, excluded
    ta, tb, r = [], [], []
    for i in range(pairs):
        t = [0.0, 0.0]
        for k in range(2):
            which = (k + i + 1) & 1  # even pairs: fb first, as dinet bench --explain
            t0 = time.perf_counter()
            (fb if which else fa)()
            t[which] = time.perf_counter() - t0
        ta.append(t[0])
        tb.append(t[1])
        r.append(t[1] / t[0])
    return ta, tb, r


# ---- torch ---------------------------------------------------------------

class TorchBench:
    def __init__(self, threads):
        import torch
        import torch_ref
        self.torch, self.ref = torch, torch_ref
        torch.set_num_threads(threads)
        self.model = torch_ref.ResNet50(K, True)
        torch_ref.randomize(self.model, 1)
        self.model.eval()
        self.nn_f = torch.nn.functional

    def _time(self, fn, runs):
        fn()  # warm-up, excluded
        ts = []
        for _ in range(runs):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        return ts

    def forward(self, batch, size, runs):
        torch, m = self.torch, self.model
        m.eval()
        x = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(7))

        def step():
            with torch.no_grad():
                m(x)
        return self._time(step, runs)

    def gradcam(self, batch, size, runs, autograd_full):
        """Grad-CAM at layer4 of the top class, one image at a time."""
        torch, m = self.torch, self.model
        m.eval()
        x = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(7))
        for p in m.parameters():
            p.requires_grad_(autograd_full)
        hooks = []
        if not autograd_full:
            # Backward only as far as layer4's output, as dinet: every stage's
            # output becomes a leaf that requires grad (keep=True retains
            # grads at all four), so the graph from the logits ends at layer4.
            for s_ in range(1, 5):
                hooks.append(getattr(m, "layer%d" % s_).register_forward_hook(
                    lambda mod, inp, out: out.detach().requires_grad_(True)))

        def step():
            for b in range(batch):
                m.zero_grad(set_to_none=True)
                logits, feats = m(x[b:b + 1], keep=True)
                target = int(logits[0].argmax())
                logits[0, target].backward()
                a, g = feats[4].detach()[0], feats[4].grad[0]
                w = g.mean((1, 2))
                torch.relu((w[:, None, None] * a).sum(0))
        try:
            return self._time(step, runs)
        finally:
            for h in hooks:
                h.remove()
            for p in m.parameters():
                p.requires_grad_(True)

    def explain_paired(self, method, size, pairs):
        """One image's forward (no_grad) and map, in turns: (forward times,
        map times, ratios). The backward stops where dinet's does: at
        layer4's output (gradcam) or layer2's (layercam-fusion); parameters
        are frozen."""
        torch, m, F = self.torch, self.model, self.nn_f
        m.eval()
        x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(7))
        for p in m.parameters():
            p.requires_grad_(False)
        leaf = 4 if method == "gradcam" else 2

        def forward_keep():  # tests/torch_ref.py's forward, the graph cut at leaf
            z = F.max_pool2d(F.relu(m.bn1(m.conv1(x))), 3, 2, 1)
            feats = {}
            for s_ in range(1, 5):
                z = getattr(m, "layer%d" % s_)(z)
                if s_ == leaf:
                    z = z.detach().requires_grad_(True)
                if s_ >= leaf:
                    z.retain_grad()
                feats[s_] = z
            return m.fc(z.mean((2, 3))), feats

        def fwd():
            with torch.no_grad():
                m(x)

        def norm01(c):
            c = torch.relu(c)
            mx = c.max()
            return c / mx if mx > 0 else c

        def cam():
            logits, feats = forward_keep()
            target = int(logits[0].argmax())
            logits[0, target].backward()
            if method == "gradcam":
                a, g = feats[4].detach()[0], feats[4].grad[0]
                torch.relu((g.mean((1, 2))[:, None, None] * a).sum(0))
                return
            maps = []
            h2, w2 = feats[2].shape[2:]
            for s_ in (2, 3, 4):
                a, g = feats[s_].detach()[0], feats[s_].grad[0]
                c = norm01((torch.relu(g) * a).sum(0))[None, None]
                maps.append(F.interpolate(c, size=(h2, w2), mode="bilinear",
                                          align_corners=False)[0, 0])
            torch.stack(maps).max(0)
        try:
            return paired_ratios(fwd, cam, pairs)
        finally:
            for p in m.parameters():
                p.requires_grad_(True)

    def train(self, batch, size, runs):
        torch, m, F = self.torch, self.model, self.nn_f
        m.train()
        for p in m.parameters():
            p.requires_grad_(True)
        x = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(7))
        y = torch.arange(batch) % K
        opt = torch.optim.SGD(m.parameters(), lr=1e-4, momentum=0.9, weight_decay=1e-4)

        def step():
            opt.zero_grad(set_to_none=True)
            z = m(x)
            ce = F.cross_entropy(z, y, reduction="none")
            loss = ((1 - torch.exp(-ce)) ** 2 * ce).mean()  # focal loss, gamma 2
            loss.backward()
            opt.step()
        try:
            return self._time(step, runs)
        finally:
            m.eval()


# ---- memory --------------------------------------------------------------

TORCH_CLASSIFY = r"""
import sys, numpy as np, torch
from PIL import Image
sys.path.insert(0, sys.argv[1])
import torch_ref
torch.set_num_threads(int(sys.argv[4]))
m = torch_ref.ResNet50(%d, True)
torch_ref.randomize(m, 1)
m.eval()
x = np.asarray(Image.open(sys.argv[2]).convert("RGB"), dtype=np.float32) / 255.0
x = torch.from_numpy(((x - 0.5) / 0.25).transpose(2, 0, 1).copy())[None]
with torch.no_grad():
    print(m(x)[0].argmax().item())
""" % K


def memory(dinet, size, threads, tmp):
    import numpy as np
    import torch_ref
    from PIL import Image
    m = torch_ref.ResNet50(K, True)
    torch_ref.randomize(m, 1)
    model = os.path.join(tmp, "cbam.safetensors")
    torch_ref.save_model(model, m, ARCH, ["c%d" % i for i in range(K)], size,
                         [0.5, 0.5, 0.5], [0.25, 0.25, 0.25])
    del m
    img = os.path.join(tmp, "img.png")
    rng = np.random.RandomState(3)
    Image.fromarray(rng.randint(0, 256, (size, size, 3), dtype=np.uint8)).save(img)
    res = {"model_file_mib": os.path.getsize(model) / 2 ** 20, "size": size}
    rc, out, err, rss = run_rusage([dinet, "classify", "--threads", str(threads), "--model",
                                    model, "--json", img])
    if rc != 0:
        raise RuntimeError("dinet classify: rc %d: %s" % (rc, err.strip()))
    res["dinet_classify_max_rss_mib"] = rss
    rc, out, err, rss = run_rusage([sys.executable, "-c", TORCH_CLASSIFY,
                                    os.path.join(ROOT, "tests"), img, model, str(threads)])
    res["torch_classify_max_rss_mib"] = rss if rc == 0 else None
    if rc != 0:
        print("warning: torch classify failed: %s" % err.strip()[-300:], file=sys.stderr)
    return res


# ---- main ----------------------------------------------------------------

def machine_info(threads):
    info = {"platform": platform.platform(), "python": platform.python_version(),
            "nproc": os.cpu_count(), "threads": threads,
            "env": {k: v for k, v in os.environ.items()
                    if k.startswith(("OPENBLAS", "OMP", "MKL", "GOTO"))}}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return info


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dinet", help="dinet binary (default $DINET or build/engine/dinet)")
    ap.add_argument("--out", help="write the results as JSON here")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--size", type=int, default=224, help="forward/Grad-CAM input size")
    ap.add_argument("--batches", default="1,16", help="forward/Grad-CAM batch sizes")
    ap.add_argument("--train-size", type=int, default=128)
    ap.add_argument("--train-batch", type=int, default=16)
    ap.add_argument("--runs1", type=int, default=5, help="timed runs at batch 1")
    ap.add_argument("--runs16", type=int, default=3, help="timed runs at larger batches")
    ap.add_argument("--runs-explain", type=int, default=15,
                    help="forward/map pairs per explanation case (Score-CAM and "
                         "faithfulness: a fifth of it, at least 2)")
    ap.add_argument("--no-explain", action="store_true", help="skip the explanation rows")
    ap.add_argument("--quick", action="store_true", help="1 timed run per case (a smoke test)")
    ap.add_argument("--no-torch-autograd-cam", action="store_true",
                    help="skip the gradcam-autograd (full torch backward) rows")
    ap.add_argument("--no-memory", action="store_true")
    a = ap.parse_args()
    if a.quick:
        a.runs1 = a.runs16 = 1
        a.runs_explain = 2
    dinet = find_dinet(a.dinet)
    try:
        import torch
    except Exception as e:  # noqa: BLE001
        sys.exit("bench.py: cannot import torch (%s); install python3-torch" % e)
    batches = [int(b) for b in a.batches.split(",") if b]
    info = machine_info(a.threads)
    info["torch"] = torch.__version__
    info["dinet"] = subprocess.run([dinet, "--version"], stdout=subprocess.PIPE,
                                   universal_newlines=True).stdout.strip()
    info["loadavg_start"] = os.getloadavg()
    if info["loadavg_start"][0] > 0.5 * (os.cpu_count() or 1):
        print("warning: load average %.1f on %d CPUs: timings will be noisy"
              % (info["loadavg_start"][0], os.cpu_count() or 1), file=sys.stderr)

    cases = []
    for what in ("forward", "gradcam", "gradcam-autograd"):
        if what == "gradcam-autograd" and a.no_torch_autograd_cam:
            continue
        for b in batches:
            cases.append((what, b, a.size))
    cases.append(("train", a.train_batch, a.train_size))

    # Every dinet row first, before PyTorch has run anything in this process:
    # measured after PyTorch's batch-16 runs, dinet's rows came out up to 18 %
    # slower than alone, an order effect that is not dinet's or PyTorch's.
    dinet_rows = {}
    for what, b, s in cases:
        if what == "gradcam-autograd":  # dinet's side is the same as "gradcam"
            continue
        runs = a.runs1 if b == 1 else a.runs16
        print("dinet %-10s batch %2d size %3d, %d runs ..." % (what, b, s, runs), file=sys.stderr,
              flush=True)
        dinet_rows[(what, b)] = dinet_bench(dinet, what, b, s, a.threads, runs)
    explain_rows = []
    for method, layer, faith, scale in ([] if a.no_explain else EXPLAIN_CASES):
        pairs = max(2, int(round(a.runs_explain * scale)))
        print("dinet explain %-16s%s size %3d, %d pairs ..."
              % (method, " + faithfulness" if faith else "", a.size, pairs),
              file=sys.stderr, flush=True)
        explain_rows.append(dinet_explain_paired(dinet, method, layer, faith, a.size,
                                                 a.threads, pairs))
    tb = TorchBench(a.threads)
    for r in explain_rows:
        if r["method"] in ("gradcam", "layercam-fusion") and not r["faithfulness"]:
            print("torch explain %-16s size %3d, %d pairs ..." % (r["method"], a.size, r["pairs"]),
                  file=sys.stderr, flush=True)
            tf, tm, tr = tb.explain_paired(r["method"], a.size, r["pairs"])
            r["torch_ratio_median"] = median(tr)
            r["torch_forward_median_s"] = median(tf)
            r["torch_explain_median_s"] = median(tm)
            r["torch_explain_over_dinet_explain"] = median(tm) / r["explain_median_s"]
    results = []
    for what, b, s in cases:
        runs = a.runs1 if b == 1 else a.runs16
        print("%-16s batch %2d size %3d, %d runs ..." % (what, b, s, runs), file=sys.stderr,
              flush=True)
        d = dinet_rows[("gradcam" if what == "gradcam-autograd" else what, b)]
        if what == "forward":
            ts = tb.forward(b, s, runs)
        elif what == "gradcam":
            ts = tb.gradcam(b, s, runs, autograd_full=False)
        elif what == "gradcam-autograd":
            ts = tb.gradcam(b, s, runs, autograd_full=True)
        else:
            ts = tb.train(b, s, runs)
        tmed = median(ts)
        r = {"what": what, "batch": b, "size": s, "runs": runs, "threads": a.threads,
             "dinet_median_s": d["median_s"], "dinet_min_s": d["min_s"],
             "dinet_ms_per_image": 1000.0 * d["median_s"] / b,
             "dinet_max_rss_mib": d["max_rss_mib"],
             "torch_median_s": tmed, "torch_min_s": min(ts),
             "torch_ms_per_image": 1000.0 * tmed / b, "torch_times_s": ts}
        r["ratio_torch_over_dinet"] = r["torch_ms_per_image"] / r["dinet_ms_per_image"]
        results.append(r)
        print("  dinet %.1f ms/image, torch %.1f ms/image, torch/dinet %.2f"
              % (r["dinet_ms_per_image"], r["torch_ms_per_image"], r["ratio_torch_over_dinet"]),
              file=sys.stderr, flush=True)
    del tb

    mem = None
    if not a.no_memory:
        with tempfile.TemporaryDirectory(prefix="dinet-bench-") as tmp:
            mem = memory(dinet, a.size, a.threads, tmp)
    info["loadavg_end"] = os.getloadavg()

    print("CBAM-ResNet50, %d threads, %s; torch %s; runs: %d (batch 1) / %d (larger); "
          "load average %.1f -> %.1f\n" % (a.threads, info.get("cpu", "?"), info["torch"],
                                             a.runs1, a.runs16, info["loadavg_start"][0],
                                             info["loadavg_end"][0]))
    print("| case | batch | size | dinet ms/image | torch ms/image | torch/dinet |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in results:
        print("| %s | %d | %d | %.1f | %.1f | %.2f |" % (
            r["what"], r["batch"], r["size"], r["dinet_ms_per_image"], r["torch_ms_per_image"],
            r["ratio_torch_over_dinet"]))
    if explain_rows:
        print("\nExplanation / forward, one %dx%d image, median of per-pair ratios:\n" % (a.size, a.size))
        print("| map | pairs | dinet map ms | dinet map / forward | torch map / forward | torch map / dinet map |")
        print("|---|---:|---:|---:|---:|---:|")
        for r in explain_rows:
            name = "%s layer%d" % (r["method"], r["layer"]) if r["method"] != "layercam-fusion" \
                else "layercam-fusion (layer2-4)"
            if r["faithfulness"]:
                name += " + faithfulness"
            t = r.get("torch_ratio_median")
            print("| %s | %d | %.1f | %.2f | %s | %s |" % (
                name, r["pairs"], 1000 * r["explain_median_s"], r["ratio_median"],
                "%.2f" % t if t else "n/a",
                "%.2f" % r["torch_explain_over_dinet_explain"] if t else "n/a"))
    if mem:
        print("\nPeak RSS, classify one %dx%d image (model file %.0f MiB): dinet %.0f MiB, "
              "torch %s" % (mem["size"], mem["size"], mem["model_file_mib"],
                            mem["dinet_classify_max_rss_mib"],
                            "%.0f MiB" % mem["torch_classify_max_rss_mib"]
                            if mem["torch_classify_max_rss_mib"] else "n/a"))
    print("dinet bench peak RSS: " + ", ".join(
        "%s b%d %.0f MiB" % (r["what"], r["batch"], r["dinet_max_rss_mib"])
        for r in results if r["what"] != "gradcam-autograd"))
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"machine": info, "settings": vars(a), "results": results,
                       "explain": explain_rows, "memory": mem}, f, indent=2)
            f.write("\n")
        print("\nJSON: %s" % a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
