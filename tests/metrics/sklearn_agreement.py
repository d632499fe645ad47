#!/usr/bin/env python3
"""minidp-metrics must agree with scikit-learn on every number it prints.

Usage: sklearn_agreement.py PATH/TO/minidp-metrics [--cases N] [--seed S]

Generates random multi-class and binary inputs (skewed class frequencies,
classes never predicted or never present, every zero_division policy, an
ignore index outside and inside the class range, tied scores), runs
`minidp-metrics --json` on them and compares each field with scikit-learn's
accuracy_score, balanced_accuracy_score, confusion_matrix,
precision_recall_fscore_support, roc_auc_score, average_precision_score,
roc_curve and precision_recall_curve, to 1e-9.

ignore_index semantics checked here: samples whose label is the ignore index
are dropped before sklearn sees them; when the ignore index is a class in
[0, K) that class is also left out of the averages, i.e. sklearn is called
with labels = (classes in labels or predictions) minus the ignored class.

scikit-learn < 1.3 has no zero_division=np.nan; there the NaN policy is
derived from sklearn's own results with zero_division 0 and 1 (entries that
differ are the 0/0 ones) and averaged like sklearn's _nanaverage.

Exit status: 0 all agree, 1 a mismatch, 77 scikit-learn/numpy missing (skip).
"""
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import warnings

try:
    import numpy as np
    import sklearn
    from sklearn.metrics import (accuracy_score, average_precision_score, balanced_accuracy_score,
                                 confusion_matrix, precision_recall_curve, precision_recall_fscore_support,
                                 roc_auc_score, roc_curve)
except ImportError:
    print("SKIPPED: scikit-learn not installed")
    sys.exit(77)

warnings.simplefilter("ignore")  # sklearn warns on every 0/0; that is what we are testing
TOL = 1e-9
SK_VERSION = tuple(int(x) for x in sklearn.__version__.split(".")[:2] if x.isdigit())
SK_HAS_NAN = SK_VERSION >= (1, 3)


class Mismatch(Exception):
    pass


def close(a, b):
    a_nan = a is None or (isinstance(a, float) and math.isnan(a))
    b_nan = b is None or (isinstance(b, float) and math.isnan(b))
    if a_nan or b_nan:
        return a_nan and b_nan
    return abs(float(a) - float(b)) <= TOL


def check(name, got, want):
    if isinstance(want, (list, tuple, np.ndarray)):
        want = list(want)
        if not isinstance(got, list) or len(got) != len(want):
            raise Mismatch(f"{name}: got {got}, want {want}")
        for i, (g, w) in enumerate(zip(got, want)):
            check(f"{name}[{i}]", g, w)
        return
    if not close(got, float(want) if want is not None else None):
        raise Mismatch(f"{name}: got {got}, want {want}")


# ------------------------------------------------------------------ sklearn references
def prfs(yt, yp, labels, average, zd):
    """precision_recall_fscore_support with zd in {0, 1, nan} on any sklearn version."""
    if not (isinstance(zd, float) and math.isnan(zd)) or SK_HAS_NAN:
        p, r, f, _ = precision_recall_fscore_support(yt, yp, labels=labels, average=average, zero_division=zd)
        return p, r, f
    # Old sklearn: find the 0/0 entries per class, then average like _nanaverage.
    per = []
    p0, r0, f0, s = precision_recall_fscore_support(yt, yp, labels=labels, average=None, zero_division=0)
    p1, r1, f1, _ = precision_recall_fscore_support(yt, yp, labels=labels, average=None, zero_division=1)
    for a0, a1 in ((p0, p1), (r0, r1), (f0, f1)):
        per.append(np.where(a0 != a1, np.nan, a0))
    if average is None:
        return tuple(per)
    if average == "micro":
        m0 = precision_recall_fscore_support(yt, yp, labels=labels, average="micro", zero_division=0)
        m1 = precision_recall_fscore_support(yt, yp, labels=labels, average="micro", zero_division=1)
        return tuple(np.nan if a != b else a for a, b in zip(m0[:3], m1[:3]))
    out = []
    for a in per:
        mask = ~np.isnan(a)
        if not mask.any():
            out.append(np.nan)
        elif average == "macro":
            out.append(float(np.mean(a[mask])))
        else:
            w = s[mask]
            out.append(float(np.average(a[mask], weights=w)) if w.sum() > 0 else float(np.mean(a[mask])))
    return tuple(out)


