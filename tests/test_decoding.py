"""Decoders (greedy, beam search, beam search + n-gram LM). NumPy, pyctcdecode and kenlm only: runs in seconds."""
import numpy as np
import pytest

from mindaudio.config import EvalConfig
from mindaudio.decoding import BeamSearchDecoder, GreedyDecoder, build_decoder, greedy_decode
from mindaudio.lm import arpa_unigrams
from mindaudio.text import Labels
ALPHABET = "'ABCDEFGHIJKLMNOPQRSTUVWXYZ "


def frames_for(text, labels, repeat=2, rng=None):
    """A frame-level CTC path for ``text``: each character held ``repeat`` frames (1–3 at random with ``rng``),
    then a blank (always before a doubled letter, else at random with ``rng``), blanks at both ends."""
    path = [labels.blank] * 2
    for i, ch in enumerate(text):
        path += [labels.index[ch]] * (repeat if rng is None else int(rng.integers(1, 4)))
        doubled = i + 1 < len(text) and text[i + 1] == ch
        if doubled or rng is None or rng.random() < 0.5:
            path.append(labels.blank)
    return path + [labels.blank] * 2


def peaked(path, num_classes, peak=0.9, rng=None):
    """[T, C] log-probs: ``peak`` on the path's class, the rest spread (randomly if ``rng``) over the others."""
    t = len(path)
    rest = np.full((t, num_classes), 1.0) if rng is None else rng.random((t, num_classes)) + 0.05
    rest[np.arange(t), path] = 0.0
    probs = rest / rest.sum(axis=1, keepdims=True) * (1 - peak)
    probs[np.arange(t), path] = peak
    return np.log(probs).astype(np.float32)


def batch(*utterances):
    """list of [T_i, C] → ([T, B, C] padded with garbage, lengths [B])."""
    t = max(u.shape[0] for u in utterances)
    out = np.random.default_rng(0).normal(size=(t, len(utterances), utterances[0].shape[1])).astype(np.float32)
    for b, u in enumerate(utterances):
        out[:u.shape[0], b] = u
    return out, np.array([u.shape[0] for u in utterances])


def test_greedy_collapses_repeats_and_keeps_apostrophes():
    labels = Labels(ALPHABET, 0)
    path = [0, labels.index["D"], labels.index["D"], labels.index["O"], labels.index["N"], labels.index["'"],
            labels.index["T"], 0, labels.index[" "], labels.index[" "], 0, labels.index["L"], 0, labels.index["L"],
            labels.index["O"]]
    lp, lens = batch(peaked(path, len(labels)), peaked(path[:4], len(labels)))
    assert greedy_decode(lp, lens, labels) == ["DON'T LLO", "DO"]
    assert GreedyDecoder(labels).decode(lp, lens) == ["DON'T LLO", "DO"]


@pytest.mark.parametrize("blank_index", [0, len(ALPHABET)])
def test_beam_without_lm_agrees_with_greedy_on_peaked_outputs(blank_index):
    labels = Labels(ALPHABET, blank_index)
    rng = np.random.default_rng(blank_index)
    words = ["DON'T", "BOOK", "A", "LITTLE", "COFFEE", "IT'S", "ZOO", "HELLO", "QUIET"]
    utts = []
    for _ in range(6):
        text = " ".join(rng.choice(words, size=int(rng.integers(1, 5))))
        utts.append(peaked(frames_for(text, labels, rng=rng), len(labels), peak=float(rng.uniform(0.6, 0.95)),
                           rng=rng))
    lp, lens = batch(*utts)
    greedy = GreedyDecoder(labels).decode(lp, lens)
    beam = BeamSearchDecoder(labels, beam_width=16).decode(lp, lens)
    assert beam == greedy
    assert all(t and t == " ".join(t.split()) for t in beam)


# A hand-written bigram LM: CAT follows THE, SAT follows CAT; KAT is not a word. Log10 probabilities; the
# back-off weights make every conditional distribution sum to one.
ARPA = """
\\data\\
ngram 1=7
ngram 2=5

\\1-grams:
-1.0\t</s>\t0.0
-99\t<s>\t-0.3010
-2.0\t<unk>\t0.0
-0.5229\tTHE\t-0.3010
-0.6990\tCAT\t-0.3010
-0.6990\tSAT\t-0.3010
-0.7545\tON\t-0.3010

\\2-grams:
-0.1249\t<s> THE
-0.0969\tTHE CAT
-0.0969\tCAT SAT
-0.3010\tSAT ON
-0.3010\tON THE

\\end\\
"""


def misspelled_log_probs(labels):
    """'THE ?AT SAT' where the acoustics slightly prefer K over C at the third word's first letter."""
    path = frames_for("THE KAT SAT", labels)
    lp = peaked(path, len(labels), peak=0.9)
    k = path.index(labels.index["K"])
    for t in (k, k + 1):                        # K and C nearly tied, K ahead
        probs = np.full(len(labels), 0.02 / (len(labels) - 2))
        probs[labels.index["K"]], probs[labels.index["C"]] = 0.55, 0.43
        lp[t] = np.log(probs)
    return lp[:, None, :], np.array([len(path)])


@pytest.mark.parametrize("case", ["upper", "lower"])
def test_lm_turns_a_misspelling_into_the_right_word(tmp_path, case):
    labels = Labels(ALPHABET, 0)
    lm = tmp_path / "tiny.arpa"
    text = ARPA if case == "upper" else "\n".join(
        line if line.startswith("\\") or "ngram" in line else line.lower() for line in ARPA.splitlines())
    lm.write_text(text)
    lp, lens = misspelled_log_probs(labels)
    assert greedy_decode(lp, lens, labels) == ["THE KAT SAT"]
    assert BeamSearchDecoder(labels, beam_width=32).decode(lp, lens) == ["THE KAT SAT"]
    with_lm = build_decoder(EvalConfig(decoder="beam", beam_width=32, alpha=0.8, beta=0.5, lm_path=str(lm)), labels)
    assert with_lm.decode(lp, lens) == ["THE CAT SAT"]          # upper case out, whatever the LM's case
    with_lm.set_lm_weights(0.0, 0.0)                               # LM switched off: acoustics win again
    assert with_lm.decode(lp, lens) == ["THE KAT SAT"]


def test_arpa_unigrams_reads_lines_with_and_without_backoff(tmp_path):
    lm = tmp_path / "a.arpa"
    lm.write_text(ARPA.replace("-0.6990\tSAT\t-0.3010", "-0.6990 SAT"))
    assert arpa_unigrams(str(lm)) == {"THE", "CAT", "SAT", "ON"}


def test_build_decoder_checks_its_inputs(tmp_path):
    labels = Labels(ALPHABET, 0)
    assert isinstance(build_decoder(EvalConfig(decoder="greedy"), labels), GreedyDecoder)
    assert isinstance(build_decoder(EvalConfig(decoder="beam", lm_path=""), labels), BeamSearchDecoder)
    with pytest.raises(FileNotFoundError, match="missing.arpa"):
        build_decoder(EvalConfig(decoder="beam", lm_path=str(tmp_path / "missing.arpa")), labels)
    bad = tmp_path / "bad.arpa"
    bad.write_text("not a language model\n")
    with pytest.raises(RuntimeError, match="bad.arpa"):
        build_decoder(EvalConfig(decoder="beam", lm_path=str(bad)), labels)
