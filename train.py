#!/usr/bin/env python
"""Train DeepSpeech2: ``python train.py -c deepspeech2.yaml [-o section.key=value ...]`` (``--help`` for more).
The same command as ``mindaudio-train``; the code is in mindaudio/cli/train.py."""
from mindaudio.cli.train import main

if __name__ == "__main__":
    main()
