#!/usr/bin/env python3
"""Prints minidp's step benchmark beside PyTorch's, as ratios.

Reads the JSON lines that bench_step (--jsonl) and bench/torch_step.py
(--jsonl) appended to the same file(s), matches rows by (model, batch, TF32,
device kind), and prints one line per minidp configuration:

  model batch  devices  minidp samples/s  ms/step | PyTorch eager, graph | ratio vs eager, vs graph | peak MiB

A configuration measured several times (bench/cpu.sh alternates minidp and
PyTorch over several rounds) is reported by its median samples/s, and the
column "n" says how many rounds it had. On the CPU the memory column is the
process's peak resident memory (what the system counts, libraries included);
on a GPU, the framework's peak of allocated device memory.

A ratio above 1 means minidp is faster. Rows without a PyTorch partner show
"-" (PyTorch not installed, or a mode it cannot run). A minidp step asked to
run as a CUDA graph that ran eagerly instead (bench_step's mode
"graph-fell-back") is its own row, marked FELL BACK.

    python3 bench/compare.py results.jsonl [--markdown]
"""
import argparse
import json
import sys


def load(paths):
    rows = []
    for p in paths:
        with open(p) as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    print(f"compare.py: {p}:{n}: not JSON ({e}); skipped", file=sys.stderr)
    return rows


def key(r):
    return (r.get("model"), r.get("batch"), bool(r.get("tf32")), r.get("device_kind"))


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def aggregate(rows):
    """Rows of one configuration (same framework, devices, mode, key) merged: median speed, largest peak."""
    groups = {}
    for r in rows:
        groups.setdefault((r.get("framework"), r.get("devices"), r.get("mode")) + key(r), []).append(r)
    out = []
    for rs in groups.values():
        m = dict(rs[0])
        m["samples_per_s"] = median([r["samples_per_s"] for r in rs])
        if all(r.get("ms_per_step") is not None for r in rs):
            m["ms_per_step"] = median([r["ms_per_step"] for r in rs])
        for k in ("peak_memory_mib", "peak_rss_mib"):
            vals = [r[k] for r in rs if r.get(k) is not None]
            m[k] = max(vals) if vals else None
        m["rounds"] = len(rs)
        out.append(m)
    return out


def memory(r):
    return r.get("peak_rss_mib") if r.get("device_kind") == "cpu" else r.get("peak_memory_mib")


def table(rows, markdown=False):
    rows = aggregate(rows)
    torch = {}
    for r in rows:
        if r.get("framework") == "pytorch":
            torch[key(r) + (r.get("mode"),)] = r
    head = ["model", "batch", "prec", "minidp devices", "threads", "n", "minidp samples/s", "ms/step", "torch eager",
            "torch graph", "vs eager", "vs graph", "peak MiB (minidp/torch)"]
    lines = []
    for r in rows:
        if r.get("framework") != "minidp":
            continue
        e = torch.get(key(r) + ("eager",))
        g = torch.get(key(r) + ("graph",))
        sps = r["samples_per_s"]
        threads = "-"
        if r.get("threads"):
            threads = f"{r['threads']}" + (f" ({r['threads_per_replica']}/rep)" if r.get("replicas", 1) > 1 else "")
        # minidp's step as a CUDA graph; one asked for but not captured is its own row, never merged into eager's
        devices = r["devices"] + {"graph": " graph", "graph-fell-back": " graph FELL BACK (ran eager)"}.get(
            r.get("mode"), "")
        lines.append([r["model"], str(r["batch"]), "tf32" if r.get("tf32") else "fp32", devices, threads,
                      str(r["rounds"]), fmt(sps, ",.0f"), fmt(r.get("ms_per_step"), ".3f"),
                      fmt(e and e["samples_per_s"], ",.0f"), fmt(g and g["samples_per_s"], ",.0f"),
                      fmt(e and sps / e["samples_per_s"], ".2f") + ("x" if e else ""),
                      fmt(g and sps / g["samples_per_s"], ".2f") + ("x" if g else ""),
                      f"{fmt(memory(r), '.0f')}/{fmt(e and memory(e), '.0f')}"])
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(l) + " |" for l in lines]
        return "\n".join(out)
    widths = [max(len(h), *(len(l[i]) for l in lines)) if lines else len(h) for i, h in enumerate(head)]
    out = ["  ".join(h.rjust(w) for h, w in zip(head, widths))]
    out += ["  ".join(c.rjust(w) for c, w in zip(l, widths)) for l in lines]
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+")
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    rows = load(a.files)
    if not any(r.get("framework") == "minidp" for r in rows):
        print("compare.py: no minidp rows in " + ", ".join(a.files), file=sys.stderr)
        return 1
    print(table(rows, a.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
