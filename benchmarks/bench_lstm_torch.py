#!/usr/bin/env python
"""The reference point of bench_lstm.py: PyTorch's CPU LSTM on the same shapes (five 1024-unit bidirectional layers,
directions summed, input 1312), forward and forward + backward. PyTorch is not a dependency of this project: run it
in an environment that has it (e.g. ``python -m venv t && t/bin/pip install torch numpy``).

    python benchmarks/bench_lstm_torch.py --batch 2 --frames 256

Prints one JSON line with the same fields as bench_lstm.py's "bilstm" variant.
"""
import argparse
import json
import os
import platform
import statistics
import time

import numpy as np

H, D0, LAYERS = 1024, 1312, 5


def gemm_peak_gflops(n=2048, repeats=10):
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    b = np.random.default_rng(1).standard_normal((n, n)).astype(np.float32)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best / 1e9


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--frames", type=int, default=256)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    import torch
    torch.manual_seed(0)
    layers = torch.nn.ModuleList([torch.nn.LSTM(s, H, bidirectional=True) for s in [D0] + [H] * (LAYERS - 1)])

    def forward(x):
        for layer in layers:
            y, _ = layer(x)
            x = y[..., :H] + y[..., H:]
        return x.sum()

    x = torch.randn(args.frames, args.batch, D0)
    result = {"benchmark": "lstm", "variant": f"pytorch_{torch.__version__}", "batch": args.batch,
              "frames": args.frames, "directions": 2}
    flops = 2 * sum(2 * 4 * H * (i + H) for i in [D0] + [H] * (LAYERS - 1)) * args.batch * args.frames   # 2 directions
    for name, fn in (("forward", lambda: forward(x)), ("train", lambda: forward(x).backward())):
        fn()
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        result[f"{name}_s"], result[f"{name}_best_s"] = round(statistics.median(times), 3), round(min(times), 3)
        result[f"{name}_gflops"] = round(flops * (1 if name == "forward" else 3) / statistics.median(times) / 1e9, 1)
    result["gemm_peak_gflops"] = round(gemm_peak_gflops(), 1)
    print(json.dumps({**result, "machine": platform.machine(), "cpus": os.cpu_count(),
                      "python": platform.python_version()}))


if __name__ == "__main__":
    main()
