"""Export a checkpoint to MindIR with dynamic batch and length:

    python -m mindaudio.export --checkpoint runs/demo --output model.mindir [-c CONFIG] [-o section.key=value]

The graph takes (feats [B, 1, F, T] float32, lengths [B] int32) and returns (log_probs [T', B, C] float32,
out_lengths [B] int32), B and T free. Load it with :func:`load_mindir` (``nn.GraphCell(ms.load(path))`` plus
``set_inputs`` with the dynamic signature: a bare GraphCell handles any T, but in MindSpore 2.10 it fixes the batch
size of its first call, because the LSTMs' zero initial states are specialised then) and decode the log-probs
with ``mindaudio.decoding``. Features must be ``mindaudio.data.features.spectrogram``'s; the settings
the graph expects (features, label set) are written beside it as ``<output stem>.json``.

The graph contains the network as built for ``train.device_target``: on CPU the convolution is the matmul
form (frequency unfold, time shifts), which runs anywhere but is slow on Ascend; export on an Ascend machine
(``-o train.device_target=Ascend``) to deploy there with the native convolution.
"""
import argparse
import json
import os

from mindaudio.cli import guarded
from mindaudio.config import add_config_args, to_dict


def export_mindir(cfg, checkpoint_path, output):
    """Write ``output`` (``.mindir`` added if missing) and its JSON sidecar; returns the MindIR path."""
    import mindspore as ms
    from mindaudio.data.manifest import atomic_write_text
    from mindaudio.inference import load_network, resolve_checkpoint
    checkpoint_path = resolve_checkpoint(checkpoint_path)
    net = load_network(cfg, checkpoint_path)
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
    if net.streaming:                  # the streaming step too, its state as explicit inputs and outputs
        from mindaudio.streaming import step_signature, streaming_step
        signature = step_signature(net)
        ms.export(streaming_step(net), *signature, file_name=base + ".step", file_format="MINDIR")
        meta["streaming_step"] = {
            "file": os.path.basename(base) + ".step.mindir",
            "inputs": ["feats [1, 1, F, 2m] float32", "position [1] int32", "total [1] int32", "conv1_cache",
                       "conv2_cache", "h", "c", "look_cache"],
            "outputs": ["log_probs [m, 1, C] float32", "conv1_cache", "conv2_cache", "h", "c", "look_cache"],
            "state_shapes": [list(t.shape) for t in signature[3:]]}
    atomic_write_text(base + ".json", json.dumps(meta, indent=2) + "\n")
    return path


def load_streaming_step(path, meta):
    """The exported streaming step of ``path`` (a GraphCell with a dynamic chunk length) and its zero state."""
    import numpy as np
    import mindspore as ms
    from mindspore import nn
    info = meta["streaming_step"]
    graph = nn.GraphCell(ms.load(os.path.join(os.path.dirname(path), info["file"])))
    shapes = info["state_shapes"]
    graph.set_inputs(ms.Tensor(shape=[1, 1, meta["num_features"], None], dtype=ms.float32),
                     ms.Tensor(shape=[1], dtype=ms.int32), ms.Tensor(shape=[1], dtype=ms.int32),
                     *[ms.Tensor(shape=s, dtype=ms.float32) for s in shapes])
    return graph, [np.zeros(s, np.float32) for s in shapes]


def load_mindir(path, num_features=None):
    """An exported graph as a callable Cell with dynamic batch and length: (feats, lengths) → (log_probs,
    out_lengths). ``num_features`` defaults to the value in the JSON written beside the MindIR file."""
    import mindspore as ms
    from mindspore import nn
    if num_features is None:
        with open(os.path.splitext(path)[0] + ".json", encoding="utf-8") as f:
            num_features = json.load(f)["num_features"]
    graph = nn.GraphCell(ms.load(path))
    graph.set_inputs(ms.Tensor(shape=[None, 1, num_features, None], dtype=ms.float32),
                     ms.Tensor(shape=[None], dtype=ms.int32))
    return graph


@guarded
def main(argv=None):
    parser = add_config_args(argparse.ArgumentParser(prog="python -m mindaudio.export", description=__doc__,
                                                     formatter_class=argparse.RawDescriptionHelpFormatter))
    parser.add_argument("--checkpoint", required=True, help="checkpoint file, or a run directory (uses its best)")
    parser.add_argument("--output", required=True, help="MindIR file to write (e.g. model.mindir)")
    args = parser.parse_args(argv)
    from mindaudio.cli import checkpoint_and_config
    checkpoint, cfg = checkpoint_and_config(args)
    path = export_mindir(cfg, checkpoint, args.output)
    print(path)


if __name__ == "__main__":
    main()
