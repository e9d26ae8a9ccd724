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
import _thread
import argparse
import contextlib
import ctypes
import functools
import os
import re
import signal
import sys
import threading
import time
import traceback

from mindaudio.config import option
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


class _InterruptWatch:
    """Tells a Ctrl-C from a real SIGTERM. MindSpore's runtime catches SIGINT while a graph runs and answers it by
    sending its own process SIGTERM, so the process itself never sees the interrupt. A terminal's Ctrl-C goes to the
    whole foreground process group, though: a small watcher process in the group notes it on a pipe, and a SIGTERM
    that follows within seconds is the user's interrupt (exit 130), any other a termination (143)."""

    def __init__(self):
        self.pid, self.read = None, None
        try:
            read, write = os.pipe()
            pid = os.fork()
        except OSError:
            return
        if pid == 0:                                       # the watcher: note each SIGINT, die with the parent
            try:
                os.close(read)
                ctypes.CDLL(None).prctl(1, signal.SIGKILL)     # PR_SET_PDEATHSIG
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, lambda *_: os.write(write, b"i"))
                while True:
                    signal.pause()
            finally:
                os._exit(0)
        os.close(write)
        os.set_blocking(read, False)
        self.pid, self.read = pid, read

    def interrupted(self):
        """Whether a SIGINT reached the process group in the last seconds (waits a moment for the watcher)."""
        if self.read is None:
            return False
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            try:
                if os.read(self.read, 64):
                    return True
            except BlockingIOError:
                time.sleep(0.02)
        return False

    def close(self):
        if self.pid:
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            os.close(self.read)
            self.pid = None


def _quiet_children():
    """Processes a command forks (feature and conversion workers, the interrupt watcher) leave Ctrl-C to the command:
    SIGINT is blocked across the fork and ignored in the child before anything runs there, so an interrupt that
    lands while a worker starts cannot print a traceback from inside it."""
    block = lambda: signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})         # noqa: E731
    unblock = lambda: signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})     # noqa: E731

    def child():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        unblock()
    os.register_at_fork(before=block, after_in_parent=unblock, after_in_child=child)


_watch = []
_forks_quiet = []
_pending = [None]                # an interrupt held back until the main thread leaves MindSpore's own code


def _compiling(frame):
    """Whether the main thread is inside MindSpore's graph compiler."""
    while frame is not None:
        code = frame.f_code
        if code.co_name == "compile" and f"{os.sep}mindspore{os.sep}" in code.co_filename:
            return True
        frame = frame.f_back
    return False


def _raise(exception, frame):
    """Raise ``exception`` now, or, while MindSpore compiles a graph (where an exception dumps a C++ stack and an
    analyze_fail.ir into the current directory), as soon as the compile is over."""
    if _compiling(frame):
        if _pending[0] is None:
            _pending[0] = exception
            threading.Thread(target=_retry, daemon=True).start()
        return
    _pending[0] = None
    raise exception()


def _retry():
    while True:
        time.sleep(0.2)
        if _pending[0] is None:
            return
        _thread.interrupt_main()                 # runs _on_sigint in the main thread (no signal is sent)


def _on_sigint(signum, frame):
    _raise(_pending[0] or KeyboardInterrupt, frame)


def _on_sigterm(signum, frame):
    _raise(KeyboardInterrupt if _watch and _watch[0].interrupted() else Terminated, frame)


def _ignore_signals():
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def guarded(main):
    """Wrap a command's ``main``: errors become one sentence on stderr and their exit status; Ctrl-C exits 130 and
    SIGTERM 143, each after the ``finally`` blocks below have removed temporary files and released locks."""

    @functools.wraps(main)
    def run(*args, **kwargs):
        outermost = threading.current_thread() is threading.main_thread() and not _watch
        if outermost and not _forks_quiet:
            _quiet_children()
            _forks_quiet.append(True)
        if outermost:
            previous = signal.signal(signal.SIGTERM, _on_sigterm), signal.signal(signal.SIGINT, _on_sigint)
            _watch.append(_InterruptWatch())
        interrupted = False
        try:
            return main(*args, **kwargs)
        except (KeyboardInterrupt, Terminated) as e:
            _pending[0] = interrupted = None
            if outermost:                            # one interrupt is enough: the clean-up below is not cut short
                _ignore_signals()
            if isinstance(e, KeyboardInterrupt):
                fail("interrupted", EXIT_INTERRUPTED)
            fail("terminated", EXIT_TERMINATED)
        except Exception as e:  # noqa: BLE001 - every error gets a sentence; see MINDAUDIO_TRACEBACK
            if outermost:           # failing already: a SIGTERM now (mpirun stopping the other ranks) must not
                _ignore_signals()   # print a traceback over the message
            if os.environ.get("MINDAUDIO_TRACEBACK"):
                traceback.print_exc()
            fail(*describe(e))
        finally:
            if outermost:
                _watch.pop().close()
                if interrupted is False:       # as it was (a command run in-process, e.g. by a test); at exit,
                    signal.signal(signal.SIGTERM, previous[0])      # a SIGTERM then ends the process quietly
                    signal.signal(signal.SIGINT, previous[1])
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
    parser.add_option("--chunk-seconds", old=("--chunk_seconds",), type=option(float, 0, None, True), default=30.0,
                      help="longest piece fed to the network at once (default: %(default)s)")
    parser.add_option("--search-seconds", old=("--search_seconds",), type=option(float, 0), default=10.0,
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
