"""Checkpoint → network → log-probs → decoder → WER/CER, per manifest. Every utterance is scored exactly once.

An utterance whose audio cannot be read is not dropped: it is scored as an empty hypothesis (all its reference
words count as deletions, so it can only raise WER/CER), a warning names the file, its JSONL row carries an
``error`` field, and the summary and the printed report count it (eval.py then exits with status 3).
"""
import json
import logging
import os
import sys

import numpy as np

from mindaudio.config import ConfigError, config_from_dict, load_config
from mindaudio.data.dataset import collate, feature_dim
from mindaudio.data.features import AudioError, load_audio, spectrogram
from mindaudio.data.manifest import atomic_write_text, read_manifest
from mindaudio.decoding import GreedyDecoder, build_decoder
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
        latest = CheckpointManager(path, 1, create=False).latest()
        if latest:
            return latest
        raise FileNotFoundError(f"no checkpoint in run directory {path}")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    return path


def checkpoint_config(checkpoint_path):
    """The config dict stored in a checkpoint's metadata (training writes it), or None."""
    import mindspore as ms
    try:
        params = ms.load_checkpoint(checkpoint_path, choice_func=lambda name: name == "config")
    except Exception as e:  # noqa: BLE001 - MindSpore raises several types for unreadable files
        raise RuntimeError(f"cannot read checkpoint {checkpoint_path}: {e}") from None
    value = params.get("config")
    if value is None:
        return None
    return json.loads(value if isinstance(value, str) else value.asnumpy().item())


def config_for(checkpoint_path, config_path=None, overrides=()):
    """The config to run a checkpoint with: ``config_path`` if given; else the config stored in the checkpoint;
    else the run directory's ``config.yaml``. Overrides apply on top. Raises ConfigError if there is none."""
    if config_path:
        return load_config(config_path, overrides)
    stored = checkpoint_config(checkpoint_path)
    if stored is not None:
        try:
            return config_from_dict(stored, overrides, checkpoint_path)
        except ConfigError as e:
            raise ConfigError(f"the config stored in {checkpoint_path}: {e}") from None
    run_config = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(checkpoint_path))), "config.yaml")
    if os.path.isfile(run_config):
        return load_config(run_config, overrides)
    raise ConfigError(f"{checkpoint_path} stores no config and has no run config.yaml beside it: pass -c CONFIG")


def checkpoint_and_config(parser, args):
    """For the command lines: ``args.checkpoint`` resolved and the config to run it with (``-c``/``-o``), or exit
    with status 2 on a config error and 1 on a missing or unreadable checkpoint."""
    try:
        checkpoint = resolve_checkpoint(args.checkpoint)
        return checkpoint, config_for(checkpoint, args.config, args.override)
    except ConfigError as e:
        parser.exit(2, f"config error: {e}\n")
    except (FileNotFoundError, RuntimeError) as e:
        parser.exit(1, f"error: {e}\n")


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


def forward(net, feats, cfg):
    """feats: list of [F, T_i] → (log_probs [T', B, C] float32 NumPy, out_lens [B]): one padded batch."""
    import mindspore as ms
    x, xl, _, _ = collate(feats, [np.zeros(1, np.int32)] * len(feats), cfg.data.pad_to_multiple)
    log_probs, out_lens = net(ms.Tensor(x), ms.Tensor(xl))
    return log_probs.asnumpy(), out_lens.asnumpy()


def transcribe_batch(net, feats, cfg, labels, decoder=None):
    """feats: list of [F, T_i] → list of transcripts (greedy unless ``decoder`` is given)."""
    decoder = decoder or GreedyDecoder(labels)
    return decoder.decode(*forward(net, feats, cfg))


def manifest_batches(net, cfg, entries, failures):
    """Run the network over ``entries`` in batches of ``eval.batch_size`` neighbouring durations.
    Yields (entry indices, log_probs [T', B, C], out_lens [B]); an entry whose audio cannot be read is left out
    of its batch and recorded in ``failures`` (index → message) with a warning naming the file."""
    order = np.argsort([float(e["duration"]) for e in entries], kind="stable")
    for start in range(0, len(order), cfg.eval.batch_size):
        indices, feats = [], []
        for i in order[start:start + cfg.eval.batch_size]:
            try:
                audio = load_audio(entries[i]["audio_filepath"], cfg.features.sample_rate)
                feats.append(spectrogram(audio, cfg.features))
                indices.append(int(i))
            except AudioError as e:
                failures[int(i)] = str(e)
                log.warning("utterance %s: %s (scored as an empty hypothesis)", entries[i]["id"], e)
        if indices:
            yield (indices, *forward(net, feats, cfg))


