"""PyTorch reference of DeepInsight-Net (the model-file contract).

torchvision ResNet-50 v1.5 layout, plus CBAM (the CBAM authors' code:
ChannelGate then SpatialGate, after bn3 and before the residual add).
Written without torchvision so that only python3-torch is needed.
Also a minimal safetensors writer (Debian has no python3-safetensors).
"""
import json
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicConv(nn.Module):
    def __init__(self, cin, cout, k, padding):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.01)

    def forward(self, x):
        return self.bn(self.conv(x))


class ChannelGate(nn.Module):
    def __init__(self, c, r=16):
        super().__init__()
        self.mlp = nn.Sequential(nn.Flatten(), nn.Linear(c, c // r), nn.ReLU(), nn.Linear(c // r, c))

    def forward(self, x):
        avg = F.avg_pool2d(x, (x.size(2), x.size(3)))
        mx = F.max_pool2d(x, (x.size(2), x.size(3)))
        att = self.mlp(avg) + self.mlp(mx)
        return x * torch.sigmoid(att)[:, :, None, None]


class SpatialGate(nn.Module):
    def __init__(self):
        super().__init__()
        self.spatial = BasicConv(2, 1, 7, 3)
        self.last = None

    def forward(self, x):
        pooled = torch.cat([x.max(1, keepdim=True)[0], x.mean(1, keepdim=True)], 1)
        s = torch.sigmoid(self.spatial(pooled))
        self.last = s
        return x * s


class CBAM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.ChannelGate = ChannelGate(c)
        self.SpatialGate = SpatialGate()

    def forward(self, x):
        return self.SpatialGate(self.ChannelGate(x))


class Bottleneck(nn.Module):
    def __init__(self, cin, width, stride, downsample, cbam):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, width * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(width * 4)
        self.downsample = None
        if downsample:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, width * 4, 1, stride=stride, bias=False), nn.BatchNorm2d(width * 4))
        self.cbam = CBAM(width * 4) if cbam else None

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        res = x if self.downsample is None else self.downsample(x)
        if self.cbam is not None:
            out = self.cbam(out)
        return F.relu(out + res)


class ResNet50(nn.Module):
    def __init__(self, num_classes, cbam):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        cin = 64
        for s, (n, w) in enumerate([(3, 64), (4, 128), (6, 256), (3, 512)], 1):
            blocks = []
            for j in range(n):
                stride = 2 if (j == 0 and s > 1) else 1
                blocks.append(Bottleneck(cin, w, stride, j == 0, cbam))
                cin = w * 4
            setattr(self, "layer%d" % s, nn.Sequential(*blocks))
        self.fc = nn.Linear(2048, num_classes)

    def forward(self, x, keep=False):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.max_pool2d(x, 3, 2, 1)
        feats = {}
        for s in range(1, 5):
            x = getattr(self, "layer%d" % s)(x)
            if keep:
                x.retain_grad()
            feats[s] = x
        logits = self.fc(x.mean((2, 3)))
        return (logits, feats) if keep else logits


def randomize(model, seed):
    """Random weights and BN statistics, so every path matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            if name.endswith("running_var"):
                p.copy_(torch.rand(p.shape, generator=g) * 0.5 + 0.75)
            elif name.endswith("running_mean"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
            elif name.endswith(".weight") and p.dim() == 1:  # BN gamma
                p.copy_(torch.rand(p.shape, generator=g) * 0.5 + 0.5)
            elif name.endswith(".bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
            else:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) * (2.0 / fan_in) ** 0.5)


def save_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    offset = 0
    blobs = []
    for name, t in tensors.items():
        t = t.detach().contiguous().to(torch.float32)
        b = t.numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
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


def save_model(path, model, arch, classes, input_size, mean, std, extra=None):
    meta = {"arch": arch, "classes": json.dumps(classes), "input_size": str(input_size),
            "mean": json.dumps(mean), "std": json.dumps(std)}
    if extra:
        meta.update(extra)
    save_safetensors(path, model.state_dict(), meta)
