#!/usr/bin/env python
"""Estimate a word n-gram LM and write it as an ARPA file (for beam search with KenLM / pyctcdecode).

    python scripts/build_arpa.py examples/demo_corpus/train/libri_train_manifest.json -o runs/demo/lm3.arpa --order 3

Inputs are manifests (JSON lines with a ``text`` field) or plain text files (one sentence per line); text is
upper-cased and whitespace-collapsed like the transcripts (``--lower`` for a lower-case LM).

Smoothing: interpolated Kneser-Ney with one absolute discount per order, D = n1 / (n1 + 2 n2) (Ney et al.).
The highest order uses raw counts, lower orders continuation counts (the number of distinct words seen before
the n-gram; n-grams starting with <s> keep raw counts), and unigrams are interpolated with the uniform
distribution over the vocabulary + </s> + <unk>. Written in back-off form: every n-gram's probability is the
interpolated one and the back-off weight of a context is its interpolation weight gamma(h) = D·N1+(h·)/c(h),
so every conditional distribution sums to one. Meant for small corpora (pure Python, all counts in memory);
for LibriSpeech-size text use KenLM's lmplz.
"""
import argparse
import collections
import json
import math
import os
import sys

BOS, EOS, UNK = "<s>", "</s>", "<unk>"


def read_sentences(paths, lower=False):
    """Normalised sentences from manifests (.json/.jsonl lines with "text") or plain text files."""
    sentences = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                if line.startswith("{"):
                    try:
                        line = json.loads(line)["text"]
                    except (json.JSONDecodeError, KeyError):
                        pass
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
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)
    return [len(rows[k]) for k in range(1, order + 1)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", help="manifests (JSON lines with 'text') or plain text files")
    parser.add_argument("-o", "--output", required=True, help="ARPA file to write")
    parser.add_argument("--order", type=int, default=3, help="n-gram order (default: %(default)s)")
    parser.add_argument("--lower", action="store_true", help="lower-case the text (default: upper case)")
    args = parser.parse_args(argv)
    sentences = read_sentences(args.inputs, args.lower)
    if not sentences:
        parser.exit(1, "error: no text found in the inputs\n")
    probs, backoffs, vocab = estimate(sentences, args.order)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    sizes = write_arpa(args.output, probs, backoffs, args.order)
    print(f"{args.output}: order {args.order}, {len(sentences)} sentences, {len(vocab) - 2} words, "
          f"n-grams {sizes}", file=sys.stderr)


if __name__ == "__main__":
    main()
