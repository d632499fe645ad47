#!/usr/bin/env python3
"""Two epochs of train_mlp on a subset with --devices cpu and --devices cpu,cpu,cpu at
--batch 100: per-epoch training loss must agree to a relative 1e-4 and test accuracy
to 0.1 points. Prints both tables.

usage: dp_equivalence.py TRAIN_MLP_BINARY
"""
import json
import os
import subprocess
import sys
import tempfile

binary = sys.argv[1]
if not os.path.exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"):
    print("SKIPPED: Fashion-MNIST not installed")
    sys.exit(77)
runs = {}
with tempfile.TemporaryDirectory() as tmp:
    for devices in ["cpu", "cpu,cpu,cpu"]:
        log = os.path.join(tmp, devices.replace(",", "_") + ".jsonl")
        subprocess.run([binary, "--limit-train", "3000", "--limit-test", "1000", "--batch", "100", "--epochs", "2",
                        "--devices", devices, "--log-jsonl", log, "--quiet"], check=True, stdout=subprocess.DEVNULL)
        runs[devices] = [json.loads(line) for line in open(log)]
ok = True
for devices, rows in runs.items():
    print(f"--devices {devices}")
    print(f"  {'epoch':>5} {'train_loss':>12} {'test_loss':>10} {'test_acc':>9}")
    for r in rows:
        print(f"  {r['epoch']:>5} {r['train']['loss']:>12.6f} {r['test']['loss']:>10.6f} {100 * r['test']['accuracy']:>8.2f}%")
one, three = runs["cpu"], runs["cpu,cpu,cpu"]
for a, b in zip(one, three):
    rel = abs(a["train"]["loss"] - b["train"]["loss"]) / a["train"]["loss"]
    dacc = abs(a["test"]["accuracy"] - b["test"]["accuracy"]) * 100
    good = rel < 1e-4 and dacc <= 0.1
    ok = ok and good
    print(f"epoch {a['epoch']}: train loss relative difference {rel:.2e}, test accuracy difference {dacc:.2f} points"
          f" -> {'same' if good else 'DIFFERENT'}")
print("1 replica == 3 replicas" if ok and len(one) == 2 else "MISMATCH")
sys.exit(0 if ok and len(one) == 2 else 1)
