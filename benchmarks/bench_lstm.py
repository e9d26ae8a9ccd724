#!/usr/bin/env python
"""Where the recurrent layers' time goes on CPU: the five 1024-unit bidirectional LSTM layers of the full network,
forward and forward + backward, in variants that remove one piece at a time. One JSON line per variant.

    python benchmarks/bench_lstm.py                      # batch 2, 256 output frames (5.12 s of audio)
    python benchmarks/bench_lstm.py --batch 8 --frames 128 --repeats 5

Variants:
  bilstm           the network's BiLSTM ×5 (two nn.LSTM, the gather reverse twice, the sum, the mask multiply)
  no_mask          the same without the mask multiply
  no_reverse       two nn.LSTM per layer and the sum, no reverse, no mask (not exact on padded batches: a bound)
  one_direction    one nn.LSTM per layer (half the work: what the kernel alone costs)
  lstm_op          one direction through the ops.LSTM primitive with the weights packed once, outside the step
                   (what nn.LSTM's per-call weight concatenation costs)
  gemm             only the matrix products of one direction: the input projection for all frames in one GEMM and
                   one recurrent GEMM per frame (MindSpore MatMul in a Python loop is not graph-compatible: NumPy)
FLOPs per variant are the LSTM matrix products (2 FLOPs per multiply-add); the machine's NumPy GEMM peak is measured
in the same run.
"""
import argparse
import statistics
import time

import numpy as np

from common import emit, gemm_peak_gflops, machine, timed_calls

H, D0, LAYERS = 1024, 1312, 5


def build(variant):
    import mindspore as ms
    from mindspore import nn, ops
    from mindaudio.models.deepspeech2 import BiLSTM

    class Stack(nn.Cell):
        def __init__(self):
            super().__init__()
            sizes = [D0] + [H] * (LAYERS - 1)
            if variant in ("bilstm", "no_mask"):
                self.layers = nn.CellList([BiLSTM(s, H) for s in sizes])
            else:
                self.fwd = nn.CellList([nn.LSTM(s, H, 1, True, False) for s in sizes])
                self.bwd = nn.CellList([nn.LSTM(s, H, 1, True, False) for s in sizes])

        def construct(self, x, lengths, mask):
            for i in range(LAYERS):
                if variant == "bilstm":
                    x = self.layers[i](x, lengths, mask)
                elif variant == "no_mask":
                    layer = self.layers[i]
                    forward, _ = layer.fwd(x)
                    backward, _ = layer.bwd(layer.reverse(x, lengths))
                    x = forward + layer.reverse(backward, lengths)
                elif variant == "no_reverse":
                    a, _ = self.fwd[i](x)
                    b, _ = self.bwd[i](x)
                    x = a + b
                else:
                    x, _ = self.fwd[i](x)
            return x.sum()

    class Packed(nn.Cell):
        """One direction through ops.LSTM with weights packed in the kernel's layout once (not per call)."""

        def __init__(self):
            super().__init__()
            sizes = [D0] + [H] * (LAYERS - 1)
            rng = np.random.default_rng(0)
            self.weights = ms.ParameterTuple([ms.Parameter(ms.Tensor(
                rng.uniform(-0.03, 0.03, (4 * H * (s + H) + 4 * H, 1, 1)).astype(np.float32)), name=f"w{i}")
                for i, s in enumerate(sizes)])
            self.ops = [ops.LSTM(s, H, 1, True, False, 0.0) for s in sizes]

        def construct(self, x, lengths, mask):
            h = ops.zeros((1, x.shape[1], H), ms.float32)
            for i in range(LAYERS):
                x, _, _, _, _ = self.ops[i](x, h, h, self.weights[i])
            return x.sum()
    return Packed() if variant == "lstm_op" else Stack()


def numpy_gemms(batch, frames, repeats):
    """One direction's matrix products in NumPy: the input projection, then one recurrent GEMM per frame."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((frames * batch, D0)).astype(np.float32)
    w_in = [rng.standard_normal((s, 4 * H)).astype(np.float32) for s in [D0] + [H] * (LAYERS - 1)]
    w_h = rng.standard_normal((H, 4 * H)).astype(np.float32)
    h = np.zeros((batch, H), np.float32)

    def run():
        inp = x
        for w in w_in:
            inp @ w
            for _ in range(frames):
                h @ w_h
            inp = np.zeros((frames * batch, H), np.float32)
    run()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--frames", type=int, default=256, help="output frames (LSTM steps)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--variants", nargs="+", default=["bilstm", "no_mask", "no_reverse", "one_direction", "lstm_op",
                                                     "gemm"])
    args = p.parse_args()
    import mindspore as ms
    ms.set_device("CPU")
    ms.set_context(mode=ms.GRAPH_MODE)
    b, t = args.batch, args.frames
    lstm_flops = sum(2 * 4 * H * (s + H) for s in [D0] + [H] * (LAYERS - 1)) * b * t      # one direction, forward
    peak = gemm_peak_gflops()
    x = ms.Tensor(np.random.default_rng(0).standard_normal((t, b, D0)).astype(np.float32))
    lengths = ms.Tensor(np.full(b, t, np.int32))
    mask = ms.Tensor(np.ones((t, b, 1), np.float32))
    for variant in args.variants:
        directions = 1 if variant in ("one_direction", "lstm_op", "gemm") else 2
        record = {"benchmark": "lstm", "variant": variant, "batch": b, "frames": t, "directions": directions}
        if variant == "gemm":
            fwd, best = numpy_gemms(b, t, args.repeats)
            record.update(forward_s=round(fwd, 3), forward_best_s=round(best, 3),
                          forward_gflops=round(lstm_flops / fwd / 1e9, 1))
        else:
            net = build(variant)

            class Grad(ms.nn.Cell):
                def __init__(self):
                    super().__init__()
                    self.net = net
                    self.grad = ms.value_and_grad(net, None, net.trainable_params())

                def construct(self, x, lengths, mask):
                    return self.grad(x, lengths, mask)
            grad = Grad()
            fwd, fwd_best = timed_calls(net, (x, lengths, mask), args.repeats)
            both, both_best = timed_calls(grad, (x, lengths, mask), args.repeats)
            flops = lstm_flops * directions
            record.update(forward_s=round(fwd, 3), forward_best_s=round(fwd_best, 3), train_s=round(both, 3),
                          train_best_s=round(both_best, 3), forward_gflops=round(flops / fwd / 1e9, 1),
                          train_gflops=round(3 * flops / both / 1e9, 1))
        emit({**record, "gemm_peak_gflops": round(peak, 1), **machine()})


if __name__ == "__main__":
    main()
