import pytest

from mindaudio.metrics import ErrorRate, char_errors, word_errors
from tests.helpers import edit_distance


def test_error_rates_hand_worked():
    assert word_errors("THE CAT SAT", "THE BAT SAT DOWN") == (2, 3)
    assert char_errors("ABC", "AXC") == (1, 3)
    m = ErrorRate()
    m.update("THE CAT SAT", "THE BAT SAT DOWN")   # 2 word edits / 3 words
    m.update("HELLO", "HELLO")                    # 0 / 1
    assert m.wer == pytest.approx(100 * 2 / 4)
    # corpus level, not the mean of per-utterance rates (which would be 33.3)
    assert m.cer == pytest.approx(100 * (char_errors("THE CAT SAT", "THE BAT SAT DOWN")[0]) / (11 + 5))


def test_corpus_error_rate_against_a_hand_written_dp():
    pairs = [("THE CAT SAT", "THE KAT SAT"), ("DON'T GO", "DONT GO HOME"), ("A B C", ""), ("HELLO", "HELLO")]
    errors = ErrorRate()
    for ref, hyp in pairs:
        errors.update(ref, hyp)
    we = sum(edit_distance(r.split(), h.split()) for r, h in pairs)
    ce = sum(edit_distance(r, h) for r, h in pairs)
    assert errors.wer == pytest.approx(100 * we / sum(len(r.split()) for r, _ in pairs))
    assert errors.cer == pytest.approx(100 * ce / sum(len(r) for r, _ in pairs))
    assert errors.utterances == 4
