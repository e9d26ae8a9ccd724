"""Train DeepSpeech2: ``mindaudio-train -c deepspeech2.yaml [-o section.key=value ...]`` (or ``python train.py``).

Single device by default; under ``mpirun`` or ``msrun`` the ranks form one data-parallel training by themselves
(see mindaudio/training/launch.py and docs/training.md).
"""
import os
import tempfile

from mindaudio.cli import Parser, add_config_args, guarded
from mindaudio.config import load_config
from mindaudio.training import launch  # imports no mindspore: it must run before mindspore is imported


@guarded
def main(argv=None):
    parser = add_config_args(Parser(prog="mindaudio-train", description=__doc__), default="deepspeech2.yaml")
    parser.add_argument("--dry-run", action="store_true",
                        help="compile and run the largest and smallest batch shapes on random data, print one JSON "
                             "line and exit (writes nothing): the first command to run on new hardware")
    args = parser.parse_args(argv)
    cfg = load_config(args.config, args.override)
    # a dry run writes nothing to the run directory, not even the mpirun bridge's scheduler.log
    log_dir = os.path.join(tempfile.gettempdir(), "mindaudio_dry_run") if args.dry_run else cfg.train.output_dir
    if launch.prepare(cfg.train.device_target, log_dir) == "scheduler":
        launch.run_scheduler()            # msrun's (or the mpirun bridge's) scheduler process: no training
        return
    if args.dry_run:
        from mindaudio.training.dryrun import main as dry_run
        dry_run(cfg)
        return
    from mindaudio.training.loop import train
    train(cfg)


if __name__ == "__main__":
    main()
