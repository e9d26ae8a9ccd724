#!/usr/bin/env python
"""The same command as `mindaudio-build-arpa` (`--help`); the code is in mindaudio/cli/build_arpa.py."""
from mindaudio.cli.build_arpa import main

if __name__ == "__main__":
    main()
