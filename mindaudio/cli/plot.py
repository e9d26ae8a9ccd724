"""Plot a run's learning curve from its metrics.jsonl: training loss per logged step, validation loss and CER/WER.

    mindaudio-plot-metrics runs/demo/metrics.jsonl --output runs/demo/curve.png
"""
import json

from mindaudio.cli import Parser, guarded


@guarded
def main(argv=None):
    parser = Parser(prog="mindaudio-plot-metrics", description=__doc__)
    parser.add_argument("metrics", help="metrics.jsonl of a run")
    parser.add_option("--output", old=("-o",), default="curve.png", help="PNG to write (default: %(default)s)")
    parser.add_argument("--title", default="")
    args = parser.parse_args(argv)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    with open(args.metrics, encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    train = [r for r in records if r.get("loss") is not None]
    val = [r for r in records if "val_wer" in r]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.plot([r["step"] for r in train], [r["loss"] for r in train], label="train loss", lw=1)
    if val:
        ax1.plot([r["step"] for r in val], [r["val_loss"] for r in val], "o-", label="val loss")
        ax2.plot([r["step"] for r in val], [r["val_cer"] for r in val], "o-", label="val CER %")
        ax2.plot([r["step"] for r in val], [r["val_wer"] for r in val], "s-", label="val WER %")
    ax1.set_xlabel("step")
    ax1.set_ylabel("CTC loss per target symbol")
    ax1.set_yscale("log")
    ax1.legend()
    ax2.set_xlabel("step")
    ax2.set_ylabel("error rate (%), greedy")
    ax2.set_ylim(bottom=0)
    ax2.legend()
    fig.suptitle(args.title)
    fig.tight_layout()
    fig.savefig(args.output, dpi=100)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
