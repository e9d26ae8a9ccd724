#!/usr/bin/env python
"""The same command as `mindaudio-tune-lm` (`--help`); the code is in mindaudio/cli/tune_lm.py."""
from mindaudio.cli.tune_lm import main

if __name__ == "__main__":
    main()
