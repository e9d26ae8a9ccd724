"""The n-gram LM estimator: a normalised back-off model that KenLM reads."""
import os

import pytest

from mindaudio.lm import arpa_unigrams, estimate
from tests.helpers import python


def test_build_arpa_writes_a_normalised_backoff_model(tmp_path):
    import kenlm
    text = tmp_path / "text.txt"
    text.write_text("the cat sat on the mat\nTHE DOG SAT ON THE LOG\na cat and a dog\n\nthe cat is on the log\n")
    lm = tmp_path / "lm.arpa"
    proc = python(os.path.join("scripts", "build_arpa.py"), str(text), "--output", str(lm), "--order", "3")
    assert proc.returncode == 0, proc.stderr
    model = kenlm.Model(str(lm))
    assert model.order == 3
    vocab = sorted(arpa_unigrams(str(lm))) + ["</s>", "<unk>"]
    assert "CAT" in vocab and "cat" not in vocab                    # upper-cased like the transcripts
    for context in ([], ["THE"], ["THE", "CAT"], ["ON", "THE"], ["DOG", "CAT"], ["<s>"], ["<s>", "THE"]):
        state = kenlm.State()
        if context[:1] == ["<s>"]:
            model.BeginSentenceWrite(state)
            context = context[1:]
        else:
            model.NullContextWrite(state)
        for w in context:
            out = kenlm.State()
            model.BaseScore(state, w, out)
            state = out
        total = sum(10 ** model.BaseScore(state, w, kenlm.State()) for w in vocab)
        assert total == pytest.approx(1.0, abs=1e-4), context
    # seen continuations beat unseen ones
    assert model.score("THE CAT SAT ON THE MAT") > model.score("MAT THE ON CAT THE SAT")
    # the module's estimate agrees with what kenlm reads back
    probs, _, _ = estimate([s.split() for s in ["THE CAT SAT", "THE DOG SAT"]], 2)
    assert sum(p for (w,), p in probs[1].items()) == pytest.approx(1.0)
