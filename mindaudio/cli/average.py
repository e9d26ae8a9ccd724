"""Average the weights of several checkpoints of one run into one checkpoint for evaluation:

    mindaudio-average-checkpoints runs/deepspeech2 --best 5 --output runs/deepspeech2/avg5.ckpt
    mindaudio-average-checkpoints runs/deepspeech2 --last 3 --output avg_last3.ckpt
    mindaudio-average-checkpoints a.ckpt b.ckpt c.ckpt --output avg.ckpt

``--best N``: the epoch-end checkpoints of the N best validations in the run's metrics.jsonl (training keeps them:
``train.keep_best``), ranked by CER then WER as best.ckpt is; PaddleSpeech averages the 5 best for its published
DeepSpeech2 result. ``--last N``: the N newest step checkpoints. Every network parameter is averaged, BatchNorm's
moving statistics included; optimizer and loss-scale state are left out (the result is for evaluation, not for
resuming). The file is written atomically and carries the newest checkpoint's config, so ``mindaudio-eval
--checkpoint avg.ckpt`` needs no ``-c``.
"""
import json
import os

from mindaudio import checkpoint
from mindaudio.cli import Parser, guarded
from mindaudio.config import option
from mindaudio.errors import CheckpointError, ConfigError, DataError
from mindaudio.metrics import is_scored, validation_key


def best_checkpoints(run_dir, n):
    """The step checkpoints of the ``n`` best validations, best first, ranked as training ranks them for best.ckpt
    (``metrics.validation_key``: CER, then WER, then the later step)."""
    metrics = os.path.join(run_dir, "metrics.jsonl")
    if not os.path.isfile(metrics):
        raise DataError(f"{run_dir} has no metrics.jsonl: --best needs a run directory with validations")
    with open(metrics, encoding="utf-8") as f:
        rows = [r for r in (json.loads(line) for line in f if line.strip()) if is_scored(r)]
    manager = checkpoint.CheckpointManager(run_dir, create=False)
    ranked = sorted(rows, key=validation_key)
    found = [(r, manager.path_of(r["step"])) for r in ranked if os.path.isfile(manager.path_of(r["step"]))]
    if len(found) < n:
        raise CheckpointError(f"--best {n}: only {len(found)} of the {len(rows)} validated checkpoints are still in "
                              f"{manager.dir} (train.keep_best sets how many training keeps)")
    for r, path in found[:n]:
        print(f"{os.path.basename(path)}: validation CER {r['val_cer']:.2f}, WER {r['val_wer']:.2f} (epoch "
              f"{r['epoch']})")
    return [path for _, path in found[:n]]


def last_checkpoints(run_dir, n):
    files = checkpoint.CheckpointManager(run_dir, create=False).step_files()
    if len(files) < n:
        raise CheckpointError(f"--last {n}: {run_dir} holds {len(files)} step checkpoint(s)")
    return files[-n:]


@guarded
def main(argv=None):
    parser = Parser(prog="mindaudio-average-checkpoints", description=__doc__)
    parser.add_argument("sources", nargs="+", help="a run directory (with --best/--last), or checkpoint files")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--best", type=option(int, 1), metavar="N", help="the N best validated checkpoints of the run")
    group.add_argument("--last", type=option(int, 1), metavar="N", help="the N newest step checkpoints of the run")
    parser.add_option("--output", old=("-o",), required=True, help="checkpoint to write")
    args = parser.parse_args(argv)
    if args.best is not None or args.last is not None:
        n = args.best if args.best is not None else args.last
        if len(args.sources) != 1 or not os.path.isdir(args.sources[0]):
            raise ConfigError("--best/--last take one run directory")
        paths = (best_checkpoints if args.best is not None else last_checkpoints)(args.sources[0], n)
    else:
        paths = args.sources
    if os.path.isdir(args.output):
        raise ConfigError(f"--output {args.output} is a directory; give a file name such as {args.output}/avg.ckpt")
    state, meta = checkpoint.average(paths)
    checkpoint.save(args.output, state, meta)
    print(f"{args.output}: mean of {len(paths)} checkpoints ({len(state)} parameters, BatchNorm statistics included)")


if __name__ == "__main__":
    main()
