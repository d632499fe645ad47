#!/usr/bin/env python3
"""minidp's training step against PyTorch's semantics, number for number.

Writes random initial weights for the MLP of examples/train_mlp (PyTorch's
names: 1.weight, 1.bias, 3.*, 5.*) to a safetensors file, runs
`train_mlp --init ... --no-shuffle --max-steps 3 --save ...` on the first 192
Fashion-MNIST images, and replays the same three steps independently:
  * always with numpy, written out from PyTorch's documented definitions
    (nn.Linear: x W^T + b; CrossEntropyLoss mean; SGD with momentum 0.9 whose
    first step takes the gradient as the momentum buffer);
  * also with PyTorch itself when it can be imported.
The weights minidp saved must equal the reference to float32 rounding.
Exit 77 (skipped) without numpy or without the data set.

usage: pytorch_semantics.py TRAIN_MLP_BINARY [DATA_DIR]
"""
import gzip
import json
import os
import struct
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError:
    print("SKIPPED: numpy not installed")
    sys.exit(77)

BATCH, STEPS, LR, MOMENTUM = 64, 3, 0.05, 0.9
NAMES = ["1.weight", "1.bias", "3.weight", "3.bias", "5.weight", "5.bias"]


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, arr in tensors.items():
        data = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def read_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        dt = {"F32": "<f4", "F64": "<f8", "I64": "<i8"}[info["dtype"]]
        out[name] = np.frombuffer(raw[8 + n + b:8 + n + e], dtype=dt).reshape(info["shape"])
    return out


def load_images(data_dir, count):
    with gzip.open(os.path.join(data_dir, "train-images-idx3-ubyte.gz")) as f:
        f.read(16)
        x = np.frombuffer(f.read(count * 784), dtype=np.uint8).reshape(count, 784)
    with gzip.open(os.path.join(data_dir, "train-labels-idx1-ubyte.gz")) as f:
        f.read(8)
        y = np.frombuffer(f.read(count), dtype=np.uint8).astype(np.int64)
    x = x.astype(np.float32) / np.float32(255.0)
    x = (x - np.float32(0.2860)) / np.float32(0.3530)
    return x, y


def numpy_reference(w, x, y):
    """Three SGD steps, each line one of PyTorch's definitions, in float32."""
    w = {k: v.astype(np.float32).copy() for k, v in w.items()}
    buf = {}
    for s in range(STEPS):
        xb, yb = x[s * BATCH:(s + 1) * BATCH], y[s * BATCH:(s + 1) * BATCH]
        h1 = xb @ w["1.weight"].T + w["1.bias"]
        a1 = np.maximum(h1, 0)
        h2 = a1 @ w["3.weight"].T + w["3.bias"]
        a2 = np.maximum(h2, 0)
        z = a2 @ w["5.weight"].T + w["5.bias"]
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        dz = p.copy()
        dz[np.arange(len(yb)), yb] -= 1
        dz /= np.float32(len(yb))  # CrossEntropyLoss(reduction="mean")
        g = {"5.weight": dz.T @ a2, "5.bias": dz.sum(0)}
        da2 = (dz @ w["5.weight"]) * (h2 > 0)
        g["3.weight"], g["3.bias"] = da2.T @ a1, da2.sum(0)
        da1 = (da2 @ w["3.weight"]) * (h1 > 0)
        g["1.weight"], g["1.bias"] = da1.T @ xb, da1.sum(0)
        for k in NAMES:  # torch.optim.SGD(lr, momentum)
            buf[k] = g[k].copy() if s == 0 else np.float32(MOMENTUM) * buf[k] + g[k]
            w[k] = w[k] - np.float32(LR) * buf[k]
    return w


def torch_reference(w, x, y):
    import torch
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 1024), torch.nn.ReLU(),
                                torch.nn.Linear(1024, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 10))
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in w.items()})
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    for s in range(STEPS):
        xb = torch.from_numpy(x[s * BATCH:(s + 1) * BATCH].copy())
        yb = torch.from_numpy(y[s * BATCH:(s + 1) * BATCH].copy())
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(xb), yb).backward()
        opt.step()
    return {k: v.detach().numpy() for k, v in model.state_dict().items()}


def compare(label, got, ref):
    """Largest difference of the weights, relative to how far the reference moved them."""
    worst = 0.0
    for k in NAMES:
        moved = float(np.abs(ref[k] - INIT[k]).max())
        err = float(np.abs(got[k] - ref[k]).max()) / max(moved, 1e-30)
        print(f"  {label:6s} {k:9s} max |minidp - ref| = {np.abs(got[k] - ref[k]).max():.2e}"
              f" = {err:.2e} of the update (max {moved:.2e})")
        worst = max(worst, err)
    return worst


def main():
    global INIT
    binary = sys.argv[1]
    data_dir = sys.argv[2] if len(sys.argv) > 2 else "/usr/share/datasets/fashion-mnist"
    if not os.path.exists(os.path.join(data_dir, "train-images-idx3-ubyte.gz")):
        print(f"SKIPPED: Fashion-MNIST not found in {data_dir}")
        sys.exit(77)
    rng = np.random.default_rng(1234)
    shapes = {"1.weight": (1024, 784), "1.bias": (1024,), "3.weight": (1024, 1024), "3.bias": (1024,),
              "5.weight": (10, 1024), "5.bias": (10,)}
    INIT = {k: (rng.uniform(-1, 1, s) / np.sqrt(s[-1] if len(s) > 1 else 1024)).astype(np.float32)
            for k, s in shapes.items()}
    x, y = load_images(data_dir, STEPS * BATCH)
    with tempfile.TemporaryDirectory() as tmp:
        init_path, out_path = os.path.join(tmp, "init.safetensors"), os.path.join(tmp, "out.safetensors")
        write_safetensors(init_path, INIT)
        cmd = [binary, "--data", data_dir, "--init", init_path, "--no-shuffle", "--batch", str(BATCH),
               "--max-steps", str(STEPS), "--limit-train", str(STEPS * BATCH), "--limit-test", "100",
               "--lr", str(LR), "--momentum", str(MOMENTUM), "--epochs", "1", "--save", out_path, "--quiet"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        got = read_safetensors(out_path)
    print(f"{STEPS} SGD steps (lr {LR}, momentum {MOMENTUM}, batch {BATCH}) on the MLP 784-1024-1024-10:")
    worst = compare("numpy", got, numpy_reference(INIT, x, y))
    try:
        import torch  # noqa: F401
        worst = max(worst, compare("torch", got, torch_reference(INIT, x, y)))
    except ImportError:
        print("  (PyTorch not installed here: compared with the numpy transcription of its definitions only)")
    ok = worst < 1e-3
    print(f"worst difference {worst:.2e} of the update -> {'ok' if ok else 'MISMATCH'} (float32 rounding: < 1e-3)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
