"""Corpus-level WER and CER: the sum of edit distances over the sum of reference lengths.

Accumulate edit counts and reference lengths (not per-utterance rates), so that scores are correct when
summed over batches or over ranks.
"""
import Levenshtein


def word_errors(ref, hyp):
    """(word edit distance, reference words)."""
    r, h = ref.split(), hyp.split()
    return Levenshtein.distance(r, h), len(r)


def char_errors(ref, hyp):
    """(character edit distance, reference characters); spaces count as characters, runs of spaces as one."""
    r, h = " ".join(ref.split()), " ".join(hyp.split())
    return Levenshtein.distance(r, h), len(r)


class ErrorRate:
    """Accumulates word and character edits over utterances; ``wer``/``cer`` in percent."""

    def __init__(self):
        self.word_edits = self.words = self.char_edits = self.chars = self.utterances = 0

    def update(self, ref, hyp):
        we, wn = word_errors(ref, hyp)
        ce, cn = char_errors(ref, hyp)
        self.word_edits += we
        self.words += wn
        self.char_edits += ce
        self.chars += cn
        self.utterances += 1
        return {"word_edits": we, "words": wn, "char_edits": ce, "chars": cn}

    def totals(self):
        return {k: getattr(self, k) for k in ("word_edits", "words", "char_edits", "chars", "utterances")}

    @property
    def wer(self):
        return 100.0 * self.word_edits / max(1, self.words)

    @property
    def cer(self):
        return 100.0 * self.char_edits / max(1, self.chars)
