"""Checkpoint → network → log-probs → decoder → WER/CER, per manifest. Every utterance is scored exactly once."""
import json
import logging
import os

import numpy as np

from mindaudio.data.dataset import collate, feature_dim
from mindaudio.data.features import load_audio, spectrogram
from mindaudio.data.manifest import atomic_write_text, read_manifest
from mindaudio.decoding import greedy_decode
from mindaudio.metrics import ErrorRate
from mindaudio.text import Labels

log = logging.getLogger("mindaudio.eval")


def resolve_checkpoint(path):
    """A checkpoint file, or a run directory → its best checkpoint (else its newest)."""
    if os.path.isdir(path):
        for candidate in (os.path.join(path, "checkpoints", "best.ckpt"), os.path.join(path, "best.ckpt")):
            if os.path.isfile(candidate):
                return candidate
        from mindaudio.training.checkpoint import CheckpointManager
        latest = CheckpointManager(path, 1).latest()
        if latest:
            return latest
        raise FileNotFoundError(f"no checkpoint in run directory {path}")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    return path


def load_network(cfg, checkpoint_path):
    """Build the network of ``cfg`` in eval mode (graph mode, dynamic shapes) and load its weights."""
    import mindspore as ms
    from mindaudio.models.deepspeech2 import build_model, dynamic_inputs
    from mindaudio.training import checkpoint
    ms.set_device(cfg.train.device_target, cfg.train.device_id)
    ms.set_context(mode=ms.GRAPH_MODE)
    labels = Labels.from_config(cfg.text)
    net = build_model(cfg, feature_dim(cfg), len(labels))
    params, _ = checkpoint.load(checkpoint_path)
    checkpoint.restore(checkpoint.training_state(net), params, checkpoint_path)
    net.set_train(False)
    net.set_inputs(*dynamic_inputs(feature_dim(cfg)))
    return net


def transcribe_batch(net, feats, cfg, labels):
    """feats: list of [F, T_i] → list of greedy transcripts."""
    import mindspore as ms
    x, xl, _, _ = collate(feats, [np.zeros(1, np.int32)] * len(feats), cfg.data.pad_to_multiple)
    log_probs, out_lens = net(ms.Tensor(x), ms.Tensor(xl))
    return greedy_decode(log_probs.asnumpy(), out_lens.asnumpy(), labels)


def evaluate(cfg, checkpoint_path, manifests, output=None):
    if cfg.eval.decoder != "greedy":
        raise ValueError(f"eval.decoder={cfg.eval.decoder!r} is not available yet; use greedy")
    checkpoint_path = resolve_checkpoint(checkpoint_path)
    net = load_network(cfg, checkpoint_path)
    labels = Labels.from_config(cfg.text)
    rows, summary = [], {"checkpoint": os.path.abspath(checkpoint_path), "decoder": cfg.eval.decoder, "results": {}}
    for manifest in manifests:
        entries = read_manifest(manifest)
        name = os.path.splitext(os.path.basename(manifest))[0]
        errors = ErrorRate()
        order = np.argsort([float(e["duration"]) for e in entries], kind="stable")
        for start in range(0, len(order), cfg.eval.batch_size):
            batch = [entries[i] for i in order[start:start + cfg.eval.batch_size]]
            feats = [spectrogram(load_audio(e["audio_filepath"], cfg.features.sample_rate), cfg.features)
                     for e in batch]
            for e, hyp in zip(batch, transcribe_batch(net, feats, cfg, labels)):
                ref = labels.normalize(e["text"])
                counts = errors.update(ref, hyp)
                rows.append({"manifest": name, "id": e["id"], "ref": ref, "hyp": hyp, **counts})
        line = (f"{name}: WER {errors.wer:.2f} CER {errors.cer:.2f} "
                f"({errors.utterances} utterances, {cfg.eval.decoder})")
        print(line, flush=True)
        summary["results"][name] = {"wer": errors.wer, "cer": errors.cer, **errors.totals()}
    if output:
        atomic_write_text(output, "".join(json.dumps(r) + "\n" for r in rows))
        atomic_write_text(os.path.splitext(output)[0] + "_summary.json", json.dumps(summary, indent=2) + "\n")
    return summary
