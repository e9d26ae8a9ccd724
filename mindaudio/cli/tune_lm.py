"""Tune the LM weight alpha and the word bonus beta of beam search on a dev manifest.

    mindaudio-tune-lm --checkpoint runs/demo --lm runs/demo/lm3.arpa -c demo
    mindaudio-tune-lm --checkpoint RUN --lm 4-gram.arpa --manifest dev_clean.json --random 30 --beam-width 64

The network runs once over the manifest; its log-probabilities are kept and decoded for every (alpha, beta)
pair: a grid (``--alphas``, ``--betas``) or ``--random N`` pairs drawn uniformly from ``--alpha-range`` and
``--beta-range`` (seeded). Prints one line per pair, then the best pair by corpus WER (ties: lower CER) and the
overrides to use it: ``-o eval.alpha=A -o eval.beta=B``. ``--output FILE.json`` keeps every result.
"""
import json
import os
import sys
import time

import numpy as np

from mindaudio.cli import Parser, add_checkpoint_arg, add_config_args, checkpoint_and_config, guarded
from mindaudio.data.dataset import load_utterances
from mindaudio.decoding import BeamSearchDecoder
from mindaudio.config import option
from mindaudio.errors import ConfigError
from mindaudio.fileio import atomic_write
from mindaudio.inference.evaluate import check_scorable, score, utterance_log_probs
from mindaudio.inference.network import load_network
from mindaudio.text import Labels


def pairs_to_try(args):
    if args.random:
        rng = np.random.default_rng(args.seed)
        return [(float(rng.uniform(*args.alpha_range)), float(rng.uniform(*args.beta_range)))
                for _ in range(args.random)]
    return [(a, b) for a in args.alphas for b in args.betas]


@guarded
def main(argv=None):
    parser = add_checkpoint_arg(add_config_args(Parser(prog="mindaudio-tune-lm", description=__doc__)))
    parser.add_argument("--manifest", help="dev manifest (default: data.val_manifest)")
    parser.add_argument("--lm", help="KenLM ARPA or binary model (default: eval.lm_path)")
    parser.add_option("--beam-width", old=("--beam_width",), type=option(int, 1, 10000),
                      help="beam width (default: eval.beam_width)")
    parser.add_argument("--alphas", type=option(float, 0, 100), nargs="+",
                        default=[0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0])
    parser.add_argument("--betas", type=option(float, -100, 100), nargs="+", default=[-1.0, 0.0, 1.0, 2.0, 3.0])
    parser.add_argument("--random", type=option(int, 0), default=0, metavar="N",
                        help="N random pairs instead of the grid")
    parser.add_option("--alpha-range", old=("--alpha_range",), type=option(float, 0, 100), nargs=2,
                      default=[0.0, 3.0])
    parser.add_option("--beta-range", old=("--beta_range",), type=option(float, -100, 100), nargs=2,
                      default=[-2.0, 4.0])
    parser.add_argument("--seed", type=option(int, 0), default=0)
    parser.add_argument("--limit", type=option(int, 0), default=0, help="use only the first N utterances (quick look)")
    parser.add_argument("--output", help="write every (alpha, beta, WER, CER) to this JSON file")
    args = parser.parse_args(argv)

    checkpoint, cfg = checkpoint_and_config(args)
    manifest = args.manifest or cfg.data.val_manifest
    lm_path = args.lm if args.lm is not None else cfg.eval.lm_path
    if not lm_path:
        raise ConfigError("no language model: pass --lm or set eval.lm_path")
    labels = Labels.from_config(cfg.text)
    decoder = BeamSearchDecoder(labels, args.beam_width or cfg.eval.beam_width, cfg.eval.alpha, cfg.eval.beta,
                                lm_path)
    utts, _ = load_utterances(manifest, cfg, labels, purpose="eval")
    if args.limit:
        utts = utts[:args.limit]
    check_scorable(utts, manifest)

    t0 = time.time()
    net = load_network(cfg, checkpoint)
    log_probs, failures = utterance_log_probs(net, cfg, utts)
    print(f"{manifest}: {len(utts)} utterances, log-probs in {time.time() - t0:.1f} s"
          + (f"; {len(failures)} unreadable (scored as empty)" if failures else ""), flush=True)
    if failures:
        for i, message in sorted(failures.items()):
            print(f"warning: {message}", file=sys.stderr)

    results = []
    for alpha, beta in pairs_to_try(args):
        t0 = time.time()
        decoder.set_lm_weights(alpha, beta)
        hyps = [None if lp is None else decoder.decode_one(lp) for lp in log_probs]
        _, errors = score(utts, hyps, failures)
        results.append({"alpha": alpha, "beta": beta, "wer": errors.wer, "cer": errors.cer})
        print(f"alpha {alpha:6.3f} beta {beta:6.3f}: WER {errors.wer:6.2f} CER {errors.cer:6.2f} "
              f"({time.time() - t0:.1f} s)", flush=True)
    best = min(results, key=lambda r: (r["wer"], r["cer"]))
    print(f"best: alpha {best['alpha']:.3f} beta {best['beta']:.3f} WER {best['wer']:.2f} CER {best['cer']:.2f} "
          f"({len(utts)} utterances, beam width {decoder.beam_width}, LM {lm_path})")
    print(f"use: -o eval.decoder=beam -o eval.lm_path={lm_path} -o eval.alpha={best['alpha']:.3f} "
          f"-o eval.beta={best['beta']:.3f}")
    if args.output:
        atomic_write(args.output, json.dumps({"manifest": manifest, "checkpoint": os.path.abspath(checkpoint),
                                                   "lm_path": lm_path, "beam_width": decoder.beam_width,
                                                   "results": results, "best": best}, indent=2) + "\n")



if __name__ == "__main__":
    main()
