"""JSON-lines manifests: one utterance per line with ``id``, ``audio_filepath``, ``duration`` and ``text``.

Kept free of MindSpore so that preparation, training and evaluation tools can all read them.
"""
import json
import math
import os

from mindaudio.errors import ManifestError
from mindaudio.fileio import atomic_write

REQUIRED_FIELDS = ("id", "audio_filepath", "duration", "text")


def write_manifest(path, entries):
    """Atomically write ``entries`` (dicts holding at least the required fields) as JSON lines; returns the count."""
    lines = []
    for i, entry in enumerate(entries):
        missing = [k for k in REQUIRED_FIELDS if k not in entry]
        if missing:
            raise ManifestError(f"{path}: entry {i} lacks field(s) {missing}")
        lines.append(json.dumps(entry, ensure_ascii=False))
    atomic_write(path, "".join(line + "\n" for line in lines))
    return len(lines)


def read_manifest(path, required=REQUIRED_FIELDS):
    """Read and validate a manifest whose lines hold the ``required`` fields (a noise list needs only
    ``audio_filepath``); raises :class:`ManifestError` naming the file and line of the first bad entry."""
    if os.path.isdir(path):
        raise ManifestError(f"manifest {path} is a directory; a manifest is a JSON-lines file")
    if not os.path.isfile(path):
        raise ManifestError(f"manifest not found: {path} (LibriSpeech manifests are made by "
                            "`mindaudio-prepare-librispeech --root-path DIR`; the demo's by examples/demo/run_demo.sh)")
    entries = []
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise ManifestError(f"{path}: not UTF-8 text (byte {e.start}); a manifest is JSON lines") from None
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as e:
            raise ManifestError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
        if not isinstance(entry, dict):
            raise ManifestError(f"{path}:{lineno}: expected a JSON object, got {type(entry).__name__}")
        missing = [k for k in required if k not in entry]
        if missing:
            raise ManifestError(f"{path}:{lineno}: missing field(s) {missing}; every line needs {list(required)}")
        duration = entry.get("duration", 1)
        if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not math.isfinite(duration) \
                or duration <= 0:
            raise ManifestError(f"{path}:{lineno}: 'duration' must be a positive number, got {duration!r}")
        if not isinstance(entry.get("text", ""), str):
            raise ManifestError(f"{path}:{lineno}: 'text' must be a string")
        if not isinstance(entry["audio_filepath"], str) or not entry["audio_filepath"]:
            raise ManifestError(f"{path}:{lineno}: 'audio_filepath' must be a non-empty string")
        entries.append(entry)
    return entries
