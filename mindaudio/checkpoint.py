"""Checkpoints: network weights under their own names (loadable without the optimizer), optimizer and loss-scale
state under ``optimizer.`` / ``scaler.``, and the run position and config as metadata.

Every file is written to a temporary name and renamed, so a crash or a full disk during a save never leaves a
corrupt file under a checkpoint's name, and never costs an earlier checkpoint. Used by training and by every
inference tool; imports nothing of ``mindaudio.training``.
"""
import binascii
import contextlib
import glob
import json
import logging
import os
import re

import numpy as np
import mindspore as ms

from mindaudio.errors import CheckpointError
from mindaudio.fileio import atomic_path, is_no_space

log = logging.getLogger(__name__)

META_KEYS = ("epoch", "batch_in_epoch", "global_step", "best_wer", "best_cer", "world_size", "config",
             "averaged_from")


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
    """Write ``state`` (name → Parameter or Tensor) and ``meta`` to ``path`` atomically."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        with atomic_path(path) as tmp:
            try:
                ms.save_checkpoint([{"name": n, "data": p} for n, p in state.items()], tmp, append_dict=dict(meta),
                                   crc_check=True)
            finally:
                with contextlib.suppress(OSError):          # the temporary MindSpore writes first, if left
                    os.remove(os.path.splitext(tmp)[0] + ".tmp")
    except (OSError, RuntimeError) as e:
        if is_no_space(e):
            raise CheckpointError(f"no space left on {directory} to write {os.path.basename(path)}"
                                  " (the half-written file was removed; earlier checkpoints are kept)") from None
        raise CheckpointError(f"cannot write checkpoint {path}: {' '.join(str(e).split())[:300]}") from None


CRC_MARKER = b"crc_num"          # MindSpore's checksum trailer: b"crc_num" + CRC-32 of the rest, 10 bytes big-endian


def verify(path):
    """Check a checkpoint's checksum (CRC-32 of everything before MindSpore's trailer) before anything parses it: a
    corrupted file is refused here, because MindSpore's parser may crash the process on one. Returns False for a file
    without a checksum (written before mindaudio 0.3), which cannot be verified."""
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint not found: {path}")
    crc = 0
    size = os.path.getsize(path)
    if size < 17:
        raise CheckpointError(f"cannot read checkpoint {path}: {size} bytes is too short for a checkpoint")
    with open(path, "rb") as f:
        f.seek(size - 17)
        trailer = f.read(17)
        if trailer[:7] != CRC_MARKER:
            if sum(bin(a ^ b).count("1") for a, b in zip(trailer[:7], CRC_MARKER)) > 4:
                return False                               # no checksum (an older file)
            raise CheckpointError(f"checkpoint {path} is corrupted: its checksum trailer is damaged; use another "
                                  "checkpoint")
        f.seek(0)
        left = size - 17
        while left:
            block = f.read(min(left, 1 << 24))
            crc = binascii.crc32(block, crc)
            left -= len(block)
    if crc != int.from_bytes(trailer[7:], "big"):
        raise CheckpointError(f"checkpoint {path} is corrupted: its checksum does not match its contents (the file "
                              "changed after it was written); use another checkpoint")
    return True


def _read(path, **kwargs):
    """MindSpore's load, after :func:`verify`."""
    if not verify(path):
        log.warning("%s carries no checksum (written before mindaudio 0.3): loaded unverified", path)
    try:
        return ms.load_checkpoint(path, **kwargs)
    except Exception as e:  # noqa: BLE001 - MindSpore raises several types for unreadable files
        raise CheckpointError(f"cannot read checkpoint {path}: {' '.join(str(e).split())[:300]}") from None


def load(path):
    """→ (name → Parameter, meta dict). Raises CheckpointError with the path on a missing, unreadable or corrupted
    file, and on one whose parameters are not all finite."""
    params = _read(path)
    for name, value in params.items():
        if name in META_KEYS or isinstance(value, str):
            continue
        array = value.asnumpy()
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise CheckpointError(f"checkpoint {path} holds non-finite values (NaN or infinity) in {name}: a model "
                                  "from it cannot give meaningful results; use an earlier checkpoint")
    meta = {}
    for key in META_KEYS:
        if key in params:
            value = params.pop(key)
            meta[key] = value if isinstance(value, str) else value.asnumpy().item()
    return params, meta


