"""Plot a run's learning curve from its metrics.jsonl: training loss per logged step, validation loss and CER/WER.

    mindaudio-plot-metrics runs/demo/metrics.jsonl --output runs/demo/curve.png
"""
import json
import os
import sys

from mindaudio.cli import Parser, guarded
from mindaudio.errors import DataError
from mindaudio.metrics import is_scored


@guarded
def main(argv=None):
    parser = Parser(prog="mindaudio-plot-metrics", description=__doc__)
    parser.add_argument("metrics", help="metrics.jsonl of a run")
    parser.add_option("--output", old=("-o",), default="curve.png", help="PNG to write (default: %(default)s)")
    parser.add_argument("--title", default="")
    args = parser.parse_args(argv)
    if os.path.isdir(args.output):
        raise DataError(f"--output {args.output} is a directory; give a file name such as {args.output}/curve.png")
    records = []
    with open(args.metrics, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:             # the last line of a run killed while writing it
                print(f"warning: {args.metrics}:{lineno}: not a JSON line (cut short?), skipped", file=sys.stderr)
    if not any(r.get("loss") is not None or "val_cer" in r for r in records):
        raise DataError(f"{args.metrics} holds no training or validation record to plot")
    import matplotlib                                 # the optional [plot] extra, needed only from here on
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    train = [r for r in records if r.get("loss") is not None]
    val = [r for r in records if is_scored(r)]
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
    if val:
        ax2.legend()
    fig.suptitle(args.title)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    fig.savefig(args.output, dpi=100)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
