"""CTC decoding: log-probabilities → text, behind one interface for validation, eval.py, tuning and transcription.

    decoder = build_decoder(cfg.eval, labels)          # greedy, or beam search with an optional n-gram LM
    texts = decoder.decode(log_probs, lengths)         # log_probs [T, B, C] (time-major, as the network returns)
    text, words = decoder.decode_words(log_probs_one)  # [T, C] → text and [(word, first frame, end frame)]

Every decoder returns normalised text: the label set's characters, single spaces, no leading or trailing space.
Greedy decoding is NumPy only. Beam search is pyctcdecode's CTC prefix beam search, with KenLM (ARPA, gzipped
ARPA or binary) for shallow fusion: score = log P_ctc + alpha · ln P_lm + beta · words.
"""
import logging
import os

import numpy as np

from mindaudio.fileio import quiet_stderr
from mindaudio.lm import lm_unigrams

log = logging.getLogger(__name__)

# Frequent English words, used to tell an upper-case LM from a lower-case one when its vocabulary is not readable.
_PROBE_WORDS = ("THE", "AND", "OF", "TO", "A", "IN", "THAT", "IS", "WAS", "HE", "IT", "I", "YOU", "FOR")


def word_confidence(log_probs, start, end):
    """A word's confidence in [0, 1]: exp of the mean, over its frames [start, end), of the best class's
    log-probability (1 when the network is sure of every frame, whatever it emits)."""
    frames = np.asarray(log_probs)[start:max(end, start + 1)]
    return float(np.exp(frames.max(axis=-1).mean())) if len(frames) else 0.0


def greedy_words(log_probs, labels):
    """log_probs [T, C] of one utterance → (text, [(word, first frame, end frame)]): the best path's words, each
    from the first frame of its first character to the last frame of its last character (+1)."""
    best = np.asarray(log_probs).argmax(axis=-1)
    words, current, start, end = [], [], 0, 0
    for t, c in enumerate(best):
        if c == labels.blank or (t > 0 and c == best[t - 1]):
            if current and c != labels.blank and c == best[t - 1]:
                end = t + 1                                     # the character's run goes on
            continue
        ch = labels.symbols[int(c)]
        if ch == " ":
            if current:
                words.append(("".join(current), start, end))
            current = []
            continue
        if not current:
            start = t
        current.append(ch)
        end = t + 1
    if current:
        words.append(("".join(current), start, end))
    return " ".join(w for w, _, _ in words), words


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


class GreedyDecoder:
    """Best path: argmax per frame, repeats collapsed, blanks removed."""

    name = "greedy"

    def __init__(self, labels):
        self.labels = labels

    @property
    def description(self):
        return "greedy (best path)"

    def decode(self, log_probs, lengths):
        """log_probs [T, B, C], lengths [B] → B strings."""
        return greedy_decode(log_probs, lengths, self.labels)

    def decode_words(self, log_probs, **_):
        """log_probs [T, C] of one utterance → (text, [(word, first frame, end frame)])."""
        return greedy_words(log_probs, self.labels)


def _case_of(words):
    upper = sum(1 for w in words if w.isupper())
    lower = sum(1 for w in words if w.islower())
    return "upper" if upper > lower else "lower" if lower > upper else "unknown"


