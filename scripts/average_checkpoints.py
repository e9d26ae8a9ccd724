#!/usr/bin/env python
"""The same command as `mindaudio-average-checkpoints` (`--help`); the code is in mindaudio/cli/average.py."""
from mindaudio.cli.average import main

if __name__ == "__main__":
    main()
