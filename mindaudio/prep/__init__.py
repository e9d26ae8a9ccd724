"""Corpus preparation: archives → 16 kHz mono WAV files → JSON-lines manifests."""
