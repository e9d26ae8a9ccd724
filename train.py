#!/usr/bin/env python
"""Train DeepSpeech2: ``python train.py -c deepspeech2.yaml [-o section.key=value ...]``.

Single device by default; under ``mpirun`` or ``msrun`` the ranks form one data-parallel training by themselves
(see mindaudio/distributed.py and the README's "Distributed training" section).
"""
import argparse
import os
import tempfile

from mindaudio import distributed  # imports no mindspore: it must run before mindspore is imported
from mindaudio.cli import EXIT_CONFIG, fail, guarded
from mindaudio.config import ConfigError, add_config_args, load_config


@guarded
def main(argv=None):
    parser = add_config_args(argparse.ArgumentParser(description=__doc__,
                                                     formatter_class=argparse.RawDescriptionHelpFormatter),
                             default="deepspeech2.yaml")
    parser.add_argument("--dry-run", action="store_true",
                        help="compile and run the largest and smallest batch shapes on random data, print one JSON "
                             "line and exit (writes nothing): the first command to run on new hardware")
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.config, args.override)
    except ConfigError as e:
        fail(e, EXIT_CONFIG)
    # a dry run writes nothing to the run directory, not even the mpirun bridge's scheduler.log
    log_dir = os.path.join(tempfile.gettempdir(), "mindaudio_dry_run") if args.dry_run else cfg.train.output_dir
    if distributed.prepare(cfg.train.device_target, log_dir) == "scheduler":
        distributed.run_scheduler()            # msrun's (or the mpirun bridge's) scheduler process: no training
        return
    if args.dry_run:
        from mindaudio.training.dryrun import main as dry_run
        dry_run(cfg)
        return
    from mindaudio.training.loop import train
    train(cfg)


if __name__ == "__main__":
    main()
