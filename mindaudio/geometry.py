"""Every size in the pipeline, in one place: samples → spectrogram frames and bins (the feature config) → the
network's output frames (its convolutions).

The network applies :func:`conv_out_size` to its length tensors; the data plan (CTC feasibility), the FLOP and
memory estimates, the recognizer and the streaming engine apply the same functions to integers and NumPy arrays.
Pure Python: importing this module does not import MindSpore.
"""
import dataclasses

import numpy as np


def frame_params(feat_cfg):
    """(n_fft, hop) in samples: the window and the hop of the spectrogram."""
    n_fft = int(round(feat_cfg.sample_rate * feat_cfg.window_ms / 1000))
    hop = int(round(feat_cfg.sample_rate * feat_cfg.hop_ms / 1000))
    return n_fft, hop


def num_bins(feat_cfg):
    """Frequency bins of the spectrogram: n_fft // 2 + 1 (161 for a 20 ms window at 16 kHz)."""
    return frame_params(feat_cfg)[0] // 2 + 1


def num_frames(num_samples, feat_cfg):
    """Frames the spectrogram of ``num_samples`` samples has (centred framing: 1 + S // hop)."""
    return 1 + num_samples // frame_params(feat_cfg)[1]


def conv_out_size(n, kernel, stride, padding):
    """Positions a convolution produces from ``n`` (an int, a NumPy array or a MindSpore tensor), ``padding`` being
    the total added to both ends."""
    return (n + padding - kernel) // stride + 1


@dataclasses.dataclass(frozen=True)
class ConvSpec:
    """One 2-D convolution over [C, F, T]: kernel and stride as (frequency, time); padding as (frequency on each side,
    time before, time after)."""
    in_channels: int
    out_channels: int
    kernel: tuple
    stride: tuple
    padding: tuple

    @property
    def time_padding(self):
        return self.padding[1] + self.padding[2]


def conv_specs(model_cfg):
    """DeepSpeech2's two convolutions: strides (2, 2) then (2, 1); frequency padded by half the kernel on each side;
    time likewise ('same'), or, for the streaming (unidirectional) model, only before (causal: no look into the
    future, an output frame depends on the current and past frames only)."""
    c, (k_f, k_t) = model_cfg.conv_channels, tuple(model_cfg.conv_kernel)
    padding = (k_f // 2, k_t // 2, k_t // 2) if model_cfg.bidirectional else (k_f // 2, k_t - 1, 0)
    return [ConvSpec(1, c, (k_f, k_t), (2, 2), padding), ConvSpec(c, c, (k_f, k_t), (2, 1), padding)]


class Geometry:
    """Sizes that follow from a ``ModelConfig`` and the number of feature bins (``Geometry.of(cfg)`` from a whole
    config)."""

    def __init__(self, model_cfg, num_features):
        self.specs = conv_specs(model_cfg)
        self.num_features = num_features
        freq = num_features
        self.freq_sizes = []                  # frequency bins after each convolution
        for s in self.specs:
            freq = conv_out_size(freq, s.kernel[0], s.stride[0], 2 * s.padding[0])
            self.freq_sizes.append(freq)
        self.rnn_input_size = self.specs[-1].out_channels * freq

    @classmethod
    def of(cls, cfg):
        """The geometry of a whole :class:`~mindaudio.config.Config` (its model and its features)."""
        return cls(cfg.model, num_bins(cfg.features))

    def block_frames(self, frames):
        """Time frames after each convolution for ``frames`` input frames (int or NumPy array), in order."""
        sizes = []
        for s in self.specs:
            frames = conv_out_size(frames, s.kernel[1], s.stride[1], s.time_padding)
            sizes.append(frames)
        return sizes

    def output_frames(self, frames):
        """Network output frames for ``frames`` input frames (int or NumPy array): T → ⌊(T − 1) / 2⌋ + 1."""
        return self.block_frames(frames)[-1]

    @property
    def time_stride(self):
        """Input frames per output frame (2: the first convolution's stride)."""
        stride = 1
        for s in self.specs:
            stride *= s.stride[1]
        return stride

    @property
    def receptive_frames(self):
        """Input frames one output frame sees through the convolutions (their time kernels and strides)."""
        frames, stride = 1, 1
        for s in self.specs:
            frames += (s.kernel[1] - 1) * stride
            stride *= s.stride[1]
        return frames


def ctc_min_frames(tokens):
    """Shortest output CTC can align to ``tokens``: one frame per label plus a blank between repeated labels."""
    tokens = np.asarray(tokens)
    return len(tokens) + int(np.sum(tokens[1:] == tokens[:-1]))
