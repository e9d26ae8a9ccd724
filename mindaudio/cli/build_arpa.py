"""Estimate a word n-gram LM and write it as an ARPA file, for beam search with KenLM (see mindaudio/lm.py):

    mindaudio-build-arpa examples/demo_corpus/train/libri_train_manifest.json --output runs/demo/lm3.arpa --order 3

Inputs are manifests (JSON lines with a ``text`` field) or plain text files (one sentence per line); text is
upper-cased and whitespace-collapsed like the transcripts (``--lower`` for a lower-case LM).
"""
import os
import sys

from mindaudio.cli import Parser, guarded
from mindaudio.config import option
from mindaudio.errors import DataError
from mindaudio.lm import estimate, read_sentences, write_arpa


@guarded
def main(argv=None):
    parser = Parser(prog="mindaudio-build-arpa", description=__doc__)
    parser.add_argument("inputs", nargs="+", help="manifests (JSON lines with 'text') or plain text files")
    parser.add_option("--output", old=("-o",), required=True, help="ARPA file to write")
    parser.add_argument("--order", type=option(int, 1, 10), default=3, help="n-gram order (default: %(default)s)")
    parser.add_argument("--lower", action="store_true", help="lower-case the text (default: upper case)")
    args = parser.parse_args(argv)
    if os.path.isdir(args.output):
        raise DataError(f"--output {args.output} is a directory; give a file name such as {args.output}/lm.arpa")
    sentences = read_sentences(args.inputs, args.lower)
    if not sentences:
        raise DataError("no text found in the inputs")
    probs, backoffs, vocab = estimate(sentences, args.order)
    sizes = write_arpa(args.output, probs, backoffs, args.order)
    print(f"{args.output}: order {args.order}, {len(sentences)} sentences, {len(vocab) - 2} words, "
          f"n-grams {sizes}", file=sys.stderr)


if __name__ == "__main__":
    main()
