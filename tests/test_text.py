import pytest

from mindaudio.config import TextConfig
from mindaudio.text import Labels


@pytest.fixture
def labels():
    return Labels.from_config(TextConfig())


def test_label_set(labels):
    assert len(labels) == 29
    assert labels.blank == 0 and labels.symbols[0] is None
    assert labels.index["'"] == 1 and labels.index["A"] == 2 and labels.index["Z"] == 27 and labels.index[" "] == 28


def test_round_trip_keeps_apostrophes(labels):
    text = "DON'T STOP IT'S THE DOG'S BONE"
    ids = labels.encode(text)
    assert ids.count(labels.index["'"]) == 3 and labels.blank not in ids
    assert labels.decode(ids) == text
    assert labels.encode("don't  stop") == labels.encode("DON'T STOP")


def test_unknown_characters_reported_not_deleted(labels):
    assert labels.unknown_chars("HELLO, WORLD 2") == {",": 1, "2": 1}
    with pytest.raises(ValueError, match="outside the label set"):
        labels.encode("HELLO, WORLD")


def test_blank_elsewhere():
    labels = Labels("AB ", blank_index=3)
    assert labels.encode("AB A") == [0, 1, 2, 0] and labels.decode([0, 3, 1]) == "AB"
