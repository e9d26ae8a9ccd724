"""Corpus-level WER and CER: the sum of edit distances over the sum of reference lengths.

Accumulate edit counts and reference lengths (not per-utterance rates), so that scores are correct when
summed over batches or over ranks.

Two CERs are kept. ``cer`` counts the space as a character (runs of spaces as one), the convention of
deepspeech.pytorch and PaddleSpeech. ``cer_nospace`` deletes every space from both strings first and divides by
the reference's non-space characters: the convention of the earlier MindSpore DeepSpeech2 ports, whose published
CER (3.461 on test-clean) is this one.
"""
import Levenshtein

from mindaudio.errors import DataError

TOTALS = ("word_edits", "words", "char_edits", "chars", "char_edits_nospace", "chars_nospace", "utterances")


def word_errors(ref, hyp):
    """(word edit distance, reference words)."""
    r, h = ref.split(), hyp.split()
    return Levenshtein.distance(r, h), len(r)


def char_errors(ref, hyp):
    """(character edit distance, reference characters); spaces count as characters, runs of spaces as one."""
    r, h = " ".join(ref.split()), " ".join(hyp.split())
    return Levenshtein.distance(r, h), len(r)


def char_errors_nospace(ref, hyp):
    """(character edit distance, reference characters), spaces removed from both strings first."""
    r, h = "".join(ref.split()), "".join(hyp.split())
    return Levenshtein.distance(r, h), len(r)


class ErrorRate:
    """Accumulates word and character edits over utterances; ``wer``, ``cer`` and ``cer_nospace`` in percent."""

    def __init__(self):
        for key in TOTALS:
            setattr(self, key, 0)

    @classmethod
    def from_totals(cls, totals):
        errors = cls()
        for key in TOTALS:
            setattr(errors, key, int(totals[key]))
        return errors

    def update(self, ref, hyp):
        we, wn = word_errors(ref, hyp)
        ce, cn = char_errors(ref, hyp)
        se, sn = char_errors_nospace(ref, hyp)
        counts = {"word_edits": we, "words": wn, "char_edits": ce, "chars": cn, "char_edits_nospace": se,
                  "chars_nospace": sn}
        for key, value in counts.items():
            setattr(self, key, getattr(self, key) + value)
        self.utterances += 1
        return counts

    def totals(self):
        return {k: getattr(self, k) for k in TOTALS}

    def _rate(self, edits, reference):
        """A rate needs its denominator: with no reference word (or character) scored, there is none."""
        total = getattr(self, reference)
        if not total:
            raise DataError(f"no reference {reference.split('_')[0]} among the {self.utterances} utterance(s) scored: "
                            "an error rate over them does not exist")
        return 100.0 * getattr(self, edits) / total

    @property
    def wer(self):
        return self._rate("word_edits", "words")

    @property
    def cer(self):
        return self._rate("char_edits", "chars")

    @property
    def cer_nospace(self):
        return self._rate("char_edits_nospace", "chars_nospace")


def validation_key(row):
    """How validation rows (``metrics.jsonl``) rank, lower first: by character error rate, which keeps falling while
    a young or streaming model's word error rate sits at or above 100 % (WER 100 → 102 → 101 while CER falls 97 →
    57), then by WER, then the later step. best.ckpt, the checkpoints kept for averaging and
    ``mindaudio-average-checkpoints --best`` all use it."""
    return (row["val_cer"], row["val_wer"], -row["step"])


def is_scored(row):
    """A validation row with scores (one that scored no utterance has none, and can never be the best)."""
    return row.get("val_cer") is not None and row.get("val_wer") is not None
