import numpy as np
import pytest

from mindaudio.config import FeatureConfig, TextConfig
from mindaudio.data.features import num_frames, spectrogram
from mindaudio.metrics import ErrorRate, char_errors, word_errors
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


def test_spectrogram_matches_librosa():
    import librosa
    cfg = FeatureConfig(normalize="none")
    audio = np.random.default_rng(0).standard_normal(16000 + 123).astype(np.float32) * 0.1
    ours = spectrogram(audio, cfg)
    stft = librosa.stft(audio.astype(np.float64), n_fft=320, hop_length=160, win_length=320, window="hamming",
                        center=True, pad_mode="constant")
    ref = np.log(np.abs(stft) ** 2 + cfg.log_eps)
    assert ours.shape == ref.shape == (161, num_frames(len(audio), cfg))
    np.testing.assert_allclose(ours, ref, atol=1e-4)


def test_spectrogram_normalised_and_window_configurable():
    audio = np.sin(np.arange(8000) * 0.3).astype(np.float32) + 0.01
    feats = spectrogram(audio, FeatureConfig())
    assert abs(feats.mean()) < 1e-4 and abs(feats.std() - 1) < 1e-3
    hann = spectrogram(audio, FeatureConfig(window="hann"))
    assert not np.allclose(feats, hann)


def test_error_rates_hand_worked():
    assert word_errors("THE CAT SAT", "THE BAT SAT DOWN") == (2, 3)
    assert char_errors("ABC", "AXC") == (1, 3)
    m = ErrorRate()
    m.update("THE CAT SAT", "THE BAT SAT DOWN")   # 2 word edits / 3 words
    m.update("HELLO", "HELLO")                    # 0 / 1
    assert m.wer == pytest.approx(100 * 2 / 4)
    # corpus level, not the mean of per-utterance rates (which would be 33.3)
    assert m.cer == pytest.approx(100 * (char_errors("THE CAT SAT", "THE BAT SAT DOWN")[0]) / (11 + 5))
