"""From a checkpoint (or a run directory) to log-probabilities: the config it was trained with, its network in
evaluation mode, its features. Used by eval.py, transcription, export, LM tuning, the server and the benchmarks;
imports nothing of ``mindaudio.training``.

    cfg = config_for(resolve_checkpoint("runs/demo"))
    net = load_network(cfg, resolve_checkpoint("runs/demo"))
    log_probs, lengths = forward(net, [spectrogram(audio, cfg.features)], cfg)   # [T', B, C], [B]
"""
import os

import numpy as np

from mindaudio import checkpoint
from mindaudio.config import ConfigError, config_from_dict, load_config
from mindaudio.data.dataset import collate, frame_multiple
from mindaudio.device import set_device  # noqa: F401  (part of this module's interface)

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


def build_network(cfg):
    """The network of ``cfg``, untrained, in evaluation mode (dynamic batch and length unless
    ``train.dynamic_shapes`` is false)."""
    from mindaudio.models.deepspeech2 import build_model
    net = build_model(cfg)
    net.set_train(False)
    if cfg.train.dynamic_shapes:
        net.set_inputs(*net.input_signature())
    return net


def load_network(cfg, checkpoint_path):
    """The network of ``cfg`` on ``cfg.train.device_target`` with the checkpoint's weights, in evaluation mode."""
    set_device(cfg.train.device_target, cfg.train.device_id, cfg.train.dynamic_shapes)
    net = build_network(cfg)
    params, _ = checkpoint.load(checkpoint_path)
    checkpoint.restore(checkpoint.training_state(net), params, checkpoint_path)
    return net


def forward(net, feats, cfg):
    """feats: list of [F, T_i] → (log_probs [T', B, C] float32 NumPy, out_lens [B]): one padded batch."""
    import mindspore as ms
    batch = collate(feats, [np.zeros(1, np.int32)] * len(feats), frame_multiple(cfg))
    log_probs, out_lens = net(ms.Tensor(batch.feats), ms.Tensor(batch.feat_lens))
    return log_probs.asnumpy(), out_lens.asnumpy()
