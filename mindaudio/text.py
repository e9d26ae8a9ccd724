"""The label set: CTC blank + the configured alphabet (apostrophe, A–Z, space), with encode/decode.

The blank is a class index, never a character of the text, so no real symbol (the apostrophe in particular)
can be mistaken for it or dropped as "falsy".
"""
import collections


class Labels:
    """Maps transcripts to class indices and back.

    >>> labels = Labels("'ABCDEFGHIJKLMNOPQRSTUVWXYZ ", blank_index=0)
    >>> labels.decode(labels.encode("DON'T GO"))
    "DON'T GO"
    """

    def __init__(self, alphabet, blank_index=0):
        if not 0 <= blank_index <= len(alphabet):
            raise ValueError("blank_index out of range")
        self.alphabet = alphabet
        self.blank = blank_index
        symbols = list(alphabet)
        symbols.insert(blank_index, None)
        self.symbols = symbols  # class index → character (None for the blank)
        self.index = {ch: i for i, ch in enumerate(symbols) if ch is not None}

    @classmethod
    def from_config(cls, text_cfg):
        return cls(text_cfg.alphabet, text_cfg.blank_index)

    def __len__(self):
        return len(self.symbols)

    def normalize(self, text):
        """Upper case and collapse whitespace; nothing else is changed (no character is deleted here)."""
        return " ".join(text.upper().split())

    def unknown_chars(self, text):
        """Characters of ``normalize(text)`` outside the alphabet, with counts."""
        return collections.Counter(ch for ch in self.normalize(text) if ch not in self.index)

    def encode(self, text):
        """Transcript → list of class indices. Raises ValueError on a character outside the alphabet."""
        text = self.normalize(text)
        bad = self.unknown_chars(text)
        if bad:
            raise ValueError(f"characters outside the label set: {dict(bad)} in {text!r}")
        return [self.index[ch] for ch in text]

    def decode(self, indices):
        """Class indices → text, blanks skipped (no CTC collapsing here: see ``decoding.greedy``)."""
        return "".join(self.symbols[int(i)] for i in indices if int(i) != self.blank)
