#!/usr/bin/env python
"""What each augmentation costs a feature worker: the time to read, augment, featurise and pad one demo training
batch (batch 4 of the bundled corpus, the demo's plan), without and with each kind, one process (a worker's view).

    python benchmarks/bench_augment.py --batches 60

Prints one JSON line per variant: median and mean milliseconds per batch, and the ratio to no augmentation. Noise
comes from two files of white noise written to a temporary directory (the cost does not depend on what noise is).
"""
import argparse
import json
import os
import statistics
import tempfile
import time

import numpy as np
import soundfile as sf

from common import config, emit, machine

VARIANTS = {
    "none": [],
    "specaugment": ["augment.enabled=true"],
    "speed": ["augment.speed_factors=[0.9,1.0,1.1]"],
    "vtlp": ["augment.vtlp_warp=0.1"],
    "gain": ["augment.gain_db=6"],
    "noise": ["augment.noise_prob=1.0"],                  # the manifest is added below
    "speed+vtlp": ["augment.speed_factors=[0.9,1.0,1.1]", "augment.vtlp_warp=0.1"],
}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batches", type=int, default=60)
    args = p.parse_args()
    from mindaudio.data.dataset import epoch_plan, load_batch, load_utterances
    from mindaudio.text import Labels

    tmp = tempfile.mkdtemp()
    noise = os.path.join(tmp, "noise.json")
    with open(noise, "w") as f:
        for i in range(2):
            sf.write(os.path.join(tmp, f"n{i}.wav"), np.random.default_rng(i).normal(0, 0.1, 16000 * 20), 16000)
            f.write(json.dumps({"audio_filepath": os.path.join(tmp, f"n{i}.wav")}) + "\n")
    base = config("demo", overrides=["augment.enabled=false"])
    utts, _ = load_utterances(base.data.train_manifest, base, Labels.from_config(base.text))
    batches = [step[0] for step in epoch_plan(utts, base)[:args.batches]]
    baseline = None
    for name, overrides in VARIANTS.items():
        extra = [f"augment.noise_manifest={noise}"] if name == "noise" else []
        cfg = config("demo", overrides=["augment.enabled=false", *overrides, *extra])
        times = []
        for index, batch in enumerate(batches):
            start = time.perf_counter()
            load_batch([utts[i] for i in batch], cfg, np.random.default_rng([0, index]))
            times.append(time.perf_counter() - start)
        median = statistics.median(times) * 1000
        baseline = baseline or median
        emit({"variant": name, "batches": len(times), "median_ms": round(median, 2),
              "mean_ms": round(statistics.mean(times) * 1000, 2), "ratio": round(median / baseline, 3), **machine()})


if __name__ == "__main__":
    main()
