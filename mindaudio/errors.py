"""Every error a user can act on, in one place. Each carries the exit status the command lines give it
(``mindaudio.cli`` prints the message as one sentence and exits with ``exit_status``; nothing else does).

Exit statuses, kept by every command: 0 success; 1 error; 2 config or usage error; 3 partial results (the work was
done and written, but some inputs could not be used, each named on stderr); 130 interrupted (Ctrl-C); 143 terminated
(SIGTERM).
"""

EXIT_OK, EXIT_ERROR, EXIT_CONFIG, EXIT_PARTIAL, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 3, 130, 143


class MindaudioError(Exception):
    """Base class: a message for the user, and the exit status of the command that meets it."""
    exit_status = EXIT_ERROR


class ConfigError(MindaudioError, ValueError):
    """A config file, key, value or command-line option that cannot be used."""
    exit_status = EXIT_CONFIG


class ManifestError(MindaudioError, ValueError):
    """A manifest line that cannot be used, with the file and line number in the message."""


class AudioError(MindaudioError, ValueError):
    """Audio that cannot be used (unreadable, empty, non-finite, ambiguous channels...), named in the message."""


class CheckpointError(MindaudioError, RuntimeError):
    """A checkpoint that cannot be found, read, verified, written or matched to the model, with its path."""


class DataError(MindaudioError, RuntimeError):
    """Data that cannot be used as asked (no utterance left after the filters, ranks that disagree, an output
    that cannot be written...)."""


class PrepError(MindaudioError, RuntimeError):
    """A preparation that cannot go on (missing archive, bad checksum, unwritable directory...)."""


class ChecksumError(PrepError):
    pass


class LaunchError(MindaudioError, RuntimeError):
    """A data-parallel job whose ranks cannot form one training (no scheduler, no mpi4py, no routable address...)."""


class BusyError(MindaudioError, RuntimeError):
    """Another process holds the lock of a directory this command needs for itself."""
