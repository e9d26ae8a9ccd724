"""The configs shipped with the package: ``-c deepspeech2`` (the full recipe), ``-c demo``, ``-c streaming``."""
