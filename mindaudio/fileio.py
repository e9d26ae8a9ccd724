"""Writing files so that a crash, a full disk or a concurrent writer never leaves a half-written file under the
real name, and directory locks that the kernel releases when the process dies.

    atomic_write(path, "text" or b"bytes")
    with atomic_path(path) as tmp:          # for writers that need a path (checkpoints, MindIR, soundfile)
        write_something(tmp)
    lock = hold_lock(directory, ".run.lock", "another training run")   # BusyError naming the holder's pid
"""
import contextlib
import errno
import fcntl
import os
import sys
import tempfile

from mindaudio.errors import BusyError

TMP_PREFIX = ".tmp-"          # every temporary file starts with this: a killed run's leftovers are easy to find


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path`` (unique to this process); on success it is renamed to ``path``, on
    any failure (an exception, a full disk, Ctrl-C) it is removed and ``path`` is left as it was."""
    path = os.path.abspath(path)
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix="-" + os.path.basename(path), dir=directory)
    os.close(fd)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)          # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def atomic_write(path, data, durable=True):
    """Write ``data`` (str: UTF-8 text; bytes) to ``path`` atomically; ``durable``: fsync before the rename, so a
    power cut cannot leave an empty file under the name either (many small files skip it: it is slow)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            if durable:
                f.flush()
                os.fsync(f.fileno())


def is_no_space(error):
    """Whether ``error`` (any exception) means the disk is full."""
    return (isinstance(error, OSError) and error.errno == errno.ENOSPC) or "No space left" in str(error)


def hold_lock(directory, name, what, advice="wait for it to finish, or stop it, then run this again"):
    """Take an exclusive lock on ``directory/name`` for the life of this process and write this pid into it.
    Returns the open file descriptor (close it to release the lock). Raises BusyError naming the pid of the process
    that holds it. A POSIX record lock: held by this process only (not by the worker processes it forks, which may
    outlive it briefly), and dropped by the kernel when the process dies, even on SIGKILL."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno not in (errno.EACCES, errno.EAGAIN):
            os.close(fd)
            raise
        holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise BusyError(f"{what} is running in {directory} (pid {holder}): {advice}") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


@contextlib.contextmanager
def quiet_stderr():
    """Send what native libraries print to stderr (file descriptor 2) to /dev/null for the duration: KenLM's loading
    banner, MindSpore's log of a device it cannot load (the exception says the same, and the caller turns it into one
    sentence). MINDAUDIO_VERBOSE=1 keeps it."""
    if os.environ.get("MINDAUDIO_VERBOSE"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
