"""What every command line shares: exit statuses, the config arguments, turning a checkpoint argument into
(checkpoint, config), and user errors printed as one sentence instead of a traceback.

Exit statuses, kept by every entry point:
  0  success
  1  error (a missing or unreadable file, a run that cannot continue ...)
  2  config or usage error (bad ``-c``/``-o`` value, unknown option)
  3  partial results: the work was done and written, but some inputs could not be used (named on stderr)
"""
import sys

from mindaudio.config import ConfigError, add_config_args  # noqa: F401  (re-exported for the command lines)

EXIT_OK, EXIT_ERROR, EXIT_CONFIG, EXIT_PARTIAL = 0, 1, 2, 3


def fail(message, status=EXIT_ERROR):
    """Print ``error: message`` (``config error:`` for status 2) and exit with ``status``."""
    prefix = "config error" if status == EXIT_CONFIG else "error"
    print(f"{prefix}: {message}", file=sys.stderr, flush=True)
    sys.exit(status)


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
