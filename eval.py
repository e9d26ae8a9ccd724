#!/usr/bin/env python
"""Evaluate a DeepSpeech2 checkpoint: ``python eval.py -c deepspeech2.yaml --checkpoint PATH [--output FILE.jsonl]``.

Scores every manifest of ``data.test_manifests`` (or ``--manifests``) and prints one line per manifest:
``<name>: WER x.xx CER y.yy (N utterances, <decoder>)``. ``--checkpoint`` may be a run directory (its best checkpoint).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mindaudio.config import ConfigError, add_config_args, load_config  # noqa: E402


def main(argv=None):
    parser = add_config_args(argparse.ArgumentParser(description=__doc__,
                                                     formatter_class=argparse.RawDescriptionHelpFormatter),
                             default="deepspeech2.yaml")
    parser.add_argument("--checkpoint", required=True, help="checkpoint file, or a run directory (uses its best)")
    parser.add_argument("--manifests", nargs="+", help="manifests to score instead of data.test_manifests")
    parser.add_argument("--output", help="per-utterance results (JSON lines); a summary JSON is written beside it")
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.config, args.override)
    except ConfigError as e:
        parser.exit(2, f"config error: {e}\n")
    from mindaudio.evaluate import evaluate
    try:
        evaluate(cfg, args.checkpoint, args.manifests or cfg.data.test_manifests, args.output)
    except (FileNotFoundError, RuntimeError, ValueError) as e:
        parser.exit(1, f"error: {e}\n")


if __name__ == "__main__":
    main()
