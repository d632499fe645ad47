#!/usr/bin/env python3
"""train_mlp --ddp under mpirun: N processes compute what one process computes.

1. 5 steps (global batch 100, SGD with momentum) with 1 process and with N
   processes, each saving its weights: every weight agrees to a relative 1e-6.
2. 2 epochs on 3000 training / 1000 test samples with 1 and N processes: the
   test accuracy agrees within 0.2 points and every test sample is counted once.

usage: ddp_equivalence.py MPIRUN TRAIN_MLP [N]
"""
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

mpirun, binary = sys.argv[1], sys.argv[2]
n = int(sys.argv[3]) if len(sys.argv) > 3 else 3
data = "/usr/share/datasets/fashion-mnist"
if not os.path.exists(os.path.join(data, "train-images-idx3-ubyte.gz")):
    print(f"SKIPPED: Fashion-MNIST not found in {data}")
    sys.exit(77)
env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")


def read_safetensors(path):
    """name -> flat list of the float32 tensors (no numpy needed)."""
    raw = open(path, "rb").read()
    k = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + k])
    out = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        b, e = info["data_offsets"]
        out[name] = memoryview(raw[8 + k + b:8 + k + e]).cast("f")
    return out


def run(procs, args):
    cmd = [mpirun, "--oversubscribe", "--bind-to", "none", "-np", str(procs), binary, "--ddp", "--data", data,
           "--quiet"] + args
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)


ok = True
with tempfile.TemporaryDirectory() as tmp:
    common = ["--limit-train", "3000", "--limit-test", "1000", "--batch", "100", "--lr", "0.02"]
    for procs in (1, n):
        run(procs, common + ["--max-steps", "5", "--save", os.path.join(tmp, f"w{procs}.safetensors")])
    a, b = (read_safetensors(os.path.join(tmp, f"w{p}.safetensors")) for p in (1, n))
    worst = 0.0
    for name in a:
        if name.startswith("optimizer.") and "momentum" not in name:
            continue
        x, y = a[name], b[name]
        diff = math.sqrt(sum((p - q) * (p - q) for p, q in zip(x, y)))
        norm = math.sqrt(sum(p * p for p in x))
        worst = max(worst, diff / max(norm, 1e-30))
    print(f"weights after 5 steps, 1 vs {n} processes: largest relative difference {worst:.2e} (over {len(a)} tensors)")
    ok = ok and worst < 1e-6

    runs = {}
    for procs in (1, n):
        path = os.path.join(tmp, f"m{procs}.json")
        run(procs, common + ["--epochs", "2", "--metrics-json", path])
        rank0 = path if procs == 1 else path.replace(".json", ".rank0.json")
        runs[procs] = json.load(open(rank0))
    for procs, j in runs.items():
        cm = j["test"]["confusion_matrix"]
        print(f"{procs} process(es): test accuracy {100 * j['test']['accuracy']:.2f}%, test loss "
              f"{j['test']['loss']:.6f}, train loss {j['train']['loss']:.6f}, samples counted {sum(map(sum, cm))}")
        ok = ok and sum(map(sum, cm)) == 1000
    dacc = abs(runs[1]["test"]["accuracy"] - runs[n]["test"]["accuracy"]) * 100
    print(f"test accuracy difference {dacc:.2f} points")
    ok = ok and dacc <= 0.2
print(f"1 process == {n} processes" if ok else "MISMATCH")
sys.exit(0 if ok else 1)
