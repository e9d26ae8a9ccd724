#!/usr/bin/env python
"""Train-step throughput: step time, audio seconds per second, achieved GFLOP/s against the machine's GEMM peak.

    python benchmarks/bench_train_step.py --model full --batch 2 --seconds 4 --steps 5
    python benchmarks/bench_train_step.py --model demo --batch 8 --seconds 2 --steps 20

Prints one JSON line. FLOPs are counted analytically (mindaudio/models/cost.py); a step counts as 3× forward.
"""
import argparse
import statistics
import time

from common import build_train_step, config, emit, gemm_peak_gflops, machine, synthetic_batch


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=["full", "demo"], default="full")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--seconds", type=float, default=4.0, help="utterance length")
    p.add_argument("--steps", type=int, default=5, help="timed steps after the first (compiling) one")
    p.add_argument("--device", default="CPU")
    args = p.parse_args()

    import mindspore as ms
    from mindaudio.models.cost import train_step_flops

    cfg = config(args.model, args.device)
    peak = gemm_peak_gflops()
    _, step = build_train_step(cfg, args.device)
    frames = int(args.seconds * 100) + 1
    batch = [ms.Tensor(a) for a in synthetic_batch(args.batch, frames)]
    t = time.perf_counter()
    step(*batch)[0].asnumpy()
    first = time.perf_counter() - t
    times = []
    for _ in range(args.steps):
        t = time.perf_counter()
        step(*batch)[0].asnumpy()
        times.append(time.perf_counter() - t)
    step_time = statistics.median(times)
    flops = train_step_flops(cfg.model, args.batch, frames)
    emit({"benchmark": "train_step", "model": args.model, "device": args.device, "batch": args.batch,
          "seconds": args.seconds, "frames": frames, "steps": args.steps, "step_time_s": round(step_time, 4),
          "step_time_min_s": round(min(times), 4), "first_step_s": round(first, 2),
          "audio_s_per_s": round(args.batch * args.seconds / step_time, 2),
          "gflop_per_step": round(flops / 1e9, 2), "achieved_gflops": round(flops / step_time / 1e9, 1),
          "gemm_peak_gflops": round(peak, 1), "fraction_of_peak": round(flops / step_time / 1e9 / peak, 3),
          **machine()})


if __name__ == "__main__":
    main()
