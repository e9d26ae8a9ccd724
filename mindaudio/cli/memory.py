"""Print the memory estimate of a config's training step for Ascend cards (docs/ascend.md):

    mindaudio-estimate-memory [-c deepspeech2] [--batch 64] [--frames 1250 2500 3500]
"""
from mindaudio.cli import Parser, add_config_args, guarded
from mindaudio.config import load_config, option
from mindaudio.models.cost import frame_budget, memory_estimate, parameter_count


@guarded
def main(argv=None):
    p = add_config_args(Parser(prog="mindaudio-estimate-memory", description=__doc__), default="deepspeech2")
    p.add_argument("--batch", type=option(int, 1), default=64)
    p.add_argument("--frames", type=option(int, 1), nargs="+", default=[1250, 2500, 3500])
    args = p.parse_args(argv)
    model = load_config(args.config, args.override).model
    print(f"parameters: {parameter_count(model):,}")
    for gib in (32, 64):
        print(f"{gib} GiB Ascend card: frame budget {frame_budget(model, gib):,} padded frames per batch")
    for frames in args.frames:
        for batch in sorted({args.batch, max(1, frame_budget(model, 32) // frames)}):
            est = memory_estimate(model, batch, frames)
            parts = ", ".join(f"{k} {v / 2 ** 30:.2f}" for k, v in est.items())
            print(f"B={batch} T={frames} ({batch * frames:,} frames): total {sum(est.values()) / 2 ** 30:.1f} GiB "
                  f"({parts})")


if __name__ == "__main__":
    main()
