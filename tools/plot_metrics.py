#!/usr/bin/env python3
"""Plot minidp metrics files as PNG images (matplotlib).

    plot_metrics.py FILE [FILE ...] [--out DIR]

Each file is recognised by its content (schemas in docs/metrics.md):
  *.jsonl with "epoch" records (JsonlWriter + epoch_json; nested objects such
  as {"train": {"loss": ..}} are flattened to train_loss)
        -> <name>_loss.png (every *loss key per epoch), <name>_accuracy.png
           (every *accuracy* / *f1* key)
  a classification JSON (classification_json, minidp-metrics --json), also
  when it is one level down (e.g. under "test")
        -> <name>_confusion.png (heatmap; rows true, columns predicted)
           plus <name>_roc.png and <name>_pr.png when it has roc_curve / pr_curve
  a scaling JSON ({"scaling": [...]}, scaling_json)
        -> <name>_scaling.png (samples/s against replicas, with the ideal line)
"""
import argparse
import json
import os
import sys

MaxNLocator = None  # matplotlib.ticker.MaxNLocator, imported in main() with matplotlib


def load(path):
    with open(path) as f:
        text = f.read()
    try:
        return [json.loads(text)]
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def num(v):
    return float("nan") if v is None else v


def flatten(record):
    """{"train": {"loss": 1}} -> {"train_loss": 1}: nested epoch records plot like flat ones."""
    flat = {}
    for k, v in record.items():
        if isinstance(v, dict):
            for sub, x in v.items():
                flat[f"{k}_{sub}"] = x
        else:
            flat[k] = v
    return flat


def keys_like(records, test):
    seen = []
    for r in records:
        for k, v in r.items():
            if k not in seen and test(k) and (v is None or isinstance(v, (int, float))):
                seen.append(k)
    return seen


