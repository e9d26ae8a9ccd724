#!/usr/bin/env python
"""Timing by parts of the train step: the convolution stack's forward + backward alone, against the whole step
(the rest is the LSTMs, projection, CTC and the optimizer). Shows where a step's time goes. FLOPs by part come from
mindaudio/models/cost.py (a step = 3 × forward).

    python benchmarks/bench_parts.py --model full --batch 2 --seconds 4
"""
import argparse

from common import build_train_step, config, emit, machine, synthetic_batch, timed_calls


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=["full", "demo"], default="full")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()

    import mindspore as ms
    from mindspore import nn
    from mindaudio.models.cost import forward_flops_by_part

    cfg = config(args.model)
    net, step = build_train_step(cfg)
    frames = int(args.seconds * 100) + 1
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
    conv_s, step_s = timed_calls(conv_grad, (x, xl), args.repeats)[0], timed_calls(step, (x, xl, y, yl), args.repeats)[0]
    parts = {k: 3 * v for k, v in forward_flops_by_part(cfg.model, args.batch, frames).items()}
    conv_flops, rest_flops = parts.pop("conv"), sum(parts.values())
    result = {"benchmark": "parts", "model": args.model, "batch": args.batch, "seconds": args.seconds,
              "train_step_s": round(step_s, 3), "conv_stack_fwd_bwd_s": round(conv_s, 3),
              "conv_share": round(conv_s / step_s, 3), "conv_gflops": round(conv_flops / conv_s / 1e9, 1),
              "rest_s": round(step_s - conv_s, 3),
              "rest_gflops": round(rest_flops / (step_s - conv_s) / 1e9, 1)}
    emit({**result, **machine()})


if __name__ == "__main__":
    main()
