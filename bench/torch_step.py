#!/usr/bin/env python3
"""PyTorch's side of the step benchmark: the same models, shapes and optimizer
as bench/bench_step.cpp, timed the same way (warm-up steps, then runs of N
steps timed with CUDA events on a GPU or the host clock on the CPU; the median
run is reported), appended as one JSON line per mode.

Modes:
  eager  the usual loop: zero_grad, forward, loss, backward, optimizer.step
  graph  the whole step (forward, backward, SGD) captured once in a CUDA graph
         and replayed (torch.cuda.graph), PyTorch's fastest form of a small
         step; GPU only.

    python3 bench/torch_step.py --model mlp --batch 512 --device cuda --modes eager,graph --jsonl out.jsonl
    python3 bench/torch_step.py --model cnn --batch 256 --device cpu --threads 2
"""
import argparse
import json
import resource
import statistics
import sys
import time


def build(torch, model, device):
    nn = torch.nn
    if model == "mlp":
        net = nn.Sequential(nn.Flatten(), nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(),
                            nn.Linear(1024, 10))
        shape = (1, 28, 28)
    elif model == "cnn":
        net = nn.Sequential(nn.Conv2d(1, 32, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, 1, 1),
                            nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(),
                            nn.Linear(128, 10))
        shape = (1, 28, 28)
    else:  # wide: 4096 x 3 + 10
        layers = [nn.Flatten()]
        for _ in range(3):
            layers += [nn.Linear(4096, 4096), nn.ReLU()]
        net = nn.Sequential(*layers, nn.Linear(4096, 10))
        shape = (4096,)
    return net.to(device), shape


def flops_per_sample(model):
    if model == "mlp":
        macs = 784 * 1024 + 1024 * 1024 + 1024 * 10
    elif model == "wide":
        macs = 3 * 4096 * 4096 + 4096 * 10
    else:
        macs = 28 * 28 * 32 * 9 + 14 * 14 * 64 * 32 * 9 + 3136 * 128 + 128 * 10
    return 6.0 * macs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=["mlp", "cnn", "wide"], default="mlp")
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    ap.add_argument("--modes", default="eager,graph", help="comma-separated: eager, graph")
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tf32", action="store_true")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (torch.set_num_threads); 0 = PyTorch's default")
    ap.add_argument("--jsonl", default="")
    a = ap.parse_args()
    try:
        import torch
    except ImportError:
        print("torch_step.py: PyTorch is not installed. On Debian/Ubuntu: sudo apt-get install python3-torch "
              "(for OpenBLAS: libopenblas0-openmp), or pip install torch.", file=sys.stderr)
        return 3
    if a.device == "cuda" and not torch.cuda.is_available():
        print("torch_step.py: no CUDA device visible to PyTorch", file=sys.stderr)
        return 3
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.backends.cuda.matmul.allow_tf32 = a.tf32
    torch.backends.cudnn.allow_tf32 = a.tf32
    torch.manual_seed(0)
    dev = torch.device(a.device)
    for mode in [m for m in a.modes.split(",") if m]:
        if mode == "graph" and a.device != "cuda":
            continue
        net, shape = build(torch, a.model, dev)
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        loss_fn = torch.nn.CrossEntropyLoss()
        x = torch.randn(a.batch, *shape, device=dev)
        y = torch.randint(0, 10, (a.batch,), device=dev)
        if a.device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()

        def eager_step():
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(x), y)
            loss.backward()
            opt.step()
            return loss

        step = eager_step
        if mode == "graph":
            # Warm up on a side stream (as torch.cuda.graph's documentation asks), then capture one whole step.
            s = torch.cuda.Stream()
            s.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(s):
                for _ in range(3):
                    eager_step()
            torch.cuda.current_stream().wait_stream(s)
            g = torch.cuda.CUDAGraph()
            opt.zero_grad(set_to_none=True)
            with torch.cuda.graph(g):
                static_loss = loss_fn(net(x), y)
                static_loss.backward()
                opt.step()

            def step():
                g.replay()
                return static_loss

        for _ in range(a.warmup):
            loss = step()
        times = []
        for _ in range(a.runs):
            if a.device == "cuda":
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                torch.cuda.synchronize()
                start.record()
                for _ in range(a.steps):
                    loss = step()
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end) / a.steps)
            else:
                t0 = time.perf_counter()
                for _ in range(a.steps):
                    loss = step()
                times.append((time.perf_counter() - t0) * 1e3 / a.steps)
        ms = statistics.median(times)
        sps = a.batch / (ms / 1e3)
        peak = torch.cuda.max_memory_allocated() / 2**20 if a.device == "cuda" else float("nan")
        row = {"framework": "pytorch", "version": torch.__version__, "mode": mode, "model": a.model,
               "batch": a.batch, "devices": a.device, "device_kind": a.device, "replicas": 1, "tf32": a.tf32,
               "threads": torch.get_num_threads(), "ms_per_step": ms, "samples_per_s": sps,
               "tflops": flops_per_sample(a.model) * sps / 1e12, "runs_ms": times,
               "peak_memory_mib": None if peak != peak else peak, "loss": float(loss.item()),
               # the process's peak resident memory (Linux: KiB), libraries and caches included
               "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}
        print(f"pytorch {a.model:<5} batch {a.batch:<6} {a.device:<6} {mode:<5} {'tf32' if a.tf32 else 'fp32'}  "
              f"{ms:10.3f} ms/step  {sps:12.0f} samples/s  {row['tflops']:7.2f} TFLOP/s"
              + (f"  threads {row['threads']}  peak RSS {row['peak_rss_mib']:.0f} MiB" if a.device == "cpu" else ""))
        if a.jsonl:
            with open(a.jsonl, "a") as f:
                f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
