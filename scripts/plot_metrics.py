#!/usr/bin/env python
"""The same command as `mindaudio-plot-metrics` (`--help`); the code is in mindaudio/cli/plot.py."""
from mindaudio.cli.plot import main

if __name__ == "__main__":
    main()
