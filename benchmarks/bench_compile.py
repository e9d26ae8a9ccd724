#!/usr/bin/env python
"""Graph compile time of the train step and the number of compilations over an epoch of varied batch shapes.

    python benchmarks/bench_compile.py --model full --batches 12

The train step is compiled once with dynamic batch and time dimensions (Cell.set_inputs). This script runs it on
``--batches`` batches of different sizes and lengths and counts a call as a compilation when it takes more than
``--factor`` × the median call time per frame (MindSpore offers no public compile counter); the first call's
time minus a steady call's time is the compile time.
"""
import argparse
import statistics
import time

import numpy as np

from common import config, emit, machine, synthetic_batch


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=["full", "demo"], default="full")
    p.add_argument("--batches", type=int, default=12)
    p.add_argument("--max_seconds", type=float, default=3.0)
    p.add_argument("--factor", type=float, default=3.0)
    args = p.parse_args()

    import mindspore as ms
    from mindaudio.models.deepspeech2 import CTCLossCell, build_model
    from mindaudio.training.loop import train_inputs
    from mindaudio.training.schedule import build_optimizer
    from mindaudio.training.step import TrainStep

    cfg = config(args.model)
    ms.set_device("CPU")
    ms.set_context(mode=ms.GRAPH_MODE)
    net = build_model(cfg, 161, 29)
    step = TrainStep(CTCLossCell(net, 0), build_optimizer(net.trainable_params(), cfg.train, 1000), cfg.train)
    step.set_inputs(*train_inputs(161))
    rng = np.random.default_rng(0)
    shapes = [(int(rng.integers(1, 4)), 16 * int(rng.integers(5, args.max_seconds * 100 / 16)))
              for _ in range(args.batches)]
    times = []
    for i, (b, t) in enumerate(shapes):
        batch = [ms.Tensor(a) for a in synthetic_batch(b, t, seed=i)]
        start = time.perf_counter()
        step(*batch)[0].asnumpy()
        times.append((time.perf_counter() - start) / (b * t))
    steady = statistics.median(times[1:])
    compilations = sum(1 for v in times if v > args.factor * steady)
    b0, t0 = shapes[0]
    emit({"benchmark": "compile", "model": args.model, "batches": args.batches,
          "distinct_shapes": len(set(shapes)), "compile_s": round((times[0] - steady) * b0 * t0, 2),
          "compilations": compilations, **machine()})


if __name__ == "__main__":
    main()
