#!/usr/bin/env python
"""Train DeepSpeech2: ``python train.py -c deepspeech2.yaml [-o section.key=value ...]``.

Single device by default; under ``mpirun`` or ``msrun`` the ranks form one data-parallel training by themselves
(see mindaudio/distributed.py and the README's "Distributed training" section).
"""
import argparse

from mindaudio import distributed  # imports no mindspore: it must run before mindspore is imported
from mindaudio.config import ConfigError, add_config_args, load_config


def main(argv=None):
    parser = add_config_args(argparse.ArgumentParser(description=__doc__,
                                                     formatter_class=argparse.RawDescriptionHelpFormatter),
                             default="deepspeech2.yaml")
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.config, args.override)
    except ConfigError as e:
        parser.exit(2, f"config error: {e}\n")
    if distributed.prepare(cfg.train.device_target, cfg.train.output_dir) == "scheduler":
        distributed.run_scheduler()            # msrun's (or the mpirun bridge's) scheduler process: no training
        return
    from mindaudio.data.manifest import ManifestError
    from mindaudio.training.loop import train
    try:
        train(cfg)
    except (ManifestError, FileNotFoundError, RuntimeError, FloatingPointError) as e:
        parser.exit(1, f"error: {e}\n")


if __name__ == "__main__":
    main()
