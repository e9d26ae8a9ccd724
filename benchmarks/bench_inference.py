#!/usr/bin/env python
"""Real-time factor of greedy transcription (features + network + decoding) at batch 1 and batched.

    python benchmarks/bench_inference.py --model full --seconds 10 --batch 8

RTF = processing time / audio duration (below 1 is faster than real time). Random weights: speed does not depend on them.
"""
import argparse
import time

import numpy as np

from common import config, emit, machine


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=["full", "demo"], default="full")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()

    from mindaudio.data.features import spectrogram
    from mindaudio.decoding import GreedyDecoder
    from mindaudio.device import set_device
    from mindaudio.inference.network import build_network, forward
    from mindaudio.text import Labels

    cfg = config(args.model)
    set_device("CPU")
    net = build_network(cfg)
    decoder = GreedyDecoder(Labels.from_config(cfg.text))
    audio = [np.random.default_rng(i).standard_normal(int(args.seconds * 16000)).astype(np.float32) * 0.1
             for i in range(args.batch)]
    decoder.decode(*forward(net, [spectrogram(audio[0], cfg.features)], cfg))          # compile
    result = {"benchmark": "inference", "model": args.model, "seconds": args.seconds}
    for b in (1, args.batch):
        best = float("inf")
        for _ in range(args.repeats):
            t = time.perf_counter()
            decoder.decode(*forward(net, [spectrogram(a, cfg.features) for a in audio[:b]], cfg))
            best = min(best, time.perf_counter() - t)
        result[f"rtf_batch{b}"] = round(best / (b * args.seconds), 4)
    emit({**result, **machine()})


if __name__ == "__main__":
    main()
