#!/usr/bin/env python3
"""st_pywrite.py — PyTorch interop for tests/test_safetensors.c.

  st_pywrite.py write OUT   writes OUT the way the safetensors package does
                            (struct + json, no safetensors module needed),
                            from torch tensors of several dtypes.
  st_pywrite.py check FILE  reads FILE (written by test_safetensors) with
                            torch.frombuffer and checks its values, layout
                            and metadata.

Exits 77 (skip) when torch is not importable, 1 on a failed check.
"""
import json
import struct
import sys

try:
    import torch
except Exception:  # noqa: BLE001 - any import failure means "skip"
    sys.exit(77)

DTYPES = {
    torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.bool: "BOOL", torch.uint8: "U8",
}


def tensor_bytes(t):
    """Raw little-endian bytes of a contiguous tensor (bf16 via int16)."""
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    if sys.byteorder != "little":
        raise SystemExit("big-endian host not supported by this script")
    return t.numpy().tobytes()


def write(path):
    tensors = {
        "w32": torch.arange(12, dtype=torch.float32).reshape(3, 4) / 8 - 0.5,
        "w16": torch.tensor([1.0, -2.5, 65504.0, 6e-8, float("inf"), 0.1],
                            dtype=torch.float16),
        "wbf": torch.tensor([1.0, -3.140625, 1e30], dtype=torch.bfloat16),
        "idx": torch.tensor([1, -2, 3], dtype=torch.int64),
        "flag": torch.tensor([True, False], dtype=torch.bool),
        "scalar": torch.tensor(2.5, dtype=torch.float32),
        "empty": torch.zeros(0, 3, dtype=torch.float32),
    }
    header = {"__metadata__": {"format": "pt", "note": "\u00e9\U0001F600 \"q\"\\"}}
    blobs, off = [], 0
    # like safetensors: sorted by name
    for name in sorted(tensors):
        t = tensors[name]
        b = tensor_bytes(t)
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode("utf-8")  # ensure_ascii: \u escapes, ", "
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def check(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert (8 + n) % 8 == 0, "data not 8-byte aligned"
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    assert list(header)[0] == "__metadata__", "metadata not first"
    meta = header.pop("__metadata__")
    assert meta == {"a": "1", "quote\"back\\slash": "\u00e9\u65e5\U0001F600\n\t"}, meta
    data = raw[8 + n:]
    end = 0
    np_dtype = {"F32": torch.float32, "F16": torch.float16}
    for name, info in header.items():
        b, e = info["data_offsets"]
        assert b == end, f"{name}: not contiguous"
        end = e
        dt = np_dtype[info["dtype"]]
        t = torch.frombuffer(bytearray(data[b:e]), dtype=dt) if e > b \
            else torch.zeros(0, dtype=dt)
        t = t.reshape(info["shape"])
        want = (torch.arange(t.numel(), dtype=torch.float32) * 0.25 - 1.0)
        want = want.to(dt).reshape(info["shape"])
        assert torch.equal(t, want), f"{name}: values differ"
    assert end == len(data), "trailing data"
    assert list(header) == ["first", "second", "third"], list(header)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("write", "check"):
        sys.exit("usage: st_pywrite.py write|check FILE")
    try:
        (write if sys.argv[1] == "write" else check)(sys.argv[2])
    except AssertionError as e:
        print(f"st_pywrite.py: check failed: {e}", file=sys.stderr)
        sys.exit(1)
