#!/usr/bin/env python3
"""bench_step on the CPU, a few steps of each model: it must report a speed,
a finite loss and no host synchronisation inside the timed steps. Then
bench/compare.py on hand-made rows must print the ratios they imply."""
import json
import math
import os
import subprocess
import sys
import tempfile

bench, bench_dir = sys.argv[1], sys.argv[2]
with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "rows.jsonl")
    for model, batch in (("mlp", 32), ("cnn", 8), ("wide", 4)):
        subprocess.run([bench, "--model", model, "--batch", str(batch), "--devices", "cpu,cpu", "--warmup", "1",
                        "--steps", "2", "--runs", "3", "--jsonl", out], check=True)
    rows = [json.loads(l) for l in open(out)]
    assert [r["model"] for r in rows] == ["mlp", "cnn", "wide"], rows
    for r in rows:
        assert r["framework"] == "minidp" and r["replicas"] == 2 and r["device_kind"] == "cpu", r
        assert r["samples_per_s"] > 0 and len(r["runs_ms"]) == 3, r
        assert sorted(r["runs_ms"])[1] == r["ms_per_step"], r  # the median run
        assert abs(r["samples_per_s"] - r["batch"] / (r["ms_per_step"] / 1e3)) < 1e-6 * r["samples_per_s"], r
        assert math.isfinite(r["loss"]) and r["loss"] > 0, r
        assert r["host_syncs_per_step"] == 0, r  # the step queues work and returns
        assert r["peak_memory_mib"] > 0, r
        assert r["threads"] >= 1 and r["threads_per_replica"] == max(1, r["threads"] // 2), r  # 2 replicas share them
        assert r["peak_rss_mib"] >= r["peak_memory_mib"], r
    for r in rows:
        assert r["mode"] == "eager", r
    # --cuda-graph on CPU replicas: no graph is captured, so the row says it fell back (never "eager" or "graph")
    fb = os.path.join(tmp, "fallback.jsonl")
    p = subprocess.run([bench, "--model", "mlp", "--batch", "8", "--devices", "cpu", "--warmup", "1", "--steps", "1",
                        "--runs", "1", "--cuda-graph", "--jsonl", fb], check=True, capture_output=True, text=True)
    assert json.loads(open(fb).read())["mode"] == "graph-fell-back", open(fb).read()
    assert "FELL BACK" in p.stdout and "minidp: cuda_graph: CPU replicas run eagerly" in p.stderr, (p.stdout, p.stderr)
    fb_table = subprocess.run([sys.executable, os.path.join(bench_dir, "compare.py"), fb], check=True,
                              capture_output=True, text=True).stdout
    assert "cpu graph FELL BACK (ran eager)" in fb_table, fb_table
    # 784*1024 + 1024*1024 + 1024*10 multiply-adds, x 6 flops per sample
    mlp = rows[0]
    assert abs(mlp["tflops"] - 6 * (784 * 1024 + 1024 * 1024 + 10240) * mlp["samples_per_s"] / 1e12) < 1e-12

    # compare.py: minidp 2000 samples/s against PyTorch eager 1000 and graph 4000 -> 2.00x and 0.50x
    fake = os.path.join(tmp, "fake.jsonl")
    with open(fake, "w") as f:
        base = {"model": "mlp", "batch": 512, "tf32": False, "device_kind": "cuda", "peak_memory_mib": 90.0}
        f.write(json.dumps({**base, "framework": "minidp", "devices": "cuda:0", "samples_per_s": 2000.0,
                            "ms_per_step": 256.0}) + "\n")
        f.write(json.dumps({**base, "framework": "pytorch", "mode": "eager", "samples_per_s": 1000.0,
                            "peak_memory_mib": 96.0}) + "\n")
        f.write(json.dumps({**base, "framework": "pytorch", "mode": "graph", "samples_per_s": 4000.0}) + "\n")
        f.write(json.dumps({**base, "framework": "minidp", "devices": "cuda:0", "tf32": True, "samples_per_s": 5.0,
                            "ms_per_step": 1.0}) + "\n")
        # Three rounds on the CPU: medians 3000 (minidp) and 2000 (PyTorch) -> 1.50x; memory: peak resident
        cpu = {"model": "cnn", "batch": 256, "tf32": False, "device_kind": "cpu", "devices": "cpu"}
        for m, t in ((3000.0, 1000.0), (2500.0, 2000.0), (9000.0, 2100.0)):
            f.write(json.dumps({**cpu, "framework": "minidp", "samples_per_s": m, "ms_per_step": 256e3 / m,
                                "threads": 2, "replicas": 1, "peak_memory_mib": 50.0, "peak_rss_mib": 200.0}) + "\n")
            f.write(json.dumps({**cpu, "framework": "pytorch", "mode": "eager", "samples_per_s": t,
                                "peak_rss_mib": 300.0}) + "\n")
    table = subprocess.run([sys.executable, os.path.join(bench_dir, "compare.py"), fake], check=True,
                           capture_output=True, text=True).stdout
    print(table)
    lines = table.strip().splitlines()
    assert len(lines) == 4, lines
    assert "2.00x" in lines[1] and "0.50x" in lines[1] and "90/96" in lines[1], lines[1]
    assert lines[2].split()[-3:-1] == ["-", "-"], lines[2]  # TF32 row: no PyTorch partner
    cells = lines[3].split()
    assert "3,000" in cells and "2,000" in cells and "1.50x" in cells and "200/300" in cells, lines[3]
    assert cells[5] == "3", lines[3]  # three rounds
print("bench ok")
