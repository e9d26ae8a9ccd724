"""Validation during training, sharded over the ranks: every rank scores its share of the batches and the edit
and length counts are all-reduced, so each rank works, no rank waits for another inside a collective, and the
result equals a single-process validation exactly (integer counts; the mean loss to float rounding)."""
import logging

import numpy as np
import mindspore as ms
from mindspore import nn

from mindaudio.data.dataset import eval_batches
from mindaudio.decoding import greedy_decode
from mindaudio.metrics import ErrorRate
from mindaudio.training import collectives

log = logging.getLogger("mindaudio.train")


class EvalCell(nn.Cell):
    """(feats, feat_lens, targets, target_lens) → (log_probs [T', B, C], out_lens [B], loss / target length [B])."""

    def __init__(self, loss_cell):
        super().__init__(auto_prefix=False)
        self.loss_cell = loss_cell

    def construct(self, feats, feat_lens, targets, target_lens):
        return self.loss_cell.per_utterance(feats, feat_lens, targets, target_lens)


def validate(eval_cell, utts, cfg, labels, rank=0, size=1, examples=0):
    """Greedy WER/CER (with and without spaces) and mean CTC loss per character over ``utts``, each utterance
    scored once across the ranks. Returns the metrics row (the same on every rank); the scores are None when nothing
    could be scored (no readable utterance, or no reference word). With ``examples``, the row also holds
    ``examples``: (id, reference, hypothesis) of up to that many utterances spread over the set (the same ones at
    every validation) that this rank scored."""
    eval_cell.set_train(False)
    errors, loss_sum, loss_count, unreadable = ErrorRate(), 0.0, 0, 0
    watched = set(np.linspace(0, len(utts) - 1, examples).astype(int).tolist()) if examples and utts else set()
    shown = []
    for indices, batch, failures in eval_batches(utts, cfg, cfg.eval.batch_size, rank, size):
        unreadable += len(failures)
        for message in failures.values():
            log.warning("validation: %s", message)
        if batch is None:
            continue
        log_probs, out_lens, losses = eval_cell(*[ms.Tensor(a) for a in batch])
        for i, hyp in zip(indices, greedy_decode(log_probs.asnumpy(), out_lens.asnumpy(), labels)):
            errors.update(utts[i].text, hyp)
            if i in watched:
                shown.append((utts[i].id, utts[i].text, hyp))
        losses = losses.asnumpy()
        finite = losses[np.isfinite(losses)]
        loss_sum += float(finite.sum())
        loss_count += len(finite)
    eval_cell.set_train(True)
    counts = np.array([*errors.totals().values(), unreadable, loss_count], dtype=np.int64)
    if size > 1:
        counts = collectives.all_reduce_sum(counts)
        loss_sum = float(collectives.all_reduce_sum(np.array([loss_sum], np.float32))[0])
    totals = ErrorRate.from_totals(dict(zip(errors.totals(), counts[:-2].tolist())))
    unreadable, loss_count = int(counts[-2]), int(counts[-1])
    scored = totals.utterances > 0 and totals.words > 0      # a score needs its denominator
    return {"val_loss": loss_sum / loss_count if loss_count else None, "val_wer": totals.wer if scored else None,
            "val_cer": totals.cer if scored else None, "val_cer_nospace": totals.cer_nospace if scored else None,
            "val_utterances": totals.utterances, "val_unreadable": unreadable,
            **({"examples": sorted(shown)} if examples else {})}

