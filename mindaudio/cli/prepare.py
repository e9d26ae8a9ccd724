"""Download, verify, extract and convert LibriSpeech into 16 kHz mono WAV files and JSON-lines manifests:

    mindaudio-prepare-librispeech --root-path data/LibriSpeech                  # download all 7 subsets
    mindaudio-prepare-librispeech --root-path DIR --data-ready                  # archives or trees already there
    mindaudio-prepare-librispeech --root-path DIR --subsets train-clean-100,dev-clean,test-clean --num-workers 16

Subsets map to splits: train-clean-100/-360 and train-other-500 -> ``train``, dev-clean -> ``val``,
dev-other -> ``val_other``, test-clean -> ``test_clean``, test-other -> ``test_other``. Each split gets
``DIR/<split>/wav/<id>.wav``, ``txt/<id>.txt``, ``libri_<split>_manifest.json``, ``skipped.tsv`` and ``summary.json``.
Safe to interrupt and rerun: see mindaudio/prep/librispeech.py.
"""
import json
import logging
import os
import sys

from mindaudio.cli import EXIT_ERROR, EXIT_OK, Parser, guarded
from mindaudio.config import option
from mindaudio.errors import PrepError
from mindaudio.fileio import is_no_space
from mindaudio.prep.librispeech import DEFAULT_MIRROR, SPLIT_OF, prepare


@guarded
def main(argv=None):
    p = Parser(prog="mindaudio-prepare-librispeech", description=__doc__)
    p.add_option("--root-path", old=("--root_path",), required=True,
                 help="directory for archives, extracted data and outputs")
    p.add_flag("--data-ready", old="--data_ready",
               help="use the archives / extracted trees already in the root path, never download")
    p.add_argument("--subsets", default="", help=f"comma-separated subsets out of {','.join(SPLIT_OF)} "
                   "(default: all when downloading, all present with --data-ready)")
    p.add_option("--num-workers", old=("--num_workers",), type=option(int, 1, 1024), default=os.cpu_count(),
                 help="parallel conversion processes (default: the cores, %(default)s)")
    p.add_argument("--mirror", default=DEFAULT_MIRROR, help="base URL holding <subset>.tar.gz")
    p.add_argument("--checksums", help="JSON file {subset: sha256} overriding the built-in table")
    p.add_flag("--no-progress", old="--no_progress", help="hide progress bars")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    checksums = None
    if args.checksums:
        with open(args.checksums, encoding="utf-8") as f:
            checksums = json.load(f)
    subsets = [s.strip() for s in args.subsets.split(",") if s.strip()]
    try:
        summaries = prepare(args.root_path, args.data_ready, subsets, args.num_workers, args.mirror, checksums,
                            progress=not args.no_progress)
    except OSError as e:
        if not is_no_space(e):
            raise
        where = os.path.dirname(e.filename) if e.filename else os.path.abspath(args.root_path)
        raise PrepError(f"no space left on {where}; the half-written file was removed. Free some space and run "
                        "this again: finished files are kept") from None
    empty = []
    for s in summaries.values():
        if not s["utterances"]:
            empty.append(s)
            continue
        skipped = ", ".join(f"{k} {v}" for k, v in sorted(s["skipped"].items())) or "none"
        print(f"{s['split']}: {s['utterances']} utterances, {s['hours']:.2f} h; skipped: {skipped}; "
              f"resampled {s['notes']['resampled']}, downmixed {s['notes']['downmixed']} -> {s['manifest']}")
    for s in empty:
        skipped = ", ".join(f"{k} {v}" for k, v in sorted(s["skipped"].items())) or "no utterance found"
        where = os.path.join(os.path.abspath(args.root_path), s["split"])
        print(f"error: {s['split']}: no usable utterance ({skipped}), so no manifest was written; every one is "
              f"listed with its reason in {os.path.join(where, 'skipped.tsv')}", file=sys.stderr)
    sys.exit(EXIT_ERROR if empty else EXIT_OK)


if __name__ == "__main__":
    main()
