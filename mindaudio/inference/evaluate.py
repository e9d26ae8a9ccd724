"""Checkpoint → network → log-probs → decoder → WER/CER, per manifest. Every utterance is scored exactly once.

An utterance whose audio cannot be read is not dropped: it is scored as an empty hypothesis (all its reference
words count as deletions, so it can only raise WER/CER), a warning names the file, its JSONL row carries an
``error`` field, and the summary and the printed report count it (eval.py then exits with status 3).
"""
import json
import logging
import os
import sys

from tqdm import tqdm

from mindaudio.data.dataset import eval_batches, load_utterances
from mindaudio.decoding import build_decoder
from mindaudio.errors import DataError
from mindaudio.fileio import atomic_write
from mindaudio.inference.network import forward_batch, load_network, resolve_checkpoint
from mindaudio.metrics import ErrorRate
from mindaudio.text import Labels

log = logging.getLogger("mindaudio.eval")


def network_outputs(net, cfg, utts):
    """Run the network over ``utts`` in batches of ``eval.batch_size`` neighbouring durations. Yields (indices,
    log_probs [T', B, C], out_lens [B], failures {index: message}); unreadable audio is left out of its batch,
    named in a warning and reported in ``failures`` (log_probs is None if nothing of the batch was readable)."""
    for indices, batch, failures in eval_batches(utts, cfg, cfg.eval.batch_size):
        for i, message in failures.items():
            log.warning("utterance %s: %s (scored as an empty hypothesis)", utts[i].id, message)
        if batch is None:
            yield indices, None, None, failures
            continue
        yield (indices, *forward_batch(net, batch), failures)


def utterance_log_probs(net, cfg, utts):
    """Per-utterance log-probs (for LM tuning): (list of [T_i, C] arrays, None where unreadable; failures)."""
    out, all_failures = [None] * len(utts), {}
    for indices, log_probs, out_lens, failures in network_outputs(net, cfg, utts):
        all_failures.update(failures)
        for b, i in enumerate(indices):
            out[i] = log_probs[:int(out_lens[b]), b].copy()
    return out, all_failures


def decode_all(net, cfg, utts, decoder, name=""):
    """→ (hypotheses, one per readable utterance (None where unreadable), failures {index: message}). A progress
    bar on stderr when it is a terminal."""
    hyps, all_failures = [None] * len(utts), {}
    with tqdm(total=len(utts), desc=name, unit="utt", disable=None, file=sys.stderr, leave=False) as progress:
        for indices, log_probs, out_lens, failures in network_outputs(net, cfg, utts):
            all_failures.update(failures)
            if indices:
                for i, hyp in zip(indices, decoder.decode(log_probs, out_lens)):
                    hyps[i] = hyp
            progress.update(len(indices) + len(failures))
    return hyps, all_failures


def score(utts, hyps, failures=None, name=""):
    """Score every utterance once, in manifest order → (rows, ErrorRate). ``ref`` and ``hyp`` in the rows are
    exactly the strings scored (reference: upper case, whitespace collapsed)."""
    failures = failures or {}
    errors, rows = ErrorRate(), []
    for i, u in enumerate(utts):
        hyp = "" if i in failures else hyps[i]
        if hyp is None:
            raise RuntimeError(f"utterance {u.id} was not decoded")
        counts = errors.update(u.text, hyp)
        row = {"manifest": name, "id": u.id, "ref": u.text, "hyp": hyp, **counts}
        if i in failures:
            row["error"] = failures[i]
        rows.append(row)
    if errors.utterances != len(utts):
        raise RuntimeError(f"{name}: scored {errors.utterances} of {len(utts)} utterances")
    return rows, errors


def manifest_name(path, taken=()):
    """``.../libri_test_clean_manifest.json`` → ``test_clean``; other files → their stem (the path if taken)."""
    stem = os.path.splitext(os.path.basename(path))[0]
    if stem.startswith("libri_") and stem.endswith("_manifest") and len(stem) > len("libri__manifest"):
        stem = stem[len("libri_"):-len("_manifest")]
    return path if stem in taken else stem