def expected(labels, preds, k, zd, ignore, scores=None):
    y = np.array(labels)
    p = np.array(preds)
    keep = y != ignore if ignore is not None else np.ones(len(y), dtype=bool)
    yt, yp = y[keep], p[keep]
    present = sorted((set(yt.tolist()) | set(yp.tolist())) - ({ignore} if ignore is not None else set()))
    avg_labels = present if (ignore is not None and 0 <= ignore < k) else None
    e = {
        "num_classes": k,
        "support": int(keep.sum()),
        "accuracy": accuracy_score(yt, yp),
        "balanced_accuracy": balanced_accuracy_score(yt, yp),
        "confusion_matrix": confusion_matrix(yt, yp, labels=list(range(k))).tolist(),
    }
    per = prfs(yt, yp, list(range(k)), None, zd)
    for i, name in enumerate(("precision", "recall", "f1")):
        e[name] = {"per_class": list(per[i])}
    for average in ("macro", "micro", "weighted"):
        vals = prfs(yt, yp, avg_labels, average, zd)
        for i, name in enumerate(("precision", "recall", "f1")):
            e[name][average] = vals[i]
    if scores is not None:
        s = np.array(scores)[keep]
        e["roc_auc"] = roc_auc_score(yt, s) if len(set(yt.tolist())) == 2 else float("nan")
        e["average_precision"] = average_precision_score(yt, s)
        e["_roc"] = roc_curve(yt, s, drop_intermediate=False)
        e["_pr"] = precision_recall_curve(yt, s)
    return e


def compare(got, want):
    for key in ("num_classes", "support", "accuracy", "balanced_accuracy"):
        check(key, got.get(key), want[key])
    if got["confusion_matrix"] != want["confusion_matrix"]:
        raise Mismatch(f"confusion_matrix: got {got['confusion_matrix']}, want {want['confusion_matrix']}")
    for name in ("precision", "recall", "f1"):
        for field in ("macro", "micro", "weighted", "per_class"):
            check(f"{name}.{field}", got[name][field], want[name][field])
    if "roc_auc" in want:
        check("roc_auc", got.get("roc_auc"), want["roc_auc"])
        check("average_precision", got.get("average_precision"), want["average_precision"])
        fpr, tpr, thr = want["_roc"]
        check("roc_curve.fpr", got["roc_curve"]["fpr"], fpr)
        check("roc_curve.tpr", got["roc_curve"]["tpr"], tpr)
        check("roc_curve.thresholds[1:]", got["roc_curve"]["thresholds"][1:], thr[1:])
        prec, rec, pthr = want["_pr"]
        ours = {t: i for i, t in enumerate(got["pr_curve"]["thresholds"]) if t is not None}
        for j, t in enumerate(pthr):
            if float(t) not in ours:
                raise Mismatch(f"pr_curve: sklearn threshold {t} missing")
            i = ours[float(t)]
            check(f"pr_curve.precision@{t}", got["pr_curve"]["precision"][i], prec[j])
            check(f"pr_curve.recall@{t}", got["pr_curve"]["recall"][i], rec[j])


# ------------------------------------------------------------------ random cases
def write(path, values):
    with open(path, "w") as f:
        f.write("".join(f"{v!r}\n" if isinstance(v, float) else f"{v}\n" for v in values))


def run_tool(tool, args):
    r = subprocess.run([tool, *args, "--json"], capture_output=True, text=True)
    if r.returncode != 0:
        raise Mismatch(f"minidp-metrics exited {r.returncode}: {r.stderr.strip()}")
    return json.loads(r.stdout)


def skewed_probs(rng, k):
    w = [rng.random() ** 3 + 1e-3 for _ in range(k)]
    for c in range(k):  # sometimes a class never occurs
        if rng.random() < 0.15:
            w[c] = 0.0
    if sum(w) == 0:
        w[0] = 1.0
    return w


