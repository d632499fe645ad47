#!/usr/bin/env python3
"""Draws three pictures for docs/walkthrough.md from a real run: it runs
`train_mlp --explain --devices cpu,cpu,cpu` (one SGD step of the MLP
784-1024-1024-10 on a batch of 128, three CPU replicas, opened into its
phases) and draws what that run printed:

  buckets.png                   the gradient buckets, last layer first, and the
                                order backward's gradient hooks fired (stop 7)
  inprocess_sum.png             bucket 0 summed in one process: thread r sums
                                chunk r of every replica's buffer (stop 9,
                                parallel/cpu_allreduce.cpp)
  reduce_scatter_allgather.png  bucket 0 and the [loss sum, sample count] tail
                                summed across 3 processes: reduce-scatter, then
                                all-gather (stop 16, parallel/mpi_communicator.cpp)

    python3 tools/draw_pictures.py [--train-mlp build/examples/train_mlp] [--out docs/images]
    python3 tools/draw_pictures.py --from explain.txt     # a saved --explain output instead

`make pictures` builds train_mlp and runs it.
"""
import argparse
import math
import os
import re
import subprocess
import sys

# One colour per chunk owner (thread r, rank r), as tools/plot_trace.py's phases.
OWNER = ["#4c78a8", "#f58518", "#54a24b", "#b279a2", "#e45756", "#72b7b2"]
LAYER = {"1": "#4c78a8", "3": "#f58518", "5": "#54a24b"}
INK = "#222222"

FORMAT = """train_mlp --explain prints, among other lines (the numbers vary):
  1. global batch of 128 samples
     replica 0 on cpu: rows [0, 43) of them, 43 samples (a view)
     bucket 0: 5.bias (10) 5.weight (10240) 3.bias (1024) = 11274 floats
  3. gradient hooks fired in this order (...): 5.weight 5.bias 3.weight ...
  4. replica 0 tail before the sum: [loss sum 99.659988, sample count 43]
  5. after the sum over every replica: global count 128, mean loss 2.312543 ..."""

NUM = r"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?"
RE_BATCH = re.compile(r"^\s*1\.\s+global batch of (\d+) samples")
RE_REPLICA = re.compile(r"^\s*replica (\d+) on (\S+): rows \[(\d+), (\d+)\) of them, (\d+) samples")
RE_BUCKET = re.compile(r"^\s*bucket (\d+): (.+?) = (\d+) floats\s*$")
RE_PARAM = re.compile(r"(\S+) \((\d+)\)")
RE_HOOKS = re.compile(r"^\s*3\.\s+gradient hooks fired in this order[^:]*:\s*(.+?)\s*$")
RE_TAIL = re.compile(r"^\s*4\.\s+replica (\d+) tail before the sum: \[loss sum (" + NUM + r"), sample count (" + NUM +
                     r")\]")
RE_SUM = re.compile(r"^\s*5\.\s+after the sum over every replica: global count (" + NUM + r"), mean loss (" + NUM +
                    r")")


class ParseError(Exception):
    pass


