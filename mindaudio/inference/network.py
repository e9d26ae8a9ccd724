"""From a checkpoint (or a run directory) to log-probabilities: the config it was trained with, its network in
evaluation mode, and the one forward path every inference tool uses (evaluation, the recognizer, LM tuning, the
server, the benchmarks). Imports nothing of ``mindaudio.training``.

    cfg = config_for(resolve_checkpoint("runs/demo"))
    net = load_network(cfg, resolve_checkpoint("runs/demo"))
    log_probs, lengths = forward(net, [spectrogram(audio, cfg.features)], cfg)   # [T', B, C], [B]
"""
import json
import os

import numpy as np
import mindspore as ms
from mindspore import nn

from mindaudio import checkpoint
from mindaudio.config import config_from_dict, load_config
from mindaudio.data.dataset import collate, frame_multiple
from mindaudio.device import set_device
from mindaudio.errors import ConfigError
from mindaudio.models.deepspeech2 import build_model

resolve_checkpoint = checkpoint.resolve


def config_for(checkpoint_path, config_path=None, overrides=()):
    """The config to run a checkpoint with: ``config_path`` if given; else the config stored in the checkpoint;
    else the run directory's ``config.yaml``. Overrides apply on top. Raises ConfigError if there is none."""
    if config_path:
        return load_config(config_path, overrides)
    stored = checkpoint.stored_config(checkpoint_path)
    if stored is not None:
        try:
            return config_from_dict(stored, overrides, checkpoint_path)
        except ConfigError as e:
            raise ConfigError(f"the config stored in {checkpoint_path}: {e}") from None
    run_config = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(checkpoint_path))), "config.yaml")
    if os.path.isfile(run_config):
        return load_config(run_config, overrides)
    raise ConfigError(f"{checkpoint_path} stores no config and has no run config.yaml beside it: pass -c CONFIG")


def build_network(cfg, portable=False):
    """The network of ``cfg``, untrained, in evaluation mode (dynamic batch and length unless
    ``train.dynamic_shapes`` is false); ``portable``: only MindSpore's own operators (for export)."""
    net = build_model(cfg, portable)
    net.set_train(False)
    if cfg.train.dynamic_shapes:
        net.set_inputs(*net.input_signature())
    return net


def load_network(cfg, checkpoint_path, portable=False):
    """The network of ``cfg`` on ``cfg.train.device_target`` with the checkpoint's weights, in evaluation mode."""
    set_device(cfg.train.device_target, cfg.train.device_id, cfg.train.dynamic_shapes)
    net = build_network(cfg, portable)
    params, _ = checkpoint.load(checkpoint_path)
    checkpoint.restore(checkpoint.training_state(net), params, checkpoint_path)
    return net


def load_mindir(path, num_features=None):
    """An exported graph as a callable Cell with dynamic batch and length: (feats, lengths) → (log_probs,
    out_lengths). ``num_features`` defaults to the value in the JSON written beside the MindIR file. (A bare
    ``nn.GraphCell`` handles any T, but in MindSpore 2.10 it fixes the batch size of its first call.)"""
    if num_features is None:
        num_features = mindir_sidecar(path)["num_features"]
    graph = nn.GraphCell(ms.load(path))
    graph.set_inputs(ms.Tensor(shape=[None, 1, num_features, None], dtype=ms.float32),
                     ms.Tensor(shape=[None], dtype=ms.int32))
    return graph


def load_streaming_step(path, meta):
    """The exported streaming step beside ``path`` (a GraphCell with a dynamic chunk length) and its zero state."""
    info = meta["streaming_step"]
    graph = nn.GraphCell(ms.load(os.path.join(os.path.dirname(path), info["file"])))
    shapes = info["state_shapes"]
    graph.set_inputs(ms.Tensor(shape=[1, 1, meta["num_features"], None], dtype=ms.float32),
                     ms.Tensor(shape=[1], dtype=ms.int32), ms.Tensor(shape=[1], dtype=ms.int32),
                     *[ms.Tensor(shape=s, dtype=ms.float32) for s in shapes])
    return graph, [np.zeros(s, np.float32) for s in shapes]


def mindir_sidecar(path):
    """The settings ``mindaudio-export`` wrote beside a MindIR file (``<stem>.json``)."""
    sidecar = os.path.splitext(path)[0] + ".json"
    if not os.path.isfile(sidecar):
        raise FileNotFoundError(f"{sidecar} not found: it is written beside the MindIR file by mindaudio-export")
    with open(sidecar, encoding="utf-8") as f:
        return json.load(f)


def forward(net, feats, cfg):
    """feats: list of [F, T_i] → (log_probs [T', B, C] float32 NumPy, out_lens [B]): one padded batch."""
    batch = collate(feats, [np.zeros(1, np.int32)] * len(feats), frame_multiple(cfg))
    return forward_batch(net, batch)


def forward_batch(net, batch):
    """A padded :class:`~mindaudio.data.dataset.Batch` → (log_probs [T', B, C] float32 NumPy, out_lens [B])."""
    log_probs, out_lens = net(ms.Tensor(batch.feats), ms.Tensor(batch.feat_lens))
    return log_probs.asnumpy(), out_lens.asnumpy()
