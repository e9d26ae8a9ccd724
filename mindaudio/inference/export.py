"""Export a checkpoint to MindIR with dynamic batch and length (``mindaudio-export``).

The graph takes (feats [B, 1, F, T] float32, lengths [B] int32) and returns (log_probs [T', B, C] float32,
out_lengths [B] int32), B and T free; load it with ``mindaudio.inference.network.load_mindir`` or
``Recognizer.from_mindir`` and decode the log-probs with ``mindaudio.decoding``. Features must be
``mindaudio.data.features.spectrogram``'s; the settings the graph expects (features, label set, model) are written
beside it as ``<output stem>.json``. A streaming model also gets ``<stem>.step.mindir``: its
:class:`~mindaudio.models.streaming_step.StreamingStep`, the state as explicit inputs and outputs.

The graph contains the network as built for ``train.device_target``: on CPU the convolution is the matmul
form (frequency unfold, time shifts), which runs anywhere but is slow on Ascend; export on an Ascend machine
(``-o train.device_target=Ascend``) to deploy there with the native convolution.
"""
import json
import os

import mindspore as ms

from mindaudio.config import to_dict
from mindaudio.fileio import atomic_write
from mindaudio.inference.network import load_network, resolve_checkpoint
from mindaudio.models.streaming_step import streaming_step


def export_mindir(cfg, checkpoint_path, output):
    """Write ``output`` (``.mindir`` added if missing) and its JSON sidecar; returns the MindIR path."""
    checkpoint_path = resolve_checkpoint(checkpoint_path)
    net = load_network(cfg, checkpoint_path, portable=True)     # nn.LSTM, not the compiled CPU kernel
    base = output[:-len(".mindir")] if output.endswith(".mindir") else output
    os.makedirs(os.path.dirname(os.path.abspath(base)), exist_ok=True)
    ms.export(net, *net.input_signature(), file_name=base, file_format="MINDIR")
    path = base + ".mindir"
    if not os.path.isfile(path):
        raise RuntimeError(f"MindSpore did not write {path}")
    settings = {k: v for k, v in to_dict(cfg).items() if k in ("features", "text", "model")}
    meta = {"checkpoint": os.path.abspath(checkpoint_path), "inputs": ["feats [B, 1, F, T] float32",
                                                                      "lengths [B] int32"],
            "outputs": ["log_probs [T', B, C] float32", "out_lengths [B] int32"],
            "num_features": net.num_features, "device_target": cfg.train.device_target, **settings}
    if net.streaming:
        step = streaming_step(net)
        ms.export(step, *step.input_signature(), file_name=base + ".step", file_format="MINDIR")
        meta["streaming_step"] = {
            "file": os.path.basename(base) + ".step.mindir",
            "inputs": ["feats [1, 1, F, 2m] float32", "position [1] int32", "total [1] int32", "conv1_cache",
                       "conv2_cache", "h", "c", "look_cache"],
            "outputs": ["log_probs [m, 1, C] float32", "conv1_cache", "conv2_cache", "h", "c", "look_cache"],
            "state_shapes": [list(s) for s in step.state_signature()]}
    atomic_write(base + ".json", json.dumps(meta, indent=2) + "\n")
    return path
