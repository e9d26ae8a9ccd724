#!/usr/bin/env python
"""Average the weights of several checkpoints of one run into one checkpoint for evaluation.

    python scripts/average_checkpoints.py runs/deepspeech2 --best 5 -o runs/deepspeech2/avg5.ckpt
    python scripts/average_checkpoints.py runs/deepspeech2 --last 3 -o avg_last3.ckpt
    python scripts/average_checkpoints.py a.ckpt b.ckpt c.ckpt -o avg.ckpt

``--best N``: the epoch-end checkpoints of the N lowest validation WERs in the run's metrics.jsonl (training keeps
them: ``train.keep_best``); PaddleSpeech averages the 5 best for its published DeepSpeech2 result. ``--last N``: the N
newest step checkpoints. Every network parameter is averaged, BatchNorm's moving statistics included; optimizer and
loss-scale state are left out (the result is for evaluation, not for resuming). The file is written atomically and
carries the newest checkpoint's config, so ``eval.py --checkpoint avg.ckpt`` needs no ``-c``.
"""
import argparse
import json
import os

import numpy as np

from mindaudio.cli import EXIT_CONFIG, fail, guarded


def best_checkpoints(run_dir, n):
    """The step checkpoints of the ``n`` lowest validation WERs (ties: the later), best first."""
    from mindaudio.checkpoint import CheckpointManager
    metrics = os.path.join(run_dir, "metrics.jsonl")
    if not os.path.isfile(metrics):
        fail(f"{run_dir} has no metrics.jsonl: --best needs a run directory with validations")
    with open(metrics, encoding="utf-8") as f:
        rows = [r for r in (json.loads(line) for line in f if line.strip()) if "val_wer" in r]
    manager = CheckpointManager(run_dir, create=False)
    ranked = sorted(rows, key=lambda r: (r["val_wer"], -r["step"]))
    found = [(r, manager.path_of(r["step"])) for r in ranked if os.path.isfile(manager.path_of(r["step"]))]
    if len(found) < n:
        fail(f"--best {n}: only {len(found)} of the {len(rows)} validated checkpoints are still in {manager.dir} "
             "(train.keep_best sets how many training keeps)")
    for r, path in found[:n]:
        print(f"{os.path.basename(path)}: validation WER {r['val_wer']:.2f} (epoch {r['epoch']})")
    return [path for _, path in found[:n]]


def last_checkpoints(run_dir, n):
    from mindaudio.checkpoint import CheckpointManager
    files = CheckpointManager(run_dir, create=False).step_files()
    if len(files) < n:
        fail(f"--last {n}: {run_dir} holds {len(files)} step checkpoint(s)")
    return files[-n:]


def average(paths, output):
    """Write the element-wise mean of the network parameters of ``paths`` to ``output``; returns the names."""
    import mindspore as ms
    from mindaudio import checkpoint
    loaded = [checkpoint.load(p) for p in paths]
    names = [n for n in loaded[0][0] if not n.startswith(("optimizer.", "scaler."))]
    for path, (params, _) in zip(paths, loaded):
        if set(n for n in params if not n.startswith(("optimizer.", "scaler."))) != set(names):
            raise checkpoint.CheckpointError(f"{path} holds other parameters than {paths[0]}: not the same model")
    state = {}
    for name in names:
        arrays = [params[name].asnumpy() for params, _ in loaded]
        if any(a.shape != arrays[0].shape for a in arrays):
            raise checkpoint.CheckpointError(f"{name} differs in shape between the checkpoints")
        mean = np.mean(np.stack(arrays).astype(np.float64), axis=0).astype(arrays[0].dtype)
        state[name] = ms.Tensor(mean)
    newest = max(loaded, key=lambda item: item[1].get("global_step", 0))[1]
    meta = {k: v for k, v in newest.items() if k in ("config", "global_step", "epoch", "world_size")}
    meta["averaged_from"] = json.dumps([os.path.abspath(p) for p in paths])
    checkpoint.save(output, state, meta)
    return names


@guarded
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sources", nargs="+", help="a run directory (with --best/--last), or checkpoint files")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--best", type=int, metavar="N", help="the N best validated checkpoints of the run")
    group.add_argument("--last", type=int, metavar="N", help="the N newest step checkpoints of the run")
    parser.add_argument("-o", "--output", required=True, help="checkpoint to write")
    args = parser.parse_args(argv)
    from mindaudio.checkpoint import CheckpointError
    if args.best is not None or args.last is not None:
        n = args.best if args.best is not None else args.last
        if len(args.sources) != 1 or not os.path.isdir(args.sources[0]):
            fail("--best/--last take one run directory", EXIT_CONFIG)
        if n < 1:
            fail("N must be at least 1", EXIT_CONFIG)
        paths = (best_checkpoints if args.best is not None else last_checkpoints)(args.sources[0], n)
    else:
        paths = args.sources
    if os.path.isdir(args.output):
        fail(f"--output {args.output} is a directory; give a file name such as {args.output}/avg.ckpt", EXIT_CONFIG)
    try:
        names = average(paths, args.output)
    except CheckpointError as e:
        fail(e)
    print(f"{args.output}: mean of {len(paths)} checkpoints ({len(names)} parameters, BatchNorm statistics included)")


if __name__ == "__main__":
    main()
