"""Test-only hooks, switched on by environment variables; the training loop calls whatever :func:`from_env`
returns (nothing, in a normal run).

  MINDAUDIO_TEST_KILL_AT=RANK:STEP   rank RANK SIGKILLs itself right after finishing global step STEP, as an
                                     out-of-memory kill would.
  MINDAUDIO_TEST_KILL_BEFORE_VALIDATION=N
                                     rank 0 SIGKILLs itself after the checkpoint that ends epoch N (1-based),
                                     before that epoch's validation.
  MINDAUDIO_TEST_DUMP_DIR=DIR        every rank saves its whole training state to DIR/rank<r>_{start,end}.npz.
"""
import os
import signal
import sys


class KillAt:
    def __init__(self, spec):
        self.rank, self.step = (int(v) for v in spec.split(":"))

    def after_step(self, rank, global_step, state):
        if (rank, global_step) == (self.rank, self.step):
            sys.stderr.flush()
            os.kill(os.getpid(), signal.SIGKILL)


class KillBeforeValidation:
    def __init__(self, epochs_done):
        self.epochs_done = int(epochs_done)

    def before_validation(self, rank, epochs_done):
        if rank == 0 and epochs_done == self.epochs_done:
            sys.stderr.flush()
            os.kill(os.getpid(), signal.SIGKILL)


class DumpState:
    def __init__(self, directory):
        self.dir = directory

    def _dump(self, rank, state, tag):
        import numpy as np
        os.makedirs(self.dir, exist_ok=True)
        np.savez(os.path.join(self.dir, f"rank{rank}_{tag}.npz"), **{n: p.asnumpy() for n, p in state.items()})

    def on_start(self, rank, state):
        self._dump(rank, state, "start")

    def on_end(self, rank, state):
        self._dump(rank, state, "end")


def from_env():
    hooks = []
    if os.environ.get("MINDAUDIO_TEST_KILL_AT"):
        hooks.append(KillAt(os.environ["MINDAUDIO_TEST_KILL_AT"]))
    if os.environ.get("MINDAUDIO_TEST_KILL_BEFORE_VALIDATION"):
        hooks.append(KillBeforeValidation(os.environ["MINDAUDIO_TEST_KILL_BEFORE_VALIDATION"]))
    if os.environ.get("MINDAUDIO_TEST_DUMP_DIR"):
        hooks.append(DumpState(os.environ["MINDAUDIO_TEST_DUMP_DIR"]))
    return hooks
