"""Checkpoints: network weights under their own names (loadable by eval without the optimizer), optimizer and
loss-scale state under ``optimizer.`` / ``scaler.``, and the run position and config as metadata.

Every file is written to a temporary name and renamed, so a crash during a save never leaves a corrupt file
under a checkpoint's name.
"""
import glob
import logging
import os
import re

import mindspore as ms

log = logging.getLogger(__name__)

META_KEYS = ("epoch", "batch_in_epoch", "global_step", "best_wer", "world_size", "config")


def training_state(network, optimizer=None, scaler=None):
    """name → Parameter for everything a resumed run needs."""
    state = {name: p for name, p in network.parameters_and_names()}
    own = {id(p) for p in state.values()}
    if optimizer is not None:
        for name, p in optimizer.parameters_and_names():
            if id(p) not in own:
                state["optimizer." + name] = p
    if scaler is not None:
        state["scaler.scale_value"] = scaler.scale_value
        state["scaler.counter"] = scaler.counter
    return state


def save(path, state, meta):
    tmp = os.path.join(os.path.dirname(path) or ".", ".tmp-" + os.path.basename(path))
    ms.save_checkpoint([{"name": n, "data": p} for n, p in state.items()], tmp, append_dict=dict(meta))
    os.replace(tmp, path)


def load(path):
    """→ (name → Parameter, meta dict). Raises RuntimeError with the path on an unreadable file."""
    try:
        params = ms.load_checkpoint(path)
    except Exception as e:
        raise RuntimeError(f"cannot read checkpoint {path}: {e}") from None
    meta = {}
    for key in META_KEYS:
        if key in params:
            value = params.pop(key)
            meta[key] = value if isinstance(value, str) else value.asnumpy().item()
    return params, meta


def restore(state, params, path=""):
    """Copy loaded values into the live Parameters; every name in ``state`` must be present with its shape."""
    missing = [n for n in state if n not in params]
    if missing:
        raise RuntimeError(f"checkpoint {path} lacks {len(missing)} parameter(s), e.g. {missing[:3]}; "
                           "was it written for another model configuration?")
    for name, p in state.items():
        value = params[name]
        if tuple(value.shape) != tuple(p.shape):
            raise RuntimeError(f"checkpoint {path}: {name} has shape {tuple(value.shape)}, "
                               f"the model expects {tuple(p.shape)}")
        p.set_data(ms.Tensor(value.asnumpy(), p.dtype))


class CheckpointManager:
    """``step_<global_step>.ckpt`` files in ``<run>/checkpoints``: keeps the newest ``keep``, plus ``best.ckpt``."""

    def __init__(self, run_dir, keep, create=True):
        self.dir = os.path.join(run_dir, "checkpoints")
        self.keep = keep
        if create:
            os.makedirs(self.dir, exist_ok=True)

    def step_files(self):
        files = glob.glob(os.path.join(self.dir, "step_*.ckpt"))
        return sorted(files, key=lambda f: int(re.findall(r"step_(\d+)\.ckpt$", f)[0]))

    def save(self, state, meta):
        path = os.path.join(self.dir, f"step_{meta['global_step']:09d}.ckpt")
        save(path, state, meta)
        for old in self.step_files()[:-self.keep]:
            os.remove(old)
        return path

    def save_best(self, state, meta):
        path = os.path.join(self.dir, "best.ckpt")
        save(path, state, meta)
        return path

    def load_latest(self):
        """(path, params, meta) of the newest readable step checkpoint, or None; each file is read once."""
        for path in reversed(self.step_files()):
            try:
                return (path, *load(path))
            except RuntimeError as e:  # an unreadable file is skipped with a warning, never trusted
                log.warning("skipping %s", e)
        return None

    def latest(self):
        """The newest readable step checkpoint's path, or None."""
        found = self.load_latest()
        return found[0] if found else None
