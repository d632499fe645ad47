#!/usr/bin/env python3
"""train_mlp --metrics-json holds the quality report under "test" and the speed
metrics under "train", with the keys the docs promise; values are checked
against each other (accuracy = trace / total of the confusion matrix, support sums).

usage: metrics_json_check.py TRAIN_MLP_BINARY
"""
import json
import os
import subprocess
import sys
import tempfile

if not os.path.exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"):
    print("SKIPPED: Fashion-MNIST not installed")
    sys.exit(77)
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "m.json")
    subprocess.run([sys.argv[1], "--limit-train", "1500", "--limit-test", "300", "--epochs", "1", "--devices", "cpu,cpu",
                    "--quiet", "--metrics-json", path], check=True, stdout=subprocess.DEVNULL)
    j = json.load(open(path))
test, train = j["test"], j["train"]
for key in ["accuracy", "precision_macro", "recall_macro", "f1_macro", "per_class", "confusion_matrix", "loss"]:
    assert key in test, f"test.{key} missing"
for key in ["loss", "samples_per_s", "step_time", "peak_memory", "load_balance", "host_syncs_per_step"]:
    assert key in train, f"train.{key} missing"
cm = test["confusion_matrix"]
total = sum(map(sum, cm))
assert total == 300, total
assert abs(test["accuracy"] - sum(cm[i][i] for i in range(10)) / total) < 1e-12
assert sum(c["support"] for c in test["per_class"]) == 300
assert all(set(c) >= {"precision", "recall", "f1", "support"} for c in test["per_class"])
assert train["samples_per_s"] > 0 and train["peak_memory"]["peak_bytes"]["cpu"] > 0
# The training loop (loader, data-parallel step, recorder) never waited for a device.
assert train["host_syncs_per_step"] == 0, train["host_syncs_per_step"]
print(f"metrics JSON: accuracy {test['accuracy']:.4f}, macro F1 {test['f1_macro']:.4f}, "
      f"{train['samples_per_s']:.0f} samples/s, keys ok")
