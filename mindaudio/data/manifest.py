"""JSON-lines manifests: one utterance per line with ``id``, ``audio_filepath``, ``duration`` and ``text``.

Kept free of MindSpore so that preparation, training and evaluation tools can all read them.
"""
import json
import os
import tempfile

REQUIRED_FIELDS = ("id", "audio_filepath", "duration", "text")


class ManifestError(ValueError):
    """A manifest line that cannot be used, with the file and line number in the message."""


def atomic_write_text(path, text):
    """Write ``text`` to ``path`` so that a crash leaves either the old file or the new one, never a truncated one."""
    path = os.path.abspath(path)
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_manifest(path, entries):
    """Atomically write ``entries`` (dicts holding at least the required fields) as JSON lines; returns the count."""
    lines = []
    for i, entry in enumerate(entries):
        missing = [k for k in REQUIRED_FIELDS if k not in entry]
        if missing:
            raise ManifestError(f"{path}: entry {i} lacks field(s) {missing}")
        lines.append(json.dumps(entry, ensure_ascii=False))
    atomic_write_text(path, "".join(line + "\n" for line in lines))
    return len(lines)


def read_manifest(path):
    """Read and validate a manifest; raises :class:`ManifestError` naming the file and line of the first bad entry."""
    if not os.path.isfile(path):
        raise ManifestError(f"manifest not found: {path}")
    entries = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as e:
                raise ManifestError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
            if not isinstance(entry, dict):
                raise ManifestError(f"{path}:{lineno}: expected a JSON object, got {type(entry).__name__}")
            missing = [k for k in REQUIRED_FIELDS if k not in entry]
            if missing:
                raise ManifestError(f"{path}:{lineno}: missing field(s) {missing}; every line needs {list(REQUIRED_FIELDS)}")
            if not isinstance(entry["duration"], (int, float)) or entry["duration"] <= 0:
                raise ManifestError(f"{path}:{lineno}: 'duration' must be a positive number, got {entry['duration']!r}")
            if not isinstance(entry["text"], str):
                raise ManifestError(f"{path}:{lineno}: 'text' must be a string")
            entries.append(entry)
    return entries