def plot_epochs(plt, records, stem):
    records = [flatten(r) for r in records]
    epochs = [r["epoch"] for r in records]
    out = []
    fig, ax = plt.subplots(figsize=(6, 4))
    for key in keys_like(records, lambda k: k.endswith("loss")):  # train_loss, val_loss, test_loss
        ax.plot(epochs, [num(r.get(key)) for r in records], marker="o", label=key.replace("_", " "))
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("loss (mean per sample)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(stem + "_loss.png", dpi=120)
    out.append(stem + "_loss.png")
    keys = keys_like(records, lambda k: "accuracy" in k or "f1" in k)
    if keys:
        fig, ax = plt.subplots(figsize=(6, 4))
        for key in keys:
            ax.plot(epochs, [num(r.get(key)) for r in records], marker="o", label=key.replace("_", " "))
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylim(0, 1.02)
        ax.legend()
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(stem + "_accuracy.png", dpi=120)
        out.append(stem + "_accuracy.png")
    return out


def plot_classification(plt, j, stem):
    out = []
    cm = j["confusion_matrix"]
    k = len(cm)
    names = j.get("class_names") or [str(c) for c in range(k)]
    fig, ax = plt.subplots(figsize=(max(4.5, 1.5 + 0.6 * k), max(4.0, 1.2 + 0.6 * k)))
    im = ax.imshow(cm, cmap="Blues")
    fig.colorbar(im, ax=ax)
    ax.set_xticks(range(k), names, rotation=45 if k > 6 else 0)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    top = max(max(r) for r in cm) if k else 0
    if k <= 20:
        for t in range(k):
            for p in range(k):
                ax.text(p, t, cm[t][p], ha="center", va="center",
                        color="white" if cm[t][p] > top / 2 else "black", fontsize=8)
    acc = j.get("accuracy")
    ax.set_title(f"accuracy {acc:.3f}" if acc is not None else "confusion matrix")
    fig.tight_layout()
    fig.savefig(stem + "_confusion.png", dpi=120)
    out.append(stem + "_confusion.png")
    if "roc_curve" in j:
        roc = j["roc_curve"]
        fig, ax = plt.subplots(figsize=(4.5, 4.5))
        ax.plot([num(v) for v in roc["fpr"]], [num(v) for v in roc["tpr"]],
                label=f"ROC-AUC {num(j.get('roc_auc')):.3f}")
        ax.plot([0, 1], [0, 1], "--", color="gray", label="chance")
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate (recall)")
        ax.legend(loc="lower right")
        fig.tight_layout()
        fig.savefig(stem + "_roc.png", dpi=120)
        out.append(stem + "_roc.png")
    if "pr_curve" in j:
        pr = j["pr_curve"]
        fig, ax = plt.subplots(figsize=(4.5, 4.5))
        ax.step([num(v) for v in pr["recall"]], [num(v) for v in pr["precision"]], where="post",
                label=f"AP {num(j.get('average_precision')):.3f}")
        support = j.get("per_class_support")
        if support and len(support) == 2 and sum(support) > 0:
            rate = support[1] / sum(support)  # a random classifier's precision
            ax.axhline(rate, ls="--", color="gray", label=f"positive rate {rate:.3f}")
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_ylim(0, 1.02)
        ax.legend(loc="lower left")
        fig.tight_layout()
        fig.savefig(stem + "_pr.png", dpi=120)
        out.append(stem + "_pr.png")
    return out


def plot_scaling(plt, j, stem):
    runs = sorted(j["scaling"], key=lambda r: r["replicas"])
    n = [r["replicas"] for r in runs]
    sps = [r["samples_per_second"] for r in runs]
    base = next(r["samples_per_second"] for r in runs if r["replicas"] == 1)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(n, sps, marker="o", label="measured")
    ax.plot(n, [base * x for x in n], "--", color="gray", label="ideal (linear)")
    for r in runs:
        ax.annotate(f"{100 * r['efficiency']:.0f}%", (r["replicas"], r["samples_per_second"]),
                    textcoords="offset points", xytext=(0, 8), ha="center", fontsize=8)
    ax.set_xlabel("replicas")
    ax.set_ylabel("samples / s")
    ax.set_xticks(n)
    ax.set_title("throughput and scaling efficiency")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(stem + "_scaling.png", dpi=120)
    return [stem + "_scaling.png"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+")
    ap.add_argument("--out", default=".", help="directory for the PNG files (default: .)")
    args = ap.parse_args()
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        global MaxNLocator
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        print("plot_metrics.py needs matplotlib (apt install python3-matplotlib, or pip install matplotlib)",
              file=sys.stderr)
        return 2
    os.makedirs(args.out, exist_ok=True)
    written = []
    for path in args.files:
        try:
            records = load(path)
        except (OSError, json.JSONDecodeError) as e:
            print(f"{path}: cannot read JSON/JSONL: {e}", file=sys.stderr)
            return 2
        stem = os.path.join(args.out, os.path.splitext(os.path.basename(path))[0])
        first = records[0] if records else {}
        if not isinstance(first, dict) or not all(isinstance(r, dict) for r in records):
            print(f"{path}: expected JSON objects (one, or one per line)", file=sys.stderr)
            return 2
        if "confusion_matrix" not in first:  # e.g. {"test": {...classification...}, "train": {...}}
            nested = [v for v in first.values() if isinstance(v, dict) and "confusion_matrix" in v]
            if nested and "epoch" not in first:
                first = nested[0]
        if "epoch" in first:
            written += plot_epochs(plt, records, stem)
        elif "confusion_matrix" in first:
            written += plot_classification(plt, first, stem)
        elif "scaling" in first:
            written += plot_scaling(plt, first, stem)
        else:
            print(f"{path}: not a minidp metrics file (no epoch, confusion_matrix or scaling key)", file=sys.stderr)
            return 2
        plt.close("all")
    for w in written:
        print(w)
    return 0


if __name__ == "__main__":
    sys.exit(main())
