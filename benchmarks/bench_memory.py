#!/usr/bin/env python
"""Memory of a CPU train step against the analytic estimate (mindaudio/models/cost.py), per padded frame.

    python benchmarks/bench_memory.py --model full --frames 1000 3000

Each length runs in a fresh process (two steps at batch 1, peak resident set size). The per-frame cost is the
slope between the two lengths; its ratio to the fp32 estimate's slope is cost.CPU_OVERHEAD's measurement.
Prints one JSON line.
"""
import argparse
import json
import subprocess
import sys

from common import config, emit, machine

CHILD = """
import json, resource, sys
sys.path.insert(0, {here!r})
from common import build_train_step, config, synthetic_batch
import mindspore as ms
_, step = build_train_step(config({model!r}))
batch = [ms.Tensor(a) for a in synthetic_batch({batch}, {frames})]
for _ in range(2):
    step(*batch)[0].asnumpy()
print(json.dumps({{"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def main():
    import os
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=["full", "demo"], default="full")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--frames", type=int, nargs=2, default=[1000, 3000])
    args = p.parse_args()
    from mindaudio.models.cost import memory_estimate
    here = os.path.dirname(os.path.abspath(__file__))
    peaks = []
    for frames in args.frames:
        code = CHILD.format(here=here, model=args.model, batch=args.batch, frames=frames)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        peaks.append(json.loads(out.strip().splitlines()[-1])["peak_mb"])
    model = config(args.model).model
    est = [sum(memory_estimate(model, args.batch, f, fp16=False).values()) / 2 ** 20 for f in args.frames]
    span = (args.frames[1] - args.frames[0]) * args.batch
    measured, estimated = (peaks[1] - peaks[0]) / span, (est[1] - est[0]) / span
    emit({"benchmark": "memory", "model": args.model, "batch": args.batch, "frames": args.frames,
          "peak_mb": [round(x) for x in peaks], "estimate_fp32_mb": [round(x) for x in est],
          "measured_kb_per_frame": round(measured * 1024, 1), "estimated_kb_per_frame": round(estimated * 1024, 1),
          "cpu_overhead": round(measured / estimated, 2), **machine()})


if __name__ == "__main__":
    main()
