"""Export a checkpoint to MindIR with dynamic batch and length:

    mindaudio-export --checkpoint runs/demo --output model.mindir [-c CONFIG] [-o section.key=value]

Writes ``model.mindir`` and ``model.json`` (the features, label set and model it expects), and for a streaming model
``model.step.mindir`` too. See mindaudio/inference/export.py.
"""
from mindaudio.cli import Parser, add_checkpoint_arg, add_config_args, checkpoint_and_config, guarded
from mindaudio.inference.export import export_mindir


@guarded
def main(argv=None):
    parser = add_checkpoint_arg(add_config_args(Parser(prog="mindaudio-export", description=__doc__)))
    parser.add_argument("--output", required=True, help="MindIR file to write (e.g. model.mindir)")
    args = parser.parse_args(argv)
    checkpoint, cfg = checkpoint_and_config(args)
    print(export_mindir(cfg, checkpoint, args.output))


if __name__ == "__main__":
    main()
