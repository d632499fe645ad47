#!/usr/bin/env python3
"""Prints minidp's step benchmark beside PyTorch's, as ratios.

Reads the JSON lines that bench_step (--jsonl) and bench/torch_step.py
(--jsonl) appended to the same file(s), matches rows by (model, batch, TF32,
device kind), and prints one line per minidp configuration:

  model batch  devices  minidp samples/s  ms/step | PyTorch eager, graph | ratio vs eager, vs graph | peak MiB

A ratio above 1 means minidp is faster. Rows without a PyTorch partner show
"-" (PyTorch not installed, or a mode it cannot run).

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


def table(rows, markdown=False):
    torch = {}
    for r in rows:
        if r.get("framework") == "pytorch":
            torch[key(r) + (r.get("mode"),)] = r
    head = ["model", "batch", "prec", "minidp devices", "minidp samples/s", "ms/step", "torch eager", "torch graph",
            "vs eager", "vs graph", "peak MiB (minidp/torch)"]
    lines = []
    for r in rows:
        if r.get("framework") != "minidp":
            continue
        e = torch.get(key(r) + ("eager",))
        g = torch.get(key(r) + ("graph",))
        sps = r["samples_per_s"]
        peak_t = e.get("peak_memory_mib") if e else None
        lines.append([r["model"], str(r["batch"]), "tf32" if r.get("tf32") else "fp32", r["devices"], fmt(sps, ",.0f"),
                      fmt(r["ms_per_step"], ".3f"), fmt(e and e["samples_per_s"], ",.0f"),
                      fmt(g and g["samples_per_s"], ",.0f"), fmt(e and sps / e["samples_per_s"], ".2f") + ("x" if e else ""),
                      fmt(g and sps / g["samples_per_s"], ".2f") + ("x" if g else ""),
                      f"{fmt(r.get('peak_memory_mib'), '.0f')}/{fmt(peak_t, '.0f')}"])
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