class BeamSearchDecoder:
    """CTC prefix beam search (pyctcdecode), optionally fused with a KenLM n-gram model.

    The label set maps to pyctcdecode's labels with ``""`` for the blank (wherever it sits) and ``" "`` for the
    space. The LM's words must be spelled as the decoder spells them: the LibriSpeech 4-gram is upper case like
    this label set; for a lower-case LM the decoder searches in lower case and the output is mapped back to the
    label set. Unigrams (for pyctcdecode's partial-word scoring) are always passed explicitly: without them
    every partial word would count as out of vocabulary.
    """

    name = "beam"

    def __init__(self, labels, beam_width=128, alpha=0.5, beta=1.0, lm_path="", beam_prune_logp=-10.0,
                 token_min_logp=-5.0, unk_score_offset=-10.0):
        try:
            from pyctcdecode.alphabet import Alphabet
            from pyctcdecode.decoder import BeamSearchDecoderCTC
            from pyctcdecode.language_model import LanguageModel
        except ImportError:
            raise RuntimeError("beam search needs pyctcdecode (and kenlm for an LM): "
                               "pip install -r requirements.txt") from None
        if beam_width < 1:
            raise ValueError(f"eval.beam_width must be ≥ 1, got {beam_width}")
        self.labels = labels
        self.beam_width = int(beam_width)
        self.alpha, self.beta = float(alpha), float(beta)
        self.lm_path = lm_path or ""
        self.beam_prune_logp, self.token_min_logp = beam_prune_logp, token_min_logp
        symbols = ["" if s is None else s for s in labels.symbols]
        self.case = None                                   # "lower" when the search runs in lower case
        unigrams = None
        kenlm_model = None
        if self.lm_path:
            if not os.path.isfile(self.lm_path):
                raise FileNotFoundError(f"language model not found: {self.lm_path}")
            try:
                import kenlm
            except ImportError:
                raise RuntimeError("an n-gram LM needs the kenlm Python module: pip install -r requirements.txt"
                                   ) from None
            try:
                with quiet_stderr():                       # KenLM's banner and progress bar
                    kenlm_model = kenlm.Model(self.lm_path)
            except (OSError, RuntimeError) as e:
                raise RuntimeError(f"cannot load language model {self.lm_path}: {e}") from None
            unigrams = lm_unigrams(self.lm_path)
            case = _case_of(unigrams) if unigrams else (
                "upper" if sum(w in kenlm_model for w in _PROBE_WORDS)
                >= sum(w.lower() in kenlm_model for w in _PROBE_WORDS) else "lower")
            letters = "".join(s for s in symbols if s.isalpha())
            if case == "lower" and letters and letters.isupper():
                self.case = "lower"
            elif case == "upper" and letters and letters.islower():
                self.case = "upper"
            if self.case:
                symbols = [s.lower() if self.case == "lower" else s.upper() for s in symbols]
                log.info("language model %s is %s case: decoding in %s case", self.lm_path, case, case)
            if unigrams is None:
                log.warning("no word list for binary LM %s (put one beside it as %s.unigrams.txt, or the ARPA "
                            "file of the same name): partial words cannot be checked against the vocabulary",
                            self.lm_path, self.lm_path)
            else:
                spellable = set("".join(symbols))
                unigrams = {w for w in unigrams if set(w) <= spellable}
                if not unigrams:
                    raise ValueError(f"no word of {self.lm_path} can be spelled with the label set")
        self._back = {s: orig for s, orig in zip(symbols, ["" if s is None else s for s in labels.symbols])}
        lm = None
        if kenlm_model is not None:
            lm = LanguageModel(kenlm_model, sorted(unigrams) if unigrams else None, alpha=self.alpha,
                               beta=self.beta, unk_score_offset=unk_score_offset)
        self._decoder = BeamSearchDecoderCTC(Alphabet.build_alphabet(symbols), lm)

    @property
    def description(self):
        text = f"beam search (width {self.beam_width}"
        if self.lm_path:
            text += f", LM {self.lm_path}, alpha {self.alpha:g}, beta {self.beta:g}"
        return text + ")"

    def set_lm_weights(self, alpha, beta):
        """Change alpha and beta without reloading the LM (for tuning)."""
        self.alpha, self.beta = float(alpha), float(beta)
        self._decoder.reset_params(alpha=self.alpha, beta=self.beta)

    def decode_words(self, log_probs, hotwords=None, hotword_weight=10.0):
        """log_probs [T, C] of one utterance (valid frames only) → (text, [(word, first frame, end frame)]), the
        best beam's words with pyctcdecode's frame spans. ``hotwords`` are boosted by ``hotword_weight`` (they may
        be out of the LM's vocabulary)."""
        log_probs = np.asarray(log_probs, dtype=np.float32)
        if log_probs.shape[0] == 0:
            return "", []
        if hotwords and self.case:
            hotwords = [w.lower() if self.case == "lower" else w.upper() for w in hotwords]
        beams = self._decoder.decode_beams(log_probs, beam_width=self.beam_width,
                                           beam_prune_logp=self.beam_prune_logp,
                                           token_min_logp=self.token_min_logp, prune_history=False,
                                           hotwords=list(hotwords) if hotwords else None,
                                           hotword_weight=hotword_weight)
        words = [("".join(self._back.get(ch, ch) for ch in w) if self.case else w, int(a), int(b))
                 for w, (a, b) in beams[0][2] if w.strip()]
        return " ".join(w for w, _, _ in words), words

    def decode_one(self, log_probs):
        """log_probs [T, C] of one utterance (valid frames only) → string."""
        return self.decode_words(log_probs)[0]

    def decode(self, log_probs, lengths):
        """log_probs [T, B, C], lengths [B] → B strings."""
        log_probs = np.asarray(log_probs)
        return [self.decode_one(log_probs[:int(n), b]) for b, n in enumerate(np.asarray(lengths))]


def build_decoder(eval_cfg, labels):
    """The decoder ``eval_cfg`` asks for: ``greedy``, or ``beam`` (width ``beam_width``) with the n-gram LM at
    ``lm_path`` (if any) weighted by ``alpha`` (LM) and ``beta`` (word bonus)."""
    if eval_cfg.decoder == "greedy":
        if eval_cfg.lm_path:
            log.warning("eval.lm_path is set but eval.decoder is greedy: the LM is not used (set eval.decoder=beam)")
        return GreedyDecoder(labels)
    if eval_cfg.decoder == "beam":
        return BeamSearchDecoder(labels, eval_cfg.beam_width, eval_cfg.alpha, eval_cfg.beta, eval_cfg.lm_path)
    raise ValueError(f"unknown decoder {eval_cfg.decoder!r}; use greedy or beam")
