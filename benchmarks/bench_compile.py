#!/usr/bin/env python
"""Graph compile time of the train step and the number of compilations over an epoch of varied batch shapes.

    python benchmarks/bench_compile.py --model full --batches 12

The train step is compiled once with dynamic batch and time dimensions (Cell.set_inputs). This script runs it
twice on each of ``--batches`` distinct (batch, frames) shapes and reports the graphs compiled (the Cell's
``compile_cache``, one entry per compiled graph) and, as a cross-check by time, the shapes whose first call took more
than ``--factor`` × their second call + 0.5 s. The compile time is the first shape's first call minus its second.
"""
import argparse
import time

import numpy as np

from common import build_train_step, config, emit, machine, synthetic_batch


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=["full", "demo"], default="full")
    p.add_argument("--batches", type=int, default=12)
    p.add_argument("--max-seconds", "--max_seconds", dest="max_seconds", type=float, default=3.0)
    p.add_argument("--factor", type=float, default=3.0)
    args = p.parse_args()

    import mindspore as ms

    _, step = build_train_step(config(args.model))
    rng = np.random.default_rng(0)
    shapes = []
    while len(shapes) < args.batches:   # distinct (batch, frames) pairs, frames a multiple of 16 as the loader pads
        shape = (int(rng.integers(1, 4)), 16 * int(rng.integers(5, args.max_seconds * 100 / 16)))
        if shape not in shapes:
            shapes.append(shape)
    first, second = [], []
    for i, (b, t) in enumerate(shapes):
        batch = [ms.Tensor(a) for a in synthetic_batch(b, t, seed=i)]
        for times in (first, second):    # the same shape twice: a compilation shows as a slow first call
            start = time.perf_counter()
            step(*batch)[0].asnumpy()
            times.append(time.perf_counter() - start)
    recompiles = [s for s, t1, t2 in zip(shapes[1:], first[1:], second[1:]) if t1 > args.factor * t2 + 0.5]
    emit({"benchmark": "compile", "model": args.model, "distinct_shapes": len(shapes),
          "compile_s": round(first[0] - second[0], 2), "compiled_graphs": len(step.compile_cache),
          "slow_first_calls": 1 + len(recompiles),
          "recompiled_shapes": recompiles, "first_call_s": [round(v, 2) for v in first],
          "second_call_s": [round(v, 2) for v in second], **machine()})


if __name__ == "__main__":
    main()
