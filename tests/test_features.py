import numpy as np

from mindaudio.config import FeatureConfig
from mindaudio.data.features import spectrogram
from mindaudio.geometry import num_frames


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