def utterance_log_probs(net, cfg, entries):
    """Per-utterance log-probs for tuning: (list of [T_i, C] arrays or None for unreadable entries, failures)."""
    out, failures = [None] * len(entries), {}
    for indices, log_probs, out_lens in manifest_batches(net, cfg, entries, failures):
        for b, i in enumerate(indices):
            out[i] = log_probs[:int(out_lens[b]), b].copy()
    return out, failures


def score(entries, hyps, labels, failures=None, name=""):
    """Score every entry once, in manifest order → (rows, ErrorRate). ``ref`` and ``hyp`` in the rows are
    exactly the strings scored (reference: upper case, whitespace collapsed)."""
    failures = failures or {}
    errors, rows = ErrorRate(), []
    for i, e in enumerate(entries):
        ref = labels.normalize(e["text"])
        hyp = "" if i in failures else hyps[i]
        if hyp is None:
            raise RuntimeError(f"utterance {e['id']} was not decoded")
        counts = errors.update(ref, hyp)
        row = {"manifest": name, "id": e["id"], "ref": ref, "hyp": hyp, **counts}
        if i in failures:
            row["error"] = failures[i]
        rows.append(row)
    if errors.utterances != len(entries):
        raise RuntimeError(f"{name}: scored {errors.utterances} of {len(entries)} utterances")
    return rows, errors


def manifest_name(path, taken=()):
    """``.../libri_test_clean_manifest.json`` → ``test_clean``; other files → their stem (the path if taken)."""
    stem = os.path.splitext(os.path.basename(path))[0]
    if stem.startswith("libri_") and stem.endswith("_manifest") and len(stem) > len("libri__manifest"):
        stem = stem[len("libri_"):-len("_manifest")]
    return path if stem in taken else stem


def evaluate(cfg, checkpoint_path, manifests, output=None, out=sys.stdout):
    """Score ``manifests`` with the checkpoint and ``cfg.eval``'s decoder; print one line per manifest:
    ``<name>: WER x.xx CER y.yy (N utterances, <decoder>)``. Writes per-utterance JSON lines to ``output``
    (if given) and ``<output stem>_summary.json`` beside it. Returns the summary dict."""
    checkpoint_path = resolve_checkpoint(checkpoint_path)
    labels = Labels.from_config(cfg.text)
    decoder = build_decoder(cfg.eval, labels)          # before the network: a bad LM path fails fast
    all_entries = {m: read_manifest(m) for m in manifests}  # every manifest checked before the long part
    net = load_network(cfg, checkpoint_path)
    print(f"checkpoint {checkpoint_path}; decoder: {decoder.description}", file=out, flush=True)
    summary = {"checkpoint": os.path.abspath(checkpoint_path), "decoder": cfg.eval.decoder,
               "decoder_description": decoder.description,
               "eval": {k: getattr(cfg.eval, k) for k in ("beam_width", "alpha", "beta", "lm_path")},
               "results": {}}
    rows = []
    for manifest, entries in all_entries.items():
        name = manifest_name(manifest, summary["results"])
        ids = [str(e["id"]) for e in entries]
        if len(set(ids)) != len(ids):
            log.warning("%s: %d duplicate utterance id(s); each line is scored", manifest, len(ids) - len(set(ids)))
        hyps, failures = [None] * len(entries), {}
        for indices, log_probs, out_lens in manifest_batches(net, cfg, entries, failures):
            for i, hyp in zip(indices, decoder.decode(log_probs, out_lens)):
                hyps[i] = hyp
        manifest_rows, errors = score(entries, hyps, labels, failures, name)
        rows += manifest_rows
        print(f"{name}: WER {errors.wer:.2f} CER {errors.cer:.2f} ({errors.utterances} utterances, "
              f"{cfg.eval.decoder})", file=out, flush=True)
        if failures:
            print(f"{name}: {len(failures)} of {len(entries)} utterances could not be read and were scored as "
                  f"empty hypotheses: {', '.join(entries[i]['id'] for i in sorted(failures))}",
                  file=sys.stderr, flush=True)
        summary["results"][name] = {"manifest": os.path.abspath(manifest), "wer": errors.wer, "cer": errors.cer,
                                    **errors.totals(),
                                    "unreadable": [entries[i]["id"] for i in sorted(failures)]}
    if output:
        atomic_write_text(output, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        atomic_write_text(summary_path(output), json.dumps(summary, indent=2) + "\n")
    return summary


def summary_path(output):
    """``results.jsonl`` → ``results_summary.json``."""
    return os.path.splitext(output)[0] + "_summary.json"
