"""Evaluate a DeepSpeech2 checkpoint: ``mindaudio-eval --checkpoint PATH [-c CONFIG] [--output FILE.jsonl]``
(or ``python eval.py``).

Scores every manifest of ``data.test_manifests`` (or ``--manifests``) and prints one line per manifest:
``<name>: WER x.xx CER y.yy CER-nospace z.zz (N utterances, <decoder>)``, corpus-level, in percent. CER counts
spaces (deepspeech.pytorch, PaddleSpeech); CER-nospace removes them first, the convention of the earlier
MindSpore DeepSpeech2 ports, whose published CER (3.461 test-clean) is that one. ``--checkpoint`` may be
a run directory (its best checkpoint). Without ``-c`` the config stored in the checkpoint is used. The decoder is
``eval.decoder`` (greedy | beam) with ``eval.beam_width``, ``eval.alpha``, ``eval.beta``, ``eval.lm_path``.

Exit status: 0 ok; 1 error; 2 bad config; 3 scored, but some audio files could not be read (each was scored as
an empty hypothesis, named on stderr and in the output).
"""
import logging

from mindaudio.cli import EXIT_PARTIAL, Parser, add_checkpoint_arg, add_config_args, checkpoint_and_config, fail, \
    guarded
from mindaudio.inference.evaluate import evaluate


@guarded
def main(argv=None):
    parser = add_checkpoint_arg(add_config_args(Parser(prog="mindaudio-eval", description=__doc__)))
    parser.add_argument("--manifests", nargs="+", help="manifests to score instead of data.test_manifests")
    parser.add_argument("--output", help="per-utterance results (JSON lines); a summary JSON is written beside it")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    checkpoint, cfg = checkpoint_and_config(args)
    summary = evaluate(cfg, checkpoint, args.manifests or cfg.data.test_manifests, args.output)
    if any(r["unreadable"] for r in summary["results"].values()):
        fail("some utterances could not be read (scored as empty hypotheses; see above)", EXIT_PARTIAL)


if __name__ == "__main__":
    main()
