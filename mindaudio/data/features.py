"""The one feature function used by training, validation, evaluation and transcription.

Log power spectrogram: STFT with a ``window_ms`` window (n_fft = window length, so 320 samples → 161 bins at
16 kHz), ``hop_ms`` hop, frames centred on ``t * hop`` (zero padding of n_fft // 2 at both ends, as
``librosa.stft(center=True, pad_mode="constant")``), ``log(|X|^2 + eps)``, then normalised (``features.normalize``):

- ``utterance``: the mean and standard deviation of the whole utterance (all bins and frames);
- ``running``: at frame t, the mean and standard deviation of every value up to and including frame t, started
  from a prior (``norm_prior_mean``/``norm_prior_std``, worth ``norm_prior_frames`` frames): causal, so a stream
  can be normalised as it arrives, with exactly the values the whole utterance gets (``RunningNorm``);
- ``none``.

Frame and bin counts come from ``mindaudio.geometry``, audio from ``mindaudio.data.audio``. NumPy only.
"""
import numpy as np

from mindaudio.geometry import frame_params, num_bins


def _window(name, length):
    """Periodic (DFT-even) window, the convention of scipy.signal.get_window and librosa."""
    n = np.arange(length)
    if name == "hamming":
        return 0.54 - 0.46 * np.cos(2 * np.pi * n / length)
    if name == "hann":
        return 0.5 - 0.5 * np.cos(2 * np.pi * n / length)
    raise ValueError(f"unknown window {name!r}")


def log_power(frames, feat_cfg):
    """frames: [T, n_fft] samples (float64) → [T, F] log power, each frame on its own."""
    n_fft = frames.shape[1]
    power = np.abs(np.fft.rfft(frames * _window(feat_cfg.window, n_fft), axis=1)) ** 2
    return np.log(power + feat_cfg.log_eps)


def spectrogram(audio, feat_cfg):
    """audio: [S] float → features: [F, T] float32, F = ``geometry.num_bins``, T = ``geometry.num_frames(S)``."""
    n_fft, hop = frame_params(feat_cfg)
    audio = np.asarray(audio, dtype=np.float64)
    padded = np.pad(audio, n_fft // 2)
    n = 1 + (len(padded) - n_fft) // hop
    frames = np.lib.stride_tricks.as_strided(
        padded, shape=(n, n_fft), strides=(padded.strides[0] * hop, padded.strides[0]), writeable=False)
    feats = log_power(frames, feat_cfg)
    if feat_cfg.normalize == "utterance":
        feats = (feats - feats.mean()) / (feats.std() + 1e-5)
    elif feat_cfg.normalize == "running":
        feats = RunningNorm(feat_cfg)(feats)
    return feats.T.astype(np.float32)


class RunningNorm:
    """Causal normalisation with running statistics: call it on consecutive blocks of frames [T_i, F] of one
    stream; the result is the same, value for value, whatever the blocks (the sums are one sequential float64
    fold over frames)."""

    def __init__(self, feat_cfg):
        prior = feat_cfg.norm_prior_frames * num_bins(feat_cfg)
        self.count = float(prior)
        self.total = prior * feat_cfg.norm_prior_mean
        self.squares = prior * (feat_cfg.norm_prior_std ** 2 + feat_cfg.norm_prior_mean ** 2)

    def __call__(self, feats):
        """feats: [T, F] float64 log power → [T, F] normalised (and the statistics advanced by T frames)."""
        if len(feats) == 0:
            return feats
        counts = self.count + feats.shape[1] * np.arange(1, len(feats) + 1)
        totals = np.cumsum(np.concatenate([[self.total], feats.sum(axis=1)]))[1:]
        squares = np.cumsum(np.concatenate([[self.squares], (feats ** 2).sum(axis=1)]))[1:]
        self.count, self.total, self.squares = counts[-1], totals[-1], squares[-1]
        mean = totals / counts
        std = np.sqrt(np.maximum(squares / counts - mean ** 2, 0.0))
        return (feats - mean[:, None]) / (std[:, None] + 1e-5)