def multiclass_case(rng, tmp, tool):
    k = rng.randint(2, 8)
    n = rng.choice([1, 2, 3, rng.randint(4, 40), rng.randint(40, 300)])
    true_w, pred_w = skewed_probs(rng, k), skewed_probs(rng, k)
    skill = rng.random()
    labels = rng.choices(range(k), weights=true_w, k=n)
    preds = [y if rng.random() < skill else rng.choices(range(k), weights=pred_w)[0] for y in labels]
    zd_name = rng.choice(["0", "1", "nan"])
    zd = {"0": 0, "1": 1, "nan": float("nan")}[zd_name]
    ignore, mode = None, rng.random()
    if mode < 0.25:
        ignore = -100
        labels = [-100 if rng.random() < 0.2 else y for y in labels]
    elif mode < 0.45:
        ignore = rng.randrange(k)  # a real class, e.g. "background"
    if ignore is not None and all(y == ignore for y in labels):
        labels[0] = (ignore + 1) % k if ignore >= 0 else 0
    kept = [(y, p) for y, p in zip(labels, preds) if y != ignore]
    k_tool = max(max(max(y, p) for y, p in kept), max(preds)) + 1
    args = ["--labels", f"{tmp}/y", "--pred", f"{tmp}/p", "--zero-division", zd_name]
    if rng.random() < 0.3 or (ignore is not None and ignore >= k_tool):
        k_tool = max(k_tool, ignore + 1 if ignore is not None else 0) + rng.randint(0, 2)
        args += ["--num-classes", str(k_tool)]
    if ignore is not None:
        args += ["--ignore-index", str(ignore)]
    write(f"{tmp}/y", labels)
    write(f"{tmp}/p", preds)
    compare(run_tool(tool, args), expected(labels, preds, k_tool, zd, ignore))
    return f"multiclass k={k_tool} n={n} zd={zd_name} ignore={ignore}"


def binary_case(rng, tmp, tool):
    n = rng.choice([1, 2, rng.randint(3, 30), rng.randint(30, 400)])
    pos_rate = rng.choice([0.0, 1.0, 0.02, 0.1, 0.5, rng.random()])
    labels = [1 if rng.random() < pos_rate else 0 for _ in range(n)]
    sep = rng.random() * 2
    scores = [1 / (1 + math.exp(-(rng.gauss(0, 1) + sep * (2 * y - 1)))) for y in labels]
    digits = rng.choice([None, 1, 2])  # rounding makes ties, across and within classes
    if digits is not None:
        scores = [round(s, digits) for s in scores]
    threshold = rng.choice([0.5, 0.5, rng.random()])
    zd_name = rng.choice(["0", "1", "nan"])
    zd = {"0": 0, "1": 1, "nan": float("nan")}[zd_name]
    ignore = None
    if rng.random() < 0.2 and n > 1:
        ignore = -1
        labels = [-1 if rng.random() < 0.2 else y for y in labels]
        if all(y == -1 for y in labels):
            labels[0] = 0
    args = ["--labels", f"{tmp}/y", "--scores", f"{tmp}/s", "--zero-division", zd_name,
            "--threshold", repr(threshold)]
    if ignore is not None:
        args += ["--ignore-index", str(ignore)]
    if rng.random() < 0.3:  # predictions given separately; scores only feed AUC/AP
        preds = [rng.randint(0, 1) for _ in labels]
        write(f"{tmp}/p", preds)
        args += ["--pred", f"{tmp}/p"]
    else:
        preds = [1 if s >= threshold else 0 for s in scores]
    write(f"{tmp}/y", labels)
    write(f"{tmp}/s", scores)
    compare(run_tool(tool, args), expected(labels, preds, 2, zd, ignore, scores))
    return f"binary n={n} pos_rate={pos_rate:.2f} ties={digits is not None} zd={zd_name} ignore={ignore}"


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    tool = sys.argv[1]
    cases = int(sys.argv[sys.argv.index("--cases") + 1]) if "--cases" in sys.argv else 400
    seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 20240601
    rng = random.Random(seed)
    counts = {"multiclass": 0, "binary": 0}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(cases):
            kind = "multiclass" if i % 2 == 0 else "binary"
            for name in ("y", "p", "s"):
                if os.path.exists(f"{tmp}/{name}"):
                    os.remove(f"{tmp}/{name}")
            try:
                (multiclass_case if kind == "multiclass" else binary_case)(rng, tmp, tool)
            except Mismatch as e:
                print(f"MISMATCH in case {i} ({kind}, seed {seed}): {e}")
                for name in ("y", "p", "s"):
                    if os.path.exists(f"{tmp}/{name}"):
                        with open(f"{tmp}/{name}") as f:
                            print(f"  {name}: {' '.join(f.read().split())}")
                return 1
            counts[kind] += 1
    nan_note = "native" if SK_HAS_NAN else "derived from 0/1 (sklearn < 1.3)"
    print(f"OK: {counts['multiclass']} multi-class and {counts['binary']} binary random cases agree with "
          f"scikit-learn {sklearn.__version__} to {TOL} (zero_division=nan: {nan_note})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
