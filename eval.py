#!/usr/bin/env python
"""Evaluate a checkpoint: ``python eval.py --checkpoint RUN_OR_CKPT [-c CONFIG] [--output FILE.jsonl]`` (``--help``
for more). The same command as ``mindaudio-eval``; the code is in mindaudio/cli/eval.py."""
from mindaudio.cli.eval import main

if __name__ == "__main__":
    main()