def stored_config(path):
    """The config dict a checkpoint's metadata holds (training writes it), or None; checks the checksum."""
    params = _read(path, choice_func=lambda name: name == "config")
    value = params.get("config")
    if value is None:
        return None
    return json.loads(value if isinstance(value, str) else value.asnumpy().item())


def restore(state, params, path=""):
    """Copy loaded values into the live Parameters; every name in ``state`` must be present with its shape."""
    missing = [n for n in state if n not in params]
    if missing:
        raise CheckpointError(f"checkpoint {path} lacks {len(missing)} parameter(s), e.g. {missing[:3]}; "
                              "was it written for another model configuration?")
    for name, p in state.items():
        value = params[name]
        if tuple(value.shape) != tuple(p.shape):
            raise CheckpointError(f"checkpoint {path}: {name} has shape {tuple(value.shape)}, "
                                  f"the model expects {tuple(p.shape)}")
        p.set_data(ms.Tensor(value.asnumpy(), p.dtype))


def step_of(path):
    """``…/step_000001200.ckpt`` → 1200."""
    return int(re.findall(r"step_(\d+)\.ckpt$", path)[0])


class CheckpointManager:
    """``step_<global_step>.ckpt`` files in ``<run>/checkpoints``: keeps the newest ``keep`` and those of the steps
    in ``protected`` (the best validations, for checkpoint averaging), plus ``best.ckpt``."""

    def __init__(self, run_dir, keep=1, create=True):
        self.dir = os.path.join(run_dir, "checkpoints")
        self.keep = keep
        self.protected = set()
        if create:
            os.makedirs(self.dir, exist_ok=True)

    def step_files(self):
        return sorted(glob.glob(os.path.join(self.dir, "step_*.ckpt")), key=step_of)

    def path_of(self, step):
        return os.path.join(self.dir, f"step_{step:09d}.ckpt")

    def save(self, state, meta):
        path = self.path_of(meta["global_step"])
        save(path, state, meta)
        self.prune()                                    # only once the new one is complete
        return path

    def prune(self):
        for old in self.step_files()[:-self.keep]:
            if step_of(old) not in self.protected:
                os.remove(old)

    def save_best(self, state, meta):
        path = os.path.join(self.dir, "best.ckpt")
        save(path, state, meta)
        return path

    def load_latest(self):
        """(path, params, meta) of the newest readable step checkpoint, or None; each file is read once."""
        for path in reversed(self.step_files()):
            try:
                return (path, *load(path))
            except CheckpointError as e:  # an unreadable file is skipped with a warning, never trusted
                log.warning("skipping %s", e)
        return None


def resolve(path):
    """A checkpoint file, or a run directory → its ``best.ckpt`` (else its newest readable step checkpoint)."""
    if os.path.isdir(path):
        for candidate in (os.path.join(path, "checkpoints", "best.ckpt"), os.path.join(path, "best.ckpt")):
            if os.path.isfile(candidate):
                return candidate
        found = CheckpointManager(path, create=False).load_latest()
        if found:
            return found[0]
        raise CheckpointError(f"no checkpoint in run directory {path}")
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint not found: {path}")
    return path


def average(paths):
    """The element-wise mean of the network parameters of ``paths`` (BatchNorm statistics included; optimizer and
    loss-scale state left out) → (name → Tensor, meta for the result: the newest checkpoint's config and step, and
    the averaged paths)."""
    loaded = [load(p) for p in paths]
    names = [n for n in loaded[0][0] if not n.startswith(("optimizer.", "scaler."))]
    for path, (params, _) in zip(paths, loaded):
        if set(n for n in params if not n.startswith(("optimizer.", "scaler."))) != set(names):
            raise CheckpointError(f"{path} holds other parameters than {paths[0]}: not the same model")
    state = {}
    for name in names:
        arrays = [params[name].asnumpy() for params, _ in loaded]
        if any(a.shape != arrays[0].shape for a in arrays):
            raise CheckpointError(f"{name} differs in shape between the checkpoints")
        state[name] = ms.Tensor(np.mean(np.stack(arrays).astype(np.float64), axis=0).astype(arrays[0].dtype))
    newest = max(loaded, key=lambda item: item[1].get("global_step", 0))[1]
    meta = {k: v for k, v in newest.items() if k in ("config", "global_step", "epoch", "world_size")}
    meta["averaged_from"] = json.dumps([os.path.abspath(p) for p in paths])
    return state, meta
