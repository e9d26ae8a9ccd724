"""Callbacks: what the training loop calls at fixed points of a run (:class:`Callback`), and the test-only ones,
switched on by environment variables (:func:`from_env` returns none in a normal run):

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

import numpy as np


class Callback:
    """The points of a run the loop calls, on every rank; ``state`` is name → Parameter (the training state)."""

    def on_start(self, rank, state):
        """After the state is restored (or initialised), before the first step."""

    def after_step(self, rank, global_step, state):
        """After each train step (``global_step`` counts the steps taken, skipped ones included)."""

    def before_validation(self, rank, epochs_done):
        """After the checkpoint that ends an epoch, before its validation."""

    def on_end(self, rank, state):
        """After the last epoch."""


class KillAt(Callback):
    def __init__(self, spec):
        self.rank, self.step = (int(v) for v in spec.split(":"))

    def after_step(self, rank, global_step, state):
        if (rank, global_step) == (self.rank, self.step):
            sys.stderr.flush()
            os.kill(os.getpid(), signal.SIGKILL)


class KillBeforeValidation(Callback):
    def __init__(self, epochs_done):
        self.epochs_done = int(epochs_done)

    def before_validation(self, rank, epochs_done):
        if rank == 0 and epochs_done == self.epochs_done:
            sys.stderr.flush()
            os.kill(os.getpid(), signal.SIGKILL)


class DumpState(Callback):
    def __init__(self, directory):
        self.dir = directory

    def _dump(self, rank, state, tag):
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
