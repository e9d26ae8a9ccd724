"""CTC decoding: log-probabilities → text. NumPy only; the same code serves validation, eval.py and transcription."""
import numpy as np


def greedy_decode(log_probs, lengths, labels):
    """log_probs: [T, B, C] (time-major, as the network returns); lengths: [B] valid frames → B strings
    (best path, repeats collapsed, blanks removed, runs of spaces collapsed)."""
    best = np.asarray(log_probs).argmax(axis=-1)  # [T, B]
    texts = []
    for b, n in enumerate(np.asarray(lengths)):
        path = best[:int(n), b]
        keep = np.ones(len(path), dtype=bool)
        keep[1:] = path[1:] != path[:-1]
        path = path[keep]
        texts.append(" ".join(labels.decode(path[path != labels.blank]).split()))
    return texts
