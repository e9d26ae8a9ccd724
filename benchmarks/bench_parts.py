#!/usr/bin/env python
"""Timing by parts of the train step: the convolution stack's forward + backward alone, against the whole step
(the rest is the LSTMs, projection, CTC and the optimizer). Shows where a step's time goes. The convolutions' FLOPs
(conv 1: C·81·451, conv 2: C·41·C·451 multiply-adds per output frame; ×2 per multiply-add, ×3 for a step) assume
the 41×11 kernels of the recipe.

    python benchmarks/bench_parts.py --model full --batch 2 --seconds 4
"""
import argparse
import statistics
import time

from common import config, emit, machine, synthetic_batch


def timed(fn, args, repeats):
    fn(*args)                                           # compile
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn(*args)
        (out[0] if isinstance(out, tuple) else out).asnumpy()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=["full", "demo"], default="full")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()

    import mindspore as ms
    from mindspore import nn
    from mindaudio.models.deepspeech2 import CTCLossCell, build_model
    from mindaudio.models.flops import train_step_flops
    from mindaudio.training.schedule import build_optimizer
    from mindaudio.training.step import TrainStep

    cfg = config(args.model)
    ms.set_device("CPU")
    ms.set_context(mode=ms.GRAPH_MODE)
    net = build_model(cfg, 161, 29)
    frames = int(args.seconds * 100) + 1
    t_out = (frames - 1) // 2 + 1
    x, xl, y, yl = [ms.Tensor(a) for a in synthetic_batch(args.batch, frames)]

    class Convs(nn.Cell):
        def __init__(self):
            super().__init__(auto_prefix=False)
            self.net = net

        def construct(self, feats, lens):
            h, lens = self.net.conv1(feats, lens)
            h, lens = self.net.conv2(h, lens)
            return h.sum()

    convs = Convs()
    conv_grad = ms.jit(ms.value_and_grad(convs, None, convs.trainable_params()))
    step = TrainStep(CTCLossCell(net, 0), build_optimizer(net.trainable_params(), cfg.train, 1000), cfg.train)
    conv_s, step_s = timed(conv_grad, (x, xl), args.repeats), timed(step, (x, xl, y, yl), args.repeats)
    conv_flops = 3 * 2 * args.batch * t_out * cfg.model.conv_channels * 451 * (81 + 41 * cfg.model.conv_channels)
    result = {"benchmark": "parts", "model": args.model, "batch": args.batch, "seconds": args.seconds,
              "train_step_s": round(step_s, 3), "conv_stack_fwd_bwd_s": round(conv_s, 3),
              "conv_share": round(conv_s / step_s, 3), "conv_gflops": round(conv_flops / conv_s / 1e9, 1),
              "rest_s": round(step_s - conv_s, 3),
              "rest_gflops": round((train_step_flops(cfg.model, args.batch, frames) - conv_flops) / (step_s - conv_s)
                                   / 1e9, 1)}
    emit({**result, **machine()})


if __name__ == "__main__":
    main()
