"""n-gram language models for beam search: reading an ARPA file's vocabulary, and estimating a small ARPA model
from transcripts (``mindaudio-build-arpa``).

Estimation: interpolated Kneser-Ney with one absolute discount per order, D = n1 / (n1 + 2 n2) (Ney et al.). The
highest order uses raw counts, lower orders continuation counts (the number of distinct words seen before the
n-gram; n-grams starting with <s> keep raw counts), and unigrams are interpolated with the uniform distribution over
the vocabulary + </s> + <unk>. Written in back-off form: every n-gram's probability is the interpolated one and the
back-off weight of a context is its interpolation weight gamma(h) = D·N1+(h·)/c(h), so every conditional
distribution sums to one. Meant for small corpora (pure Python, all counts in memory); for LibriSpeech-size text use
KenLM's lmplz.
"""
import collections
import gzip
import json
import math
import os

from mindaudio.errors import DataError, ManifestError
from mindaudio.fileio import atomic_write

BOS, EOS, UNK = "<s>", "</s>", "<unk>"


def _open_text(path):
    return gzip.open(path, "rt", encoding="utf-8") if path.endswith(".gz") else open(path, encoding="utf-8")


def is_arpa(path):
    """True for an ARPA file (plain or .gz), False for anything else (a KenLM binary)."""
    try:
        with _open_text(path) as f:
            for _ in range(20):
                line = f.readline()
                if not line:
                    return False
                if line.strip():
                    return line.strip() == "\\data\\"
    except (UnicodeDecodeError, OSError, EOFError):
        return False
    return False


def arpa_unigrams(path):
    """The words of an ARPA file's 1-gram section (without <s>, </s>, <unk>). Lines may or may not carry a
    back-off weight and may be separated by tabs or spaces (pyctcdecode's own reader skips lines without one)."""
    words, inside = set(), False
    with _open_text(path) as f:
        for line in f:
            line = line.strip()
            if line == "\\1-grams:":
                inside = True
                continue
            if inside and line.startswith("\\"):
                break
            if inside and line:
                parts = line.split()
                if len(parts) >= 2:
                    words.add(parts[1])
    words -= {"<s>", "</s>", "<unk>", "<UNK>"}
    if not words:
        raise ValueError(f"{path}: no 1-grams found; is it an ARPA file?")
    return words


def lm_unigrams(lm_path):
    """The LM's vocabulary: read from the ARPA file itself, or for a binary model from a word list beside it
    (``<lm_path>.unigrams.txt``, one word per line, or an ARPA file of the same stem). None if there is none."""
    if is_arpa(lm_path):
        return arpa_unigrams(lm_path)
    sidecar = lm_path + ".unigrams.txt"
    if os.path.isfile(sidecar):
        with open(sidecar, encoding="utf-8") as f:
            return {w for line in f for w in line.split()} - {"<s>", "</s>", "<unk>", "<UNK>"}
    stem = os.path.splitext(lm_path)[0]
    for candidate in (stem + ".arpa", stem + ".arpa.gz"):
        if os.path.isfile(candidate) and is_arpa(candidate):
            return arpa_unigrams(candidate)
    return None


def read_sentences(paths, lower=False):
    """Normalised sentences from manifests (.json/.jsonl lines with "text") or plain text files. A line that starts
    like JSON but is not a JSON object with a "text" string is an error naming it, never LM text."""
    sentences = []
    for path in paths:
        if os.path.isdir(path):
            raise DataError(f"{path} is a directory: give manifests or text files")
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except UnicodeDecodeError as e:
            raise DataError(f"{path} is not UTF-8 text (byte {e.start})") from None
        for lineno, line in enumerate(lines, 1):
            line = line.strip()
            if not line:
                continue
            if line.startswith("{"):
                try:
                    line = json.loads(line)["text"]
                except (json.JSONDecodeError, KeyError, TypeError):
                    raise ManifestError(f"{path}:{lineno}: not a JSON object with a \"text\" field") from None
                if not isinstance(line, str):
                    raise ManifestError(f"{path}:{lineno}: \"text\" must be a string")
            text = " ".join(line.split())
            text = text.lower() if lower else text.upper()
            if text:
                sentences.append(text.split())
    return sentences


