"""The command lines: one module per command, and what they share here. This package is the only place that calls
``sys.exit``; the library below it raises :mod:`mindaudio.errors`, which :func:`guarded` turns into one sentence on
stderr and the documented exit status:

  0  success
  1  error (a missing or unreadable file, a full disk, a run that cannot continue ...)
  2  config or usage error (bad ``-c``/``-o`` value, unknown option)
  3  partial results: the work was done and written, but some inputs could not be used (named on stderr)
130  interrupted (Ctrl-C)
143  terminated (SIGTERM)
MINDAUDIO_TRACEBACK=1 prints the full traceback of an error as well (for a bug report).

Every command spells its long options with hyphens (``--root-path``); the underscore spellings of earlier releases
still work, hidden from ``--help``. ``-c/--config`` and ``-o/--override section.key=value`` mean the same in every
command that takes a config, ``--checkpoint`` (a file or a run directory) in every command that takes a model.
Nothing here imports MindSpore: ``mindaudio.cli.train`` must set up the launcher first.
"""
import argparse
import functools
import os
import re
import signal
import sys
import threading
import traceback

from mindaudio.errors import (EXIT_CONFIG, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL,  # noqa: F401
                              EXIT_TERMINATED, ConfigError, MindaudioError)
from mindaudio.fileio import is_no_space


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that cleanup (temporary files, locks) runs as for Ctrl-C."""


def fail(message, status=EXIT_ERROR):
    """Print ``error: message`` (``config error:`` for status 2) and exit with ``status``."""
    prefix = "config error" if status == EXIT_CONFIG else "error"
    print(f"{prefix}: {message}", file=sys.stderr, flush=True)
    sys.exit(status)


def mindspore_cause(error):
    """The sentence that matters in a MindSpore RuntimeError (the Python exception a dataset worker raised, or the
    first lines before the C++ call stack)."""
    text = str(error)
    inner = re.search(r"Exception thrown from user defined Python function in dataset\.?(.*?)(?:Traceback|$)", text,
                      re.S)
    lines = [line.strip() for line in (inner.group(1) if inner else text).splitlines()]
    lines = [line for line in lines if line and not line.startswith(("-", "[", "mindspore/ccsrc", "File "))]
    cause = " ".join(lines[:3])
    return cause if len(cause) <= 500 else cause[:500].rsplit(" ", 1)[0] + " …"


def _on_sigterm(signum, frame):
    raise Terminated()


def guarded(main):
    """Wrap a command's ``main``: errors become one sentence on stderr and their exit status; Ctrl-C exits 130 and
    SIGTERM 143, each after the ``finally`` blocks below have removed temporary files and released locks."""

    @functools.wraps(main)
    def run(*args, **kwargs):
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _on_sigterm)
        try:
            return main(*args, **kwargs)
        except KeyboardInterrupt:
            fail("interrupted", EXIT_INTERRUPTED)
        except Terminated:
            fail("terminated", EXIT_TERMINATED)
        except Exception as e:  # noqa: BLE001 - every error gets a sentence; see MINDAUDIO_TRACEBACK
            if os.environ.get("MINDAUDIO_TRACEBACK"):
                traceback.print_exc()
            fail(*describe(e))
    return run


def describe(error):
    """(message, exit status) for any exception a command can meet."""
    if isinstance(error, MindaudioError):
        return str(error), error.exit_status
    if is_no_space(error):
        where = os.path.dirname(error.filename) if getattr(error, "filename", None) else "the device"
        return f"no space left on {where}", EXIT_ERROR
    if isinstance(error, OSError) and error.filename:
        return f"{error.strerror}: {error.filename}", EXIT_ERROR
    if isinstance(error, (OSError, ValueError, FloatingPointError)):
        return str(error), EXIT_ERROR
    if isinstance(error, RuntimeError):
        return f"{mindspore_cause(error)} (MINDAUDIO_TRACEBACK=1 shows where)", EXIT_ERROR
    return f"{type(error).__name__}: {error} (a bug: MINDAUDIO_TRACEBACK=1 shows where; please report it)", EXIT_ERROR


class Parser(argparse.ArgumentParser):
    """argparse with hidden old spellings of options and required options that may be given by any spelling."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)
        self._required = []

    def add_option(self, *names, old=(), required=False, **kwargs):
        """An option under its ``names`` (shown) and its ``old`` spellings (hidden), one destination."""
        action = self.add_argument(*names, **kwargs)
        for name in old:
            hidden = {k: v for k, v in kwargs.items() if k not in ("help", "dest", "metavar")}
            self.add_argument(name, dest=action.dest, help=argparse.SUPPRESS, **hidden)
        if required:
            self._required.append(action)
        return action

    def add_flag(self, name, old=None, help=None):
        """A boolean ``--name`` flag; its old spelling ``old`` took a value (``--data_ready True``)."""
        action = self.add_argument(name, action="store_true", help=help)
        if old:
            self.add_argument(old, dest=action.dest, type=_bool, help=argparse.SUPPRESS)
        return action

    def parse_args(self, args=None, namespace=None):
        parsed = super().parse_args(args, namespace)
        missing = [a.option_strings[0] for a in self._required if getattr(parsed, a.dest) is None]
        if missing:
            self.error(f"the following arguments are required: {', '.join(missing)}")
        return parsed


def _bool(text):
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected True or False, got {text!r}")


def add_config_args(parser, default=None):
    parser.add_argument("-c", "--config", default=default,
                        help="YAML config file, or the name of a packaged one: deepspeech2, demo, streaming "
                             "(default: %(default)s)")
    parser.add_argument("-o", "--override", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one config value, e.g. -o train.lr=1e-4 (repeatable)")
    return parser


def add_checkpoint_arg(parser, required=True):
    parser.add_argument("--checkpoint", required=required,
                        help="checkpoint file, or a run directory (its best checkpoint)")
    return parser


def checkpoint_and_config(args):
    """``args.checkpoint`` (a file or a run directory) resolved, and the config to run it with (``args.config``,
    ``args.override``). Raises CheckpointError or ConfigError."""
    from mindaudio.inference.network import config_for, resolve_checkpoint
    checkpoint = resolve_checkpoint(args.checkpoint)
    return checkpoint, config_for(checkpoint, args.config, args.override)


def add_model_args(parser):
    """A model from ``--checkpoint`` or ``--mindir``, and how long audio is cut (transcription and the server)."""
    add_config_args(parser)
    add_checkpoint_arg(parser, required=False)
    parser.add_argument("--mindir", help="an exported MindIR file (its .json sidecar beside it)")
    parser.add_option("--chunk-seconds", old=("--chunk_seconds",), type=float, default=30.0,
                      help="longest piece fed to the network at once (default: %(default)s)")
    parser.add_option("--search-seconds", old=("--search_seconds",), type=float, default=10.0,
                      help="where to look for a pause before each cut (default: last %(default)s s of a chunk)")
    return parser


def build_recognizer(args):
    """A Recognizer from ``--checkpoint`` or ``--mindir`` (transcription and the server)."""
    from mindaudio.inference.recognizer import Recognizer
    if bool(args.checkpoint) == bool(args.mindir):
        raise ConfigError("give exactly one of --checkpoint and --mindir")
    if args.mindir:
        return Recognizer.from_mindir(args.mindir, args.override, chunk_seconds=args.chunk_seconds,
                                      search_seconds=args.search_seconds)
    return Recognizer.from_checkpoint(args.checkpoint, args.config, args.override,
                                      chunk_seconds=args.chunk_seconds, search_seconds=args.search_seconds)
