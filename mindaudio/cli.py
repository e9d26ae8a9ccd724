"""What every command line shares: exit statuses, the config arguments, turning a checkpoint argument into
(checkpoint, config), and errors printed as one sentence instead of a traceback.

Exit statuses, kept by every entry point:
  0  success
  1  error (a missing or unreadable file, a full disk, a run that cannot continue ...)
  2  config or usage error (bad ``-c``/``-o`` value, unknown option)
  3  partial results: the work was done and written, but some inputs could not be used (named on stderr)
130  interrupted (Ctrl-C)
MINDAUDIO_TRACEBACK=1 prints the full traceback of an error as well (for a bug report).

MindSpore's own log is kept to errors by ``import mindaudio`` (see mindaudio/__init__.py; MINDAUDIO_VERBOSE=1 keeps it).
"""
import errno
import functools
import os
import re
import sys
import traceback

from mindaudio.config import ConfigError, add_config_args  # noqa: F401  (re-exported for the command lines)

EXIT_OK, EXIT_ERROR, EXIT_CONFIG, EXIT_PARTIAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class DataError(RuntimeError):
    """Data that cannot be used as asked (no utterance left after the filters, an output that cannot be written...)."""


def fail(message, status=EXIT_ERROR):
    """Print ``error: message`` (``config error:`` for status 2) and exit with ``status``."""
    prefix = "config error" if status == EXIT_CONFIG else "error"
    print(f"{prefix}: {message}", file=sys.stderr, flush=True)
    sys.exit(status)


def _mindspore_cause(error):
    """The sentence that matters in a MindSpore RuntimeError (the Python exception a dataset worker raised, or the
    first line before the C++ call stack)."""
    text = str(error)
    inner = re.search(r"Exception thrown from user defined Python function in dataset\.?(.*?)(?:Traceback|$)", text,
                      re.S)
    lines = [line.strip() for line in (inner.group(1) if inner else text).splitlines()]
    lines = [line for line in lines if line and not line.startswith(("-", "[", "mindspore/ccsrc", "File "))]
    return " ".join(lines[:3])[:500] or text[:500]


def guarded(main):
    """Wrap a command line's ``main``: user errors become one line on stderr and their exit status. (Imports nothing
    until an error happens: train.py must set up the launcher before MindSpore is imported.)"""

    @functools.wraps(main)
    def run(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            sys.exit(EXIT_INTERRUPTED)
        except Exception as e:  # noqa: BLE001 - every error gets a sentence; see MINDAUDIO_TRACEBACK
            from mindaudio.data.features import AudioError
            from mindaudio.data.manifest import ManifestError
            CheckpointError = getattr(sys.modules.get("mindaudio.checkpoint"), "CheckpointError", ())
            if os.environ.get("MINDAUDIO_TRACEBACK"):
                traceback.print_exc()
            if isinstance(e, ConfigError):
                fail(e, EXIT_CONFIG)
            if isinstance(e, OSError) and e.errno == errno.ENOSPC:
                fail(f"no space left on {os.path.dirname(e.filename) if e.filename else 'the device'}")
            if isinstance(e, OSError) and e.filename:
                fail(f"{e.strerror}: {e.filename}")
            if isinstance(e, (ManifestError, AudioError, CheckpointError, DataError, FloatingPointError, OSError,
                              ValueError)):
                fail(e)
            if isinstance(e, RuntimeError):
                fail(f"{_mindspore_cause(e)} (MINDAUDIO_TRACEBACK=1 shows where)")
            raise
    return run


def checkpoint_and_config(args):
    """``args.checkpoint`` (a file or a run directory) resolved, and the config to run it with (``args.config``,
    ``args.override``); exits with status 2 on a config error and 1 on a missing or unreadable checkpoint."""
    from mindaudio.checkpoint import CheckpointError
    from mindaudio.inference import config_for, resolve_checkpoint
    try:
        checkpoint = resolve_checkpoint(args.checkpoint)
        return checkpoint, config_for(checkpoint, args.config, args.override)
    except ConfigError as e:
        fail(e, EXIT_CONFIG)
    except CheckpointError as e:
        fail(e)
