#!/usr/bin/env python
"""Data pipeline throughput (audio loading + features + SpecAugment + padding, with the configured workers)
against what the trainer consumes.

    python benchmarks/bench_data.py --model full --manifest examples/demo_corpus/train/libri_train_manifest.json

The trainer's consumption is measured in the same run: train steps of the configured network on batches taken
from the pipeline (``--train_steps`` of them, after one compiling step).
"""
import argparse
import os
import time

from common import REPO, build_train_step, config, emit, machine


DEMO_MANIFEST = os.path.join(REPO, "examples", "demo_corpus", "train", "libri_train_manifest.json")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=["full", "demo"], default="full")
    p.add_argument("--manifest", default=DEMO_MANIFEST, help="a prepared manifest (default: the demo corpus, "
                   "prepared first if needed)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--train-steps", "--train_steps", dest="train_steps", type=int, default=3)
    args = p.parse_args()

    import mindspore as ms
    from mindaudio.data.dataset import BatchSource, batch_plan, load_utterances, make_dataset
    from mindaudio.text import Labels

    if not os.path.exists(args.manifest) and args.manifest == DEMO_MANIFEST:   # a clean clone: prepare the demo
        import subprocess
        import sys
        subprocess.run([sys.executable, os.path.join(REPO, "mindaudio", "data", "librispeech.py"), "--root_path",
                        os.path.join(REPO, "examples", "demo_corpus"), "--data_ready", "True", "--no_progress"],
                       check=True)
    cfg = config(args.model, overrides=[f"train.batch_size={args.batch}", f"data.num_workers={args.workers}"])
    labels = Labels.from_config(cfg.text)
    utts, _ = load_utterances(args.manifest, cfg, labels)
    batches = [s[0] for s in batch_plan([u.duration for u in utts], args.batch, 1, epoch=1, seed=0)]

    start = time.perf_counter()
    n = 0
    loaded = []
    for row in make_dataset(BatchSource(utts, batches, cfg, epoch=1, augment=True), args.workers) \
            .create_tuple_iterator(num_epochs=1, output_numpy=True):
        n += len(row[1])
        if len(loaded) < args.train_steps + 1:
            loaded.append(row)
    pipeline = n / (time.perf_counter() - start)

    _, step = build_train_step(cfg)
    step(*[ms.Tensor(a) for a in loaded[0]])[0].asnumpy()
    start, used = time.perf_counter(), 0
    for row in loaded[1:]:
        step(*[ms.Tensor(a) for a in row])[0].asnumpy()
        used += len(row[1])
    trainer = used / (time.perf_counter() - start)
    emit({"benchmark": "data_pipeline", "model": args.model, "workers": args.workers, "batch": args.batch,
          "utterances": n, "pipeline_utts_per_s": round(pipeline, 1), "trainer_utts_per_s": round(trainer, 2),
          "headroom": round(pipeline / trainer, 1), **machine()})


if __name__ == "__main__":
    main()