def parse(text):
    """The numbers of one --explain run; ParseError naming what is missing or inconsistent."""
    run = {"batch": None, "replicas": [], "buckets": [], "hooks": None, "tails": [], "count": None, "mean": None}
    for line in text.splitlines():
        if m := RE_BATCH.match(line):
            run["batch"] = int(m[1])
        elif m := RE_REPLICA.match(line):
            run["replicas"].append({"id": int(m[1]), "device": m[2], "lo": int(m[3]), "hi": int(m[4]), "n": int(m[5])})
        elif m := RE_BUCKET.match(line):
            params = [(name, int(n)) for name, n in RE_PARAM.findall(m[2])]
            if not params or sum(n for _, n in params) != int(m[3]):
                raise ParseError(f"bucket line {line.strip()!r}: its parameters' sizes do not add up to its total")
            run["buckets"].append({"id": int(m[1]), "params": params, "total": int(m[3])})
        elif m := RE_HOOKS.match(line):
            run["hooks"] = m[1].split()
        elif m := RE_TAIL.match(line):
            run["tails"].append({"id": int(m[1]), "loss": float(m[2]), "count": float(m[3]), "text": m[2]})
        elif m := RE_SUM.match(line):
            run["count"], run["mean"], run["mean_text"] = float(m[1]), float(m[2]), m[2]
    missing = [what for what, ok in [
        ("'1. global batch of N samples'", run["batch"] is not None),
        ("'replica R on DEVICE: rows [LO, HI) of them, N samples'", run["replicas"]),
        ("'bucket B: NAME (N) ... = TOTAL floats'", run["buckets"]),
        ("'3. gradient hooks fired in this order ...: NAME NAME ...'", run["hooks"]),
        ("'4. replica R tail before the sum: [loss sum X, sample count N]'", run["tails"]),
        ("'5. after the sum over every replica: global count N, mean loss X'", run["count"] is not None)] if not ok]
    if missing:
        raise ParseError("no line of the form " + "; no line of the form ".join(missing))
    k = len(run["replicas"])
    if [r["id"] for r in run["replicas"]] != list(range(k)) or [t["id"] for t in run["tails"]] != list(range(k)):
        raise ParseError(f"expected replicas and tails 0..{k - 1} in order")
    if sum(r["n"] for r in run["replicas"]) != run["batch"] or \
            any(r["hi"] - r["lo"] != r["n"] for r in run["replicas"]):
        raise ParseError(f"the replicas' rows do not make up the batch of {run['batch']}")
    names = [name for b in run["buckets"] for name, _ in b["params"]]
    if sorted(names) != sorted(run["hooks"]):
        raise ParseError("the hooks line does not name the buckets' parameters, each once")
    if k < 2:
        raise ParseError("one replica: nothing is summed (run with --devices cpu,cpu,cpu)")
    return run


def chunks(n, k):
    """parallel/cpu_allreduce.cpp's rule: per = ceil(n/k), chunk r = [min(n, r*per), min(n, r*per + per))."""
    per = (n + k - 1) // k
    return per, [(min(n, r * per), min(n, min(n, r * per) + per)) for r in range(k)]


def tint(colour, amount):
    """colour mixed with white: amount 0 is white, 1 the colour."""
    c = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    return tuple(1 - amount * (1 - x) for x in c)


def shade(colour, amount):
    """colour mixed with black: amount 0 is the colour, 1 black."""
    return tuple((1 - amount) * int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5))


def save(fig, path, dpi=100):
    """The figure as a PNG with a palette of 128 colours (a third of the bytes, the same look), as RGB when Pillow
    is missing."""
    import io
    try:
        from PIL import Image
    except ImportError:
        fig.savefig(path, dpi=dpi)
        return
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    buf.seek(0)
    Image.open(buf).convert("RGB").quantize(colors=128).save(path, optimize=True)


def fmt(n):
    return f"{int(n):,}"


# --- 1. buckets -----------------------------------------------------------------------------------------------------

