#!/usr/bin/env python3
"""Draws a --trace file (Chrome trace events) as a timeline PNG: one row per
replica stream and per communication thread of every rank, the phases of each
step as coloured bars. What Perfetto shows, as a picture for a page.

    python3 tools/plot_trace.py trace.json trace.png [--from-ms 100] [--span-ms 60]
"""
import argparse
import json
import sys

COLOURS = {"data": "#9e9e9e", "forward": "#4c78a8", "backward": "#f58518", "allreduce (exposed)": "#e45756",
           "optimizer": "#54a24b"}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("trace")
    ap.add_argument("png")
    ap.add_argument("--from-ms", type=float, default=None, help="start of the window (default: the 6th step)")
    ap.add_argument("--span-ms", type=float, default=None, help="width of the window (default: 3 steps)")
    a = ap.parse_args()
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot_trace.py: matplotlib is not installed (apt-get install python3-matplotlib)", file=sys.stderr)
        return 3
    events = json.load(open(a.trace))["traceEvents"]
    names = {}
    for e in events:
        if e["ph"] == "M" and e["name"] == "process_name":
            names[(e["pid"], None)] = e["args"]["name"]
        elif e["ph"] == "M" and e["name"] == "thread_name":
            names[(e["pid"], e["tid"])] = e["args"]["name"]
    bars = [e for e in events if e["ph"] == "X"]
    rows = sorted({(e["pid"], e["tid"]) for e in bars})
    starts = sorted(e["ts"] for e in bars if e["name"] == "data" and e["pid"] == rows[0][0] and e["tid"] == rows[0][1])
    if a.from_ms is None:
        a.from_ms = starts[min(5, len(starts) - 1)] / 1e3
    if a.span_ms is None:
        i = min(5, len(starts) - 1)
        a.span_ms = (starts[min(i + 3, len(starts) - 1)] - starts[i]) / 1e3 if len(starts) > i + 3 else 50
    lo, hi = a.from_ms * 1e3, (a.from_ms + a.span_ms) * 1e3
    fig, ax = plt.subplots(figsize=(13, 0.55 * len(rows) + 1.4))
    for y, (pid, tid) in enumerate(rows):
        for e in bars:
            if (e["pid"], e["tid"]) != (pid, tid) or e["ts"] + e["dur"] < lo or e["ts"] > hi:
                continue
            colour = COLOURS.get(e["name"], "#b279a2")
            ax.barh(y, e["dur"] / 1e3, left=(e["ts"] - lo) / 1e3, color=colour, edgecolor="white", height=0.7)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{names.get((p, None), p)}: {names.get((p, t), t)}" for p, t in rows])
    ax.invert_yaxis()
    ax.set_xlim(0, a.span_ms)
    ax.set_xlabel("ms")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in COLOURS.values()] + [plt.Rectangle((0, 0), 1, 1, color="#b279a2")]
    ax.legend(handles, list(COLOURS) + ["collectives\n(communication thread)"], fontsize=8, loc="center left",
              bbox_to_anchor=(1.01, 0.5))
    ax.set_title(a.trace.split("/")[-1])
    fig.tight_layout()
    fig.savefig(a.png, dpi=110)
    print(f"wrote {a.png}: {len(rows)} rows, {a.span_ms:.1f} ms from {a.from_ms:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
