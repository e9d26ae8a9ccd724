#!/usr/bin/env python
"""How many graphs ``train.dynamic_shapes: false`` compiles for a data plan, and how long one takes to compile.

    python benchmarks/bench_static_shapes.py --librispeech            # the 960 h plan, 8 ranks (synthetic lengths)
    python benchmarks/bench_static_shapes.py --manifest M.json --ranks 1 --compile 3 --model demo

With static shapes every distinct padded batch shape (B, T, S) of an epoch is one compiled graph (the set is the
same every epoch: only the order of the batches changes). ``--librispeech`` uses 281,241 lengths drawn to match
LibriSpeech 960 h (mean 12.3 s, 1–35 s; the real manifests are not on this machine), with the full config's batch
size and the frame budget of a 32 GB card. ``--compile N`` compiles the train step for N of the shapes on CPU and
reports the time per graph. Prints one JSON line.
"""
import argparse
import time

import numpy as np

from common import config, emit, machine


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=["full", "demo"], default="full")
    p.add_argument("--manifest", help="a training manifest (default with --librispeech: synthetic lengths)")
    p.add_argument("--librispeech", action="store_true")
    p.add_argument("--ranks", type=int, default=8)
    p.add_argument("--budget", type=int, default=90000, help="data.max_frames_per_batch (0: no cap)")
    p.add_argument("--compile", type=int, default=0, metavar="N", help="compile the step for N shapes and time it")
    args = p.parse_args()

    from mindaudio.data.dataset import batch_plan, frame_multiple, padded, static_target_length
    from mindaudio.geometry import num_frames
    from mindaudio.data.manifest import read_manifest
    from mindaudio.training.dryrun import librispeech_960h_frames
    cfg = config(args.model, overrides=["train.dynamic_shapes=false", f"data.max_frames_per_batch={args.budget}"])
    if args.manifest:
        frames = np.array([num_frames(int(e["duration"] * 16000), cfg.features) for e in read_manifest(args.manifest)])
    else:
        frames = librispeech_960h_frames()
    multiple, width = frame_multiple(cfg), static_target_length(cfg)
    plan = batch_plan(frames, cfg.train.batch_size, args.ranks, 0, 0, True, cfg.data.max_frames_per_batch, multiple)
    shapes = {}
    for step in plan:
        for group in step:
            t = int(padded(frames[group].max(), multiple))
            shape = (len(group), t, width(t, int(0.15 * t)))
            shapes[shape] = shapes.get(shape, 0) + 1
    result = {"benchmark": "static_shapes", "model": args.model, "utterances": len(frames), "ranks": args.ranks,
              "steps_per_epoch": len(plan), "batch_size": cfg.train.batch_size, "budget": args.budget,
              "pad_multiple": multiple, "graphs": len(shapes),
              "source": args.manifest or "synthetic LibriSpeech 960 h lengths"}
    if args.compile:
        import mindspore as ms
        from common import build_train_step, synthetic_batch
        _, step = build_train_step(cfg)
        times = []
        for b, t, s in sorted(shapes)[:args.compile]:   # batch 2 of each length: the compile is what is timed
            x, xl, y, yl = synthetic_batch(2, t)
            batch = [ms.Tensor(a) for a in (x, xl, np.resize(y, (2, s)), np.minimum(yl, s))]
            first = time.time()
            step(*batch)[0].asnumpy()
            second = time.time()
            step(*batch)[0].asnumpy()
            times.append((second - first) - (time.time() - second))
        result.update(compile_s=[round(x, 1) for x in times], graphs_compiled=len(step.compile_cache))
    emit({**result, **machine()})


if __name__ == "__main__":
    main()