def draw_buckets(plt, run, path):
    from matplotlib.patches import FancyArrowPatch, Rectangle
    hooks = run["hooks"]
    order = {name: i + 1 for i, name in enumerate(hooks)}
    layers = {}
    for b in run["buckets"]:
        for name, n in b["params"]:
            layers.setdefault(name.split(".")[0], {})[name.split(".")[-1]] = n
    dims = []
    for key in sorted(layers, key=lambda s: int(s) if s.isdigit() else 0):
        w, bias = layers[key].get("weight"), layers[key].get("bias")
        if w and bias and w % bias == 0:
            if not dims:
                dims.append(w // bias)
            dims.append(bias)
    arch = "-".join(str(d) for d in dims) if len(dims) >= 2 else "?"
    sizes = [n for b in run["buckets"] for _, n in b["params"]]

    MIN_W = 2.0

    def width(n):
        return max(MIN_W, math.log10(n))

    def marker(x, y, i):
        ax.plot([x], [y], marker="o", markersize=17, markerfacecolor="white", markeredgecolor=INK,
                markeredgewidth=1.3, zorder=3)
        ax.text(x, y, str(i), ha="center", va="center", fontsize=9.5, fontweight="bold", zorder=4)

    def size(floats):
        b = floats * 4
        return f"{b / 2**20:.2f} MiB" if b >= 2**20 else f"{b / 2**10:.1f} KiB"

    longest = max(sum(width(n) for _, n in b["params"]) for b in run["buckets"])
    nb = len(run["buckets"])
    fig, ax = plt.subplots(figsize=(13, 2.9 + 0.95 * nb))
    h, step = 0.62, 1.25
    for row, b in enumerate(run["buckets"]):
        y = row * step
        x = 0.0
        for name, n in b["params"]:
            w = width(n)
            colour = LAYER.get(name.split(".")[0], "#9e9e9e")
            ax.add_patch(Rectangle((x, y - h / 2), w, h, facecolor=tint(colour, 0.35 if "bias" in name else 0.7),
                                   edgecolor="white", linewidth=2.5))
            ax.text(x + w / 2, y - 0.04, name, ha="center", va="bottom", fontsize=11, fontweight="bold", color=INK)
            ax.text(x + w / 2, y + 0.02, f"{fmt(n)} floats", ha="center", va="top", fontsize=9.5, color=INK)
            marker(x + 0.28, y - h / 2, order[name])
            x += w
        ready = max(order[name] for name, _ in b["params"])
        ax.text(x + 0.2, y - 0.03, f"= {fmt(b['total'])} floats", ha="left", va="bottom", fontsize=11.5,
                fontweight="bold", color=INK)
        ax.text(x + 0.2, y + 0.05, f"{size(b['total'])}; complete after hook {ready}",
                ha="left", va="top", fontsize=9.5, color="#555555")
        ax.text(-0.3, y, f"bucket {b['id']}", ha="right", va="center", fontsize=12, fontweight="bold")
    # The fill direction, above the first bar.
    top = -h / 2 - 0.45
    ax.add_patch(FancyArrowPatch((0, top), (min(longest, 8.0), top), arrowstyle="-|>", mutation_scale=14,
                                 color="#555555", linewidth=1.2))
    ax.text(min(longest, 8.0) + 0.2, top, "offset 0 onwards: each flat bucket is filled in reverse registration "
            "order, last layer first", ha="left", va="center", fontsize=9.5, color="#555555")
    # The hooks, as backward fired them.
    yh = (nb - 1) * step + h / 2 + 0.75
    ax.text(-0.3, yh, "hooks fired", ha="right", va="center", fontsize=11, fontweight="bold")
    slot = longest / len(hooks)
    for i, name in enumerate(hooks):
        marker(i * slot + 0.2, yh, i + 1)
        ax.text(i * slot + 0.5, yh, name, ha="left", va="center", fontsize=10.5)
        if i + 1 < len(hooks):
            ax.text((i + 1) * slot - 0.3, yh, "\u2192", ha="center", va="center", fontsize=12, color="#555555")
    ax.text(0, yh + 0.42, "Backward runs the layers in reverse; a bucket's sum can start once all of its hooks fired. "
            "Numbers from train_mlp --explain --devices cpu,cpu,cpu.",
            ha="left", va="top", fontsize=9.5, color="#555555")
    ax.text(0, yh + 0.82, f"Not to scale: segment widths grow with log10 of the float count (at least {MIN_W:g}, so "
            f"that {min(sizes)} floats stay visible); the largest parameter is {round(max(sizes) / min(sizes)):,} "
            "times the smallest.",
            ha="left", va="top", fontsize=9, color="#555555", style="italic")
    ax.set_xlim(-1.75, longest + 4.2)
    ax.set_ylim(yh + 1.15, top - 0.3)
    ax.axis("off")
    ax.set_title(f"Gradient buckets of train_mlp's MLP {arch}: every parameter's .grad is a view into one",
                 fontsize=13, fontweight="bold")
    fig.tight_layout()
    save(fig, path)
    plt.close(fig)


# --- shared by 2 and 3: a block of buffers, one row per replica or rank ----------------------------------------------

class Board:
    """Cells of width W per chunk, rows of height H, in data coordinates (y grows downwards)."""

    def __init__(self, ax, k, x0=0.0, W=3.0, gap=0.12, H=0.62):
        self.ax, self.k, self.x0, self.W, self.gap, self.H = ax, k, x0, W, gap, H

    def x(self, r):
        return self.x0 + r * (self.W + self.gap)

    def right(self):
        return self.x(self.k) - self.gap

    def cell(self, r, y, colour, amount, lines, dashed=False, bold_first=True):
        from matplotlib.patches import Rectangle
        ax = self.ax
        if dashed:
            ax.add_patch(Rectangle((self.x(r), y - self.H / 2), self.W, self.H, facecolor="white", edgecolor="#bbbbbb",
                                   linewidth=1, linestyle=(0, (4, 3))))
        else:
            ax.add_patch(Rectangle((self.x(r), y - self.H / 2), self.W, self.H, facecolor=tint(colour, amount),
                                   edgecolor="white", linewidth=2))
        dark = amount > 0.75 and not dashed
        for i, s in enumerate(lines):
            dy = (i - (len(lines) - 1) / 2) * 0.22
            ax.text(self.x(r) + self.W / 2, y + dy, s, ha="center", va="center", fontsize=9.5 if i else 10,
                    fontweight="bold" if (i == 0 and bold_first) else "normal",
                    color="white" if dark else ("#999999" if dashed else INK))

    def gather(self, r, ys, y_to, colour, x_frac=0.07, label=None, label_y=None):
        """A bus on the left of column r's cells at ys, ending in an arrow at y_to."""
        ax = self.ax
        colour = shade(colour, 0.3)
        xb = self.x(r) + self.W * x_frac
        for y in ys:
            ax.plot([xb, xb + 0.16], [y, y], color=colour, linewidth=1.6, solid_capstyle="round")
            ax.plot([xb], [y], marker="o", markersize=4.5, color=colour)
        ax.plot([xb, xb], [min(ys), y_to - 0.12], color=colour, linewidth=1.6)
        ax.annotate("", xy=(xb, y_to), xytext=(xb, y_to - 0.14),
                    arrowprops=dict(arrowstyle="-|>", color=colour, linewidth=1.6, mutation_scale=13))
        if label:
            y = label_y if label_y is not None else (max(ys) + y_to) / 2 + 0.02
            ax.text(xb + 0.08, y, label, ha="left", va="center", fontsize=8.5, color=colour, fontweight="bold")

    def scatter(self, r, y_from, ys, colour, x_frac=0.93, label=None, label_y=None):
        """A bus on the right of column r from y_from down to the cells at ys, with an arrowhead into each."""
        ax = self.ax
        colour = shade(colour, 0.3)
        xb = self.x(r) + self.W * x_frac
        ax.plot([xb, xb], [y_from, max(ys)], color=colour, linewidth=1.6)
        for y in ys:
            ax.annotate("", xy=(xb - 0.2, y), xytext=(xb + 0.001, y),
                        arrowprops=dict(arrowstyle="-|>", color=colour, linewidth=1.6, mutation_scale=11,
                                        shrinkA=0, shrinkB=0))
        if label:
            ax.text(xb - 0.08, label_y if label_y is not None else y_from + 0.08, label, ha="right",
                    va="center" if label_y is not None else "top", fontsize=8.5, color=colour,
                    fontweight="bold")


def side(ax, x, ys, H, text):
    """A bracket beside the rows at ys, with text turned along it."""
    ax.text(x - 0.3, (ys[0] + ys[-1]) / 2, text, ha="center", va="center", rotation=90, fontsize=10.5,
            fontweight="bold", linespacing=1.4)
    ax.plot([x] * 2, [ys[0] - H / 2, ys[-1] + H / 2], color="#999999", linewidth=1.2)


def replica_label(rep, what="replica"):
    return f"{what} {rep['id']} on {rep['device']}\nbatch rows [{rep['lo']}, {rep['hi']}): {rep['n']} samples"


# --- 2. the in-process sum ------------------------------------------------------------------------------------------

def draw_inprocess(plt, run, path):
    from matplotlib.patches import FancyBboxPatch
    b = run["buckets"][0]
    n, reps = b["total"], run["replicas"]
    k = len(reps)
    per, rng = chunks(n, k)
    fig, ax = plt.subplots(figsize=(12.5, 8.6))
    bd = Board(ax, k)
    row = 0.82
    before = [0.6 + j * row for j in range(k)]
    thread_y = before[-1] + 1.45
    after = [thread_y + 1.45 + j * row for j in range(k)]
    side(ax, bd.x0 - 2.55, before, bd.H, f"before the sum:\neach replica's own bucket {b['id']}")
    side(ax, bd.x0 - 2.55, after, bd.H, "after the sum:\nidentical buffers")
    for j, rep in enumerate(reps):
        for y in (before[j], after[j]):
            ax.text(bd.x0 - 0.15, y, replica_label(rep), ha="right", va="center", fontsize=9.5)
        for r, (lo, hi) in enumerate(rng):
            bd.cell(r, before[j], OWNER[r], 0.28, [f"chunk {r}: [{fmt(lo)}, {fmt(hi)})",
                                                   f"replica {j}'s own, {fmt(hi - lo)} floats"])
            bd.cell(r, after[j], OWNER[r], 0.9, [f"sum of chunk {r}", f"[{fmt(lo)}, {fmt(hi)})"])
    for r, (lo, hi) in enumerate(rng):
        c = OWNER[r]
        box_top, box_bottom = thread_y - 0.42, thread_y + 0.42
        ax.add_patch(FancyBboxPatch((bd.x(r) + 0.12, box_top), bd.W - 0.24, box_bottom - box_top,
                                    boxstyle="round,pad=0.02,rounding_size=0.12", facecolor=tint(c, 0.12),
                                    edgecolor=c, linewidth=1.8))
        ax.text(bd.x(r) + bd.W / 2, thread_y - 0.2, f"thread {r} (replica {r}'s)", ha="center", va="center",
                fontsize=10.5, fontweight="bold", color=c)
        terms = " + ".join(f"b{j}[i]" for j in range(k))
        ax.text(bd.x(r) + bd.W / 2, thread_y + 0.13, f"for i in [{fmt(lo)}, {fmt(hi)}):\nacc = {terms}",
                ha="center", va="center", fontsize=9, family="monospace")
        bd.gather(r, before, box_top, c, x_frac=0.06, label="reads chunk %d of every\nbuffer, in replica order" % r)
        bd.scatter(r, box_bottom, after, c, x_frac=0.94, label="writes acc into\nevery buffer")
    ax.text(bd.x0 + 1.5 * bd.W + bd.gap, before[0] - 0.75,
            f"n = {fmt(n)} floats, k = {k} threads:  per = ceil(n / k) = {fmt(per)};  "
            "chunk r = [min(n, r*per), min(n, r*per + per))",
            ha="center", va="center", fontsize=9.5, family="monospace", color="#555555")
    ax.text(bd.right(), after[-1] + 0.5,
            "Each float is added once, by its owner, in the same order: every replica ends with the same bits.",
            ha="right", va="top", fontsize=9.5, style="italic", color="#555555")
    ax.set_xlim(bd.x0 - 3.2, bd.right() + 0.05)
    ax.set_ylim(after[-1] + 0.8, before[0] - 1.0)
    ax.axis("off")
    ax.set_title(f"The in-process sum of bucket {b['id']} over {k} replicas (allreduce_sum_cpu)",
                 fontsize=13, fontweight="bold")
    fig.tight_layout()
    save(fig, path)
    plt.close(fig)


# --- 3. reduce-scatter and all-gather across processes --------------------------------------------------------------

def draw_mpi(plt, run, path):
    b = run["buckets"][0]
    n, reps = b["total"], run["replicas"]
    k = len(reps)
    chunk = (n + k - 1) // k
    padded = chunk * k
    rng = [(r * chunk, min(n, (r + 1) * chunk)) for r in range(k)]
    fig = plt.figure(figsize=(14, 9.2))
    gs = fig.add_gridspec(2, 2, height_ratios=[3.2, 1.5], hspace=0.1, wspace=0.04)
    panels = [fig.add_subplot(gs[0, 0]), fig.add_subplot(gs[0, 1])]
    row = 0.82
    ins = [0.6 + j * row for j in range(k)]
    outs = [ins[-1] + 1.25 + j * row for j in range(k)]

    def rank_names(ax, bd, ys):
        for j, rep in enumerate(reps):
            ax.text(bd.x0 - 0.12, ys[j], f"rank {j}\nrows [{rep['lo']}, {rep['hi']})", ha="right", va="center",
                    fontsize=9.5)

    def rng_text(r):
        lo, hi = rng[r]
        return f"[{fmt(lo)}, {fmt(hi)})"

    # Reduce-scatter: every rank's whole bucket in, rank r's summed chunk r out.
    ax = panels[0]
    bd = Board(ax, k, W=2.2, gap=0.1)
    side(ax, bd.x0 - 1.6, ins, bd.H, f"in: each rank's\nown bucket {b['id']}")
    side(ax, bd.x0 - 1.6, outs, bd.H, "out: rank r has\nthe sum of chunk r")
    rank_names(ax, bd, ins)
    rank_names(ax, bd, outs)
    for j in range(k):
        for r in range(k):
            bd.cell(r, ins[j], OWNER[r], 0.28, [f"chunk {r}", rng_text(r)])
            if r == j:
                bd.cell(r, outs[j], OWNER[r], 0.9, [f"sum of chunk {r}", f"{fmt(rng[r][1] - rng[r][0])} floats"])
            else:
                bd.cell(r, outs[j], OWNER[r], 0, ["-"], dashed=True, bold_first=False)
    for r in range(k):
        bd.gather(r, ins, outs[r] - bd.H / 2, OWNER[r], label=f"chunk {r} of\nevery rank, summed",
                  label_y=(ins[-1] + outs[0]) / 2)
    ax.set_title("1. reduce-scatter (MPI_Reduce_scatter_block)", fontsize=12, fontweight="bold")

    # All-gather: rank r's chunk in, every summed chunk out on every rank.
    ax = panels[1]
    bd = Board(ax, k, W=2.2, gap=0.1)
    side(ax, bd.x0 - 1.6, ins, bd.H, "in: rank r's\nsummed chunk r")
    side(ax, bd.x0 - 1.6, outs, bd.H, "out: every rank has\nevery summed chunk")
    rank_names(ax, bd, ins)
    rank_names(ax, bd, outs)
    for j in range(k):
        for r in range(k):
            if r == j:
                bd.cell(r, ins[j], OWNER[r], 0.9, [f"sum of chunk {r}", rng_text(r)])
            else:
                bd.cell(r, ins[j], OWNER[r], 0, ["-"], dashed=True, bold_first=False)
            bd.cell(r, outs[j], OWNER[r], 0.9, [f"sum of chunk {r}", rng_text(r)])
    for r in range(k):
        bd.scatter(r, ins[r] + bd.H / 2, outs, OWNER[r], label=f"rank {r} sends\nit to every rank",
                   label_y=(ins[-1] + outs[0]) / 2)
    ax.set_title("2. all-gather (MPI_Allgather)", fontsize=12, fontweight="bold")
    for ax in panels:
        ax.set_xlim(-2.3, bd.right() + 0.15)
        ax.set_ylim(outs[-1] + 0.45, ins[0] - 0.5)
        ax.axis("off")

    # The bucket's split, and the tail: 2 floats over k ranks, padded.
    ax = fig.add_subplot(gs[1, :])
    ax.axis("off")
    ax.set_xlim(0, 14)
    ax.set_ylim(3.75, 0)
    split = (f"bucket {b['id']}: n = {fmt(n)} floats, chunk = ceil(n / {k}) = {fmt(chunk)}; "
             + ("n splits evenly, so the bucket itself is the input: no padding."
                if padded == n else f"padded with {padded - n} zeros to {fmt(padded)} in a scratch buffer."))
    ax.text(0.1, 0.25, split, ha="left", va="center", fontsize=10)
    tails = run["tails"]
    tn = 2
    tchunk = (tn + k - 1) // k
    tpad = tchunk * k
    loss_total = sum(t["loss"] for t in tails)
    count_total = sum(t["count"] for t in tails)
    ax.text(0.1, 0.85, f"then the tail [loss sum, sample count], the same way: 2 floats over {k} ranks, chunk = "
            f"ceil(2 / {k}) = {tchunk}, so it is padded with {tpad - tn} zero{'s' if tpad - tn != 1 else ''} "
            f"to {tpad} floats:", ha="left", va="center", fontsize=10)
    cw, ch, X0 = 1.1, 0.5, 1.0
    summed = [loss_total, count_total] + [0.0] * (tpad - tn)
    heads = ["loss sum", "sample count"] + ["padding"] * (tpad - tn)
    for i, head in enumerate(heads):
        ax.text(X0 + i * (cw + 0.06) + cw / 2, 1.45, f"{head}\n(rank {i // tchunk} sums it)", ha="center",
                va="bottom", fontsize=8.5, color="#555555")
    for j, t in enumerate(tails):
        y = 1.8 + j * 0.62
        ax.text(X0 - 0.15, y, f"rank {j}", ha="right", va="center", fontsize=9.5)
        vals = [t["text"], fmt(t["count"])] + ["0"] * (tpad - tn)
        for i, v in enumerate(vals):
            owner = i // tchunk
            pad = i >= tn
            ax.add_patch(plt.Rectangle((X0 + i * (cw + 0.06), y - ch / 2), cw, ch,
                                       facecolor="white" if pad else tint(OWNER[owner], 0.28),
                                       edgecolor="#bbbbbb" if pad else "white", linewidth=1.2,
                                       linestyle=(0, (4, 3)) if pad else "solid"))
            ax.text(X0 + i * (cw + 0.06) + cw / 2, y, v, ha="center", va="center", fontsize=9,
                    color="#999999" if pad else INK)
    xs = X0 + tpad * (cw + 0.06) + 0.3
    ym = 1.8 + (k - 1) * 0.31
    ax.annotate("", xy=(xs + 1.0, ym), xytext=(xs, ym), arrowprops=dict(arrowstyle="-|>", color="#555555", lw=1.5))
    ax.text(xs + 0.5, ym - 0.32, "reduce-scatter,\nall-gather", ha="center", va="bottom", fontsize=8.5,
            color="#555555")
    xr = xs + 1.25
    for i, v in enumerate(summed):
        pad = i >= tn
        owner = i // tchunk
        ax.add_patch(plt.Rectangle((xr + i * (cw + 0.06), ym - ch / 2), cw, ch,
                                   facecolor="white" if pad else tint(OWNER[owner], 0.9),
                                   edgecolor="#bbbbbb" if pad else "white", linewidth=1.2,
                                   linestyle=(0, (4, 3)) if pad else "solid"))
        ax.text(xr + i * (cw + 0.06) + cw / 2, ym, f"{v:.6f}" if i == 0 else fmt(v), ha="center", va="center",
                fontsize=9, color="#999999" if pad else "white", fontweight="normal" if pad else "bold")
    ax.text(xr, ym + 0.45, "on every rank" + (" (the padding is dropped)" if tpad > tn else ""), ha="left",
            va="top", fontsize=9, color="#555555")
    xe = xr + tpad * (cw + 0.06) + 0.3
    ax.text(xe, ym - 0.15, f"global count {fmt(run['count'])}", ha="left", va="bottom", fontsize=10.5,
            fontweight="bold")
    ax.text(xe, ym + 0.05, f"mean loss {loss_total:.6f} / {fmt(run['count'])} = {run['mean_text']}",
            ha="left", va="top", fontsize=10.5, fontweight="bold")
    ax.text(xe, ym + 0.5, f"(this run's {k} replicas, as if they were {k} ranks)", ha="left", va="top",
            fontsize=8.5, color="#555555", style="italic")
    fig.suptitle(f"The sum of bucket {b['id']} across {k} processes (MpiCommunicator::sum_on_host)",
                 fontsize=13.5, fontweight="bold", y=0.975)
    fig.subplots_adjust(left=0.02, right=0.99, top=0.9, bottom=0.01)
    save(fig, path)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train-mlp", default="build/examples/train_mlp", metavar="PATH",
                    help="the train_mlp program to run")
    ap.add_argument("--out", default="docs/images", metavar="DIR", help="the folder to write the PNGs into")
    ap.add_argument("--from", dest="from_file", default=None, metavar="FILE",
                    help="read a saved `train_mlp --explain --devices cpu,cpu,cpu` output instead of running it")
    a = ap.parse_args()
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("draw_pictures.py: matplotlib is not installed (apt-get install python3-matplotlib)", file=sys.stderr)
        return 3
    if a.from_file:
        with open(a.from_file) as h:
            text, source = h.read(), a.from_file
    else:
        cmd = [a.train_mlp, "--explain", "--devices", "cpu,cpu,cpu"]
        source = " ".join(cmd)
        if not os.path.isfile(a.train_mlp):
            print(f"draw_pictures.py: no {a.train_mlp}: build it (make pictures, or cmake --build build --target "
                  "train_mlp) or name it with --train-mlp PATH", file=sys.stderr)
            return 2
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        except OSError as e:
            print(f"draw_pictures.py: cannot run {source}: {e}", file=sys.stderr)
            return 2
        if p.returncode != 0:
            print(f"draw_pictures.py: {source} failed (exit {p.returncode}):\n{p.stdout}{p.stderr}", file=sys.stderr)
            return 2
        text = p.stdout
    try:
        run = parse(text)
    except ParseError as e:
        print(f"draw_pictures.py: cannot read the output of {source}: {e}.\n{FORMAT}", file=sys.stderr)
        return 2
    os.makedirs(a.out, exist_ok=True)
    for name, draw in [("buckets.png", draw_buckets), ("inprocess_sum.png", draw_inprocess),
                       ("reduce_scatter_allgather.png", draw_mpi)]:
        path = os.path.join(a.out, name)
        draw(plt, run, path)
        print(f"wrote {path} ({os.path.getsize(path) // 1024} KiB)")
    b = run["buckets"][0]
    print(f"from {source}: batch {run['batch']} over {len(run['replicas'])} replicas "
          f"({', '.join(str(r['n']) for r in run['replicas'])}), {len(run['buckets'])} buckets "
          f"(bucket 0: {b['total']} floats), mean loss {run['mean_text']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
