"""The earlier path of the preparation command, kept so that old scripts still work: ``python -m
mindaudio.data.librispeech ARGS`` runs ``python -m mindaudio.cli.prepare ARGS`` (``mindaudio-prepare-librispeech``).
The preparation itself lives in mindaudio/prep/."""
import os
import sys

if __name__ == "__main__":
    os.execv(sys.executable, [sys.executable, "-m", "mindaudio.cli.prepare", *sys.argv[1:]])