def _discount(counts):
    """Absolute discount D = n1 / (n1 + 2 n2) from the count-of-counts, kept inside (0, 1)."""
    n1 = sum(1 for c in counts.values() if c == 1)
    n2 = sum(1 for c in counts.values() if c == 2)
    if n1 == 0 or n2 == 0:
        return 0.5
    return min(max(n1 / (n1 + 2.0 * n2), 0.05), 0.95)


def estimate(sentences, order=3):
    """→ (probs, backoffs, vocab): probs[k][ngram] = P(w | h) for the n-grams of order k (1..order) seen in the
    text; backoffs[k][ngram] = gamma of that n-gram as a context (orders 1..order-1); natural probabilities."""
    if order < 1:
        raise ValueError("order must be ≥ 1")
    raw = [None] + [collections.Counter() for _ in range(order)]
    for words in sentences:
        padded = [BOS] + words + [EOS]
        for k in range(1, order + 1):
            for i in range(len(padded) - k + 1):
                gram = tuple(padded[i:i + k])
                if gram == (BOS,):
                    continue
                raw[k][gram] += 1
    # Kneser-Ney counts: raw at the top order and for n-grams starting with <s>, continuation counts below
    counts = [None] + [collections.Counter() for _ in range(order)]
    counts[order] = raw[order]
    for k in range(order - 1, 0, -1):
        for gram in raw[k + 1]:
            counts[k][gram[1:]] += 1
        for gram, c in raw[k].items():
            if gram[0] == BOS:
                counts[k][gram] = c
    vocab = sorted({w for words in sentences for w in words} | {EOS, UNK})
    probs = [None] + [dict() for _ in range(order)]
    backoffs = [None] + [dict() for _ in range(order)]

    # unigrams: discounted counts interpolated with the uniform distribution
    d = _discount(counts[1])
    total = sum(counts[1].values())
    seen = [g for g in counts[1] if g != (BOS,)]
    gamma = d * len(seen) / total
    for w in vocab:
        c = counts[1].get((w,), 0)
        probs[1][(w,)] = max(c - d, 0.0) / total + gamma / len(vocab)

    for k in range(2, order + 1):
        d = _discount(counts[k])
        context_total, context_types = collections.Counter(), collections.Counter()
        for gram, c in counts[k].items():
            context_total[gram[:-1]] += c
            context_types[gram[:-1]] += 1
        for h, total in context_total.items():
            backoffs[k - 1][h] = d * context_types[h] / total
        for gram, c in counts[k].items():
            h = gram[:-1]
            probs[k][gram] = (c - d) / context_total[h] + backoffs[k - 1][h] * lower_prob(probs, backoffs, gram[1:])
    return probs, backoffs, vocab


def lower_prob(probs, backoffs, gram):
    """P(gram[-1] | gram[:-1]) from the tables, backing off as an ARPA reader does."""
    k = len(gram)
    if gram in probs[k]:
        return probs[k][gram]
    if k == 1:
        return probs[1][(UNK,)]
    return backoffs[k - 1].get(gram[:-1], 1.0) * lower_prob(probs, backoffs, gram[1:])


def write_arpa(path, probs, backoffs, order):
    def log10(p):
        return math.log10(p) if p > 0 else -99.0

    rows = [None] + [[] for _ in range(order)]
    rows[1].append((BOS,))  # <s> is a context only: probability 0 (-99), but it carries a back-off weight
    for k in range(1, order + 1):
        rows[k] += sorted(probs[k])
    lines = ["", "\\data\\"] + [f"ngram {k}={len(rows[k])}" for k in range(1, order + 1)] + [""]
    for k in range(1, order + 1):
        lines.append(f"\\{k}-grams:")
        for gram in rows[k]:
            p = -99.0 if gram == (BOS,) else log10(probs[k][gram])
            line = f"{p:.6f}\t{' '.join(gram)}"
            if k < order:
                line += f"\t{log10(backoffs[k].get(gram, 1.0)):.6f}"
            lines.append(line)
        lines.append("")
    lines.append("\\end\\")
    atomic_write(path, "\n".join(lines) + "\n")
    return [len(rows[k]) for k in range(1, order + 1)]