def evaluate(cfg, checkpoint_path, manifests, output=None, out=sys.stdout):
    """Score ``manifests`` with the checkpoint and ``cfg.eval``'s decoder; print one line per manifest:
    ``<name>: WER x.xx CER y.yy CER-nospace z.zz (N utterances, <decoder>)`` (see ``metrics`` for the two CERs).
    Writes per-utterance JSON lines to ``output``
    (if given) and ``<output stem>_summary.json`` beside it. Returns the summary dict."""
    checkpoint_path = resolve_checkpoint(checkpoint_path)
    labels = Labels.from_config(cfg.text)
    decoder = build_decoder(cfg.eval, labels)          # before the network: a bad LM path fails fast
    # every manifest and the outputs are checked before the long part
    check_output(output)
    all_utts = {m: load_utterances(m, cfg, labels, purpose="eval")[0] for m in manifests}
    for manifest, utts in all_utts.items():
        check_scorable(utts, manifest)
    net = load_network(cfg, checkpoint_path)
    print(f"checkpoint {checkpoint_path}; decoder: {decoder.description}", file=out, flush=True)
    summary = {"checkpoint": os.path.abspath(checkpoint_path), "decoder": cfg.eval.decoder,
               "decoder_description": decoder.description,
               "eval": {k: getattr(cfg.eval, k) for k in ("beam_width", "alpha", "beta", "lm_path")},
               "results": {}}
    rows = []
    for manifest, utts in all_utts.items():
        name = manifest_name(manifest, summary["results"])
        ids = [u.id for u in utts]
        if len(set(ids)) != len(ids):
            log.warning("%s: %d duplicate utterance id(s); each line is scored", manifest, len(ids) - len(set(ids)))
        hyps, failures = decode_all(net, cfg, utts, decoder, name)
        manifest_rows, errors = score(utts, hyps, failures, name)
        rows += manifest_rows
        print(f"{name}: WER {errors.wer:.2f} CER {errors.cer:.2f} CER-nospace {errors.cer_nospace:.2f} "
              f"({errors.utterances} utterances, {cfg.eval.decoder})", file=out, flush=True)
        if failures:
            print(f"{name}: {len(failures)} of {len(utts)} utterances could not be read and were scored as "
                  f"empty hypotheses: {', '.join(utts[i].id for i in sorted(failures))}",
                  file=sys.stderr, flush=True)
        summary["results"][name] = {"manifest": os.path.abspath(manifest), "wer": errors.wer, "cer": errors.cer,
                                    "cer_nospace": errors.cer_nospace, **errors.totals(),
                                    "unreadable": [utts[i].id for i in sorted(failures)]}
    if output:
        atomic_write(output, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        atomic_write(summary_path(output), json.dumps(summary, indent=2) + "\n")
    return summary


def check_scorable(utts, manifest):
    """A score needs its denominator: refuse a manifest with no utterance, or whose references are all empty."""
    if not utts:
        raise DataError(f"{manifest} holds no utterance: nothing to score")
    if not any(u.text.split() for u in utts):
        raise DataError(f"every reference transcript of {manifest} is empty: WER and CER divide by the reference "
                        "length and mean nothing here")


def check_output(output):
    """Refuse an output that could not be written, before any work is done."""
    if not output:
        return
    for path in (output, summary_path(output)):
        if os.path.isdir(path):
            raise DataError(f"--output {path} is a directory; give a file name such as {path}/results.jsonl")
    parent = os.path.dirname(os.path.abspath(output))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DataError(f"cannot write --output {output}: {parent} is not writable")


def summary_path(output):
    """``results.jsonl`` → ``results_summary.json``."""
    return os.path.splitext(output)[0] + "_summary.json"
