"""DeepSpeech2: two 2-D convolutions, bidirectional LSTMs with summed directions, a linear projection; or, with
``model.bidirectional: false``, the streaming variant: causal convolutions, forward LSTMs and a lookahead
convolution over ``model.lookahead`` future frames (its only look into the future), the same projection.

Padding never changes results: convolution outputs are zeroed beyond each utterance's length (so the next
convolution sees the same zeros an utterance alone would see), and the reverse LSTM direction runs on each
sequence reversed within its own length (a gather, ``layers.ReverseWithinLengths``), which keeps the fused
LSTM kernels (``nn.LSTM`` without ``seq_length``; on the CPU the compiled kernel of ``cpu_lstm``) and is exact on the
valid frames.
"""
import numpy as np
import mindspore as ms
from mindspore import nn, ops

from mindaudio.geometry import Geometry, conv_out_size, num_bins
from mindaudio.models.cpu_lstm import lstm
from mindaudio.models.layers import Conv2d, ReverseWithinLengths


def length_mask(lengths, like):
    """lengths: [B] int; like: [B, T] tensor → [B, T] mask of like's dtype (1 on frames < length). Dynamic-shape
    safe; positions counted in float32 (exact below 2^24 frames, unlike fp16 beyond 2048)."""
    positions = ops.cumsum(ops.ones_like(like, dtype=ms.float32), axis=1)
    return (positions <= lengths.astype(ms.float32).reshape(-1, 1)).astype(like.dtype)


class ConvBlock(nn.Cell):
    """Conv (no bias) → BatchNorm → clipped ReLU → zero beyond length. x: [B, C_in, F, T] → [B, C_out, F', T']."""

    def __init__(self, spec, relu_clip, fast_cpu):
        super().__init__()
        self.time_kernel, self.time_stride, self.time_padding = spec.kernel[1], spec.stride[1], spec.time_padding
        self.conv = Conv2d(spec.in_channels, spec.out_channels, spec.kernel, spec.stride, spec.padding, fast_cpu)
        self.spec = spec
        self.bn = nn.BatchNorm2d(spec.out_channels, momentum=0.9)
        self.relu_clip = relu_clip

    def activate(self, y):
        """BatchNorm, then the clipped ReLU: y [B, C, F', T'] (convolution output) → same shape."""
        return ops.clamp(self.bn(y), 0.0, self.relu_clip)

    def construct(self, x, lengths):
        y = self.activate(self.conv(x))
        lengths = conv_out_size(lengths, self.time_kernel, self.time_stride, self.time_padding)
        mask = length_mask(lengths, y[:, 0, 0, :])
        return y * mask.reshape(mask.shape[0], 1, 1, -1), lengths

    def unpadded_in_time(self):
        """This block's convolution without time padding, sharing its weight: for a stream, whose cache of earlier
        frames stands in for the padding."""
        spec = self.spec
        conv = Conv2d(spec.in_channels, spec.out_channels, spec.kernel, spec.stride, (spec.padding[0], 0, 0),
                      self.conv.fast_cpu)
        conv.weight = self.conv.weight
        return conv


class BiLSTM(nn.Cell):
    """One bidirectional LSTM layer, directions summed. x: [T, B, D] → [T, B, H], zero beyond each length."""

    def __init__(self, input_size, hidden, compiled=False):
        super().__init__()
        self.fwd = lstm(input_size, hidden, compiled)
        self.bwd = lstm(input_size, hidden, compiled)
        self.reverse = ReverseWithinLengths()

    def construct(self, x, lengths, mask):
        forward, _ = self.fwd(x)
        backward, _ = self.bwd(self.reverse(x, lengths))
        return (forward + self.reverse(backward, lengths)) * mask.astype(forward.dtype)


class ForwardLSTM(nn.Cell):
    """One forward LSTM layer (the streaming model). x: [T, B, D] → [T, B, H], zero beyond each length."""

    def __init__(self, input_size, hidden, compiled=False):
        super().__init__()
        self.fwd = nn.LSTM(input_size, hidden, num_layers=1, has_bias=True, batch_first=False)   # step() needs a
        # state to start from, which the compiled kernel does not take

    def construct(self, x, lengths, mask):
        forward, _ = self.fwd(x)
        return forward * mask.astype(forward.dtype)

    def step(self, x, h, c):
        """Continue from state (h, c) [1, B, H]: x [T, B, D] → (y [T, B, H], h, c)."""
        y, (h, c) = self.fwd(x, (h, c))
        return y, h, c


class Lookahead(nn.Cell):
    """The DS2 paper's row (lookahead) convolution: y[t] = Σ_k w[k] ⊙ x[t + k] for k = 0..context, each channel its
    own weights; x is zero beyond each length. Linear, and it starts as the identity (w[0] = 1, the rest 0): the
    network begins as the plain forward model and learns to look ahead. Measured on the demo, deepspeech.pytorch's
    variant (random init, then a clipped ReLU) kept the network on CTC's all-blank plateau for 3 epochs, against
    1 without a lookahead. x: [T, B, H] → [T, B, H]."""

    def __init__(self, context, hidden):
        super().__init__()
        self.context = context
        weight = np.zeros((context + 1, hidden), np.float32)
        weight[0] = 1.0
        self.weight = ms.Parameter(ms.Tensor(weight), name="weight")

    def window_sum(self, padded, frames):
        """padded [frames + context, B, H] → [frames, B, H]: Σ_k w[k] ⊙ padded[k : k + frames]."""
        out = padded[0:frames] * self.weight[0]
        for k in range(1, self.context + 1):
            out = out + padded[k:k + frames] * self.weight[k]
        return out

    def construct(self, x, mask):
        x = x * mask.astype(x.dtype)
        padded = ops.concat((x, ops.zeros((self.context, x.shape[1], x.shape[2]), x.dtype)), axis=0)
        return self.window_sum(padded, x.shape[0])

    def step(self, cache, x):
        """A stream's next frames: cache [context, B, H] (the last inputs) and x [m, B, H] → (y [m, B, H] for the
        frames ``context`` steps back, the new cache)."""
        joined = ops.concat((cache, x), axis=0)
        return self.window_sum(joined, x.shape[0]), joined[x.shape[0]:]


class DeepSpeech2(nn.Cell):
    """feats: [B, 1, F, T] float32, lengths: [B] int32 → (log_probs [T', B, C] float32, out_lengths [B] int32),
    T' = ``geometry.output_frames(T)`` = ⌊(T − 1) / 2⌋ + 1. Sizes come from ``ModelConfig``; F = ``num_features``."""

    def __init__(self, model_cfg, num_features, num_classes, fast_cpu, compiled_lstm=False):
        super().__init__()
        self.geometry = Geometry(model_cfg, num_features)
        self.num_features, self.num_classes = num_features, num_classes
        spec1, spec2 = self.geometry.specs
        self.conv1 = ConvBlock(spec1, model_cfg.relu_clip, fast_cpu)
        self.conv2 = ConvBlock(spec2, model_cfg.relu_clip, fast_cpu)
        sizes = [self.geometry.rnn_input_size] + [model_cfg.rnn_hidden] * model_cfg.rnn_layers
        layer = BiLSTM if model_cfg.bidirectional else ForwardLSTM
        self.rnns = nn.CellList([layer(sizes[i], model_cfg.rnn_hidden, compiled_lstm)
                                 for i in range(model_cfg.rnn_layers)])
        self.streaming = not model_cfg.bidirectional
        self.lookahead = Lookahead(model_cfg.lookahead, model_cfg.rnn_hidden) \
            if self.streaming and model_cfg.lookahead else None
        self.fc = nn.Dense(model_cfg.rnn_hidden, num_classes)

    def input_signature(self):
        """(feats, lengths) with dynamic batch and time: one compilation for every batch shape."""
        return (ms.Tensor(shape=[None, 1, self.num_features, None], dtype=ms.float32),
                ms.Tensor(shape=[None], dtype=ms.int32))

    def construct(self, feats, lengths):
        x, lengths = self.conv1(feats, lengths)
        x, lengths = self.conv2(x, lengths)
        x = self.to_sequence(x)
        mask = length_mask(lengths, x[:, :, 0].transpose(1, 0)).transpose(1, 0).expand_dims(-1)  # [T', B, 1]
        for rnn in self.rnns:
            x = rnn(x, lengths, mask)
        if self.lookahead is not None:
            x = self.lookahead(x, mask)
        return self.project(x), lengths

    def to_sequence(self, x):
        """Convolution output [B, C, F', T'] → the LSTMs' input [T', B, C·F']."""
        b, c, f, t = x.shape
        return x.reshape(b, c * f, t).transpose(2, 0, 1)

    def project(self, x):
        """x [T', B, H] → log-probabilities [T', B, C], in fp32 for log-softmax and CTC under AMP."""
        return ops.log_softmax(self.fc(x).astype(ms.float32), axis=-1)


class CTCLossCell(nn.Cell):
    """Network + CTC loss: the mean over the batch of (per-utterance CTC loss / its target length)."""

    def __init__(self, network, blank):
        super().__init__()
        self.network = network
        self.ctc = nn.CTCLoss(blank=blank, reduction="none", zero_infinity=True)

    def input_signature(self):
        """(feats, feat_lens, targets [B, S], target_lens) with dynamic batch, time and target length."""
        return (*self.network.input_signature(), ms.Tensor(shape=[None, None], dtype=ms.int32),
                ms.Tensor(shape=[None], dtype=ms.int32))

    def per_utterance(self, feats, feat_lens, targets, target_lens):
        """→ (log_probs, out_lens, per-utterance loss / target length [B])."""
        log_probs, out_lens = self.network(feats, feat_lens)
        losses = self.ctc(log_probs, targets, out_lens, target_lens)
        return log_probs, out_lens, losses / target_lens.astype(ms.float32)

    def construct(self, feats, feat_lens, targets, target_lens):
        return self.per_utterance(feats, feat_lens, targets, target_lens)[2].mean()


def build_model(cfg, portable=False):
    """The network of ``cfg`` for ``cfg.train.device_target``: the CPU path swaps the convolution implementation
    and (unless ``portable``, for an exported graph that must not need a compiled library) the bidirectional LSTMs'
    kernel (``cpu_lstm``); the parameters are the same. On Ascend with ``train.mixed_precision`` the convolutions,
    LSTMs and projection run in fp16 while BatchNorm, log-softmax and CTC stay fp32."""
    cpu = cfg.train.device_target == "CPU"
    net = DeepSpeech2(cfg.model, num_bins(cfg.features), len(cfg.text.alphabet) + 1, fast_cpu=cpu,
                      compiled_lstm=cpu and not portable)
    if cfg.train.device_target == "Ascend" and cfg.train.mixed_precision:
        for cell in (net.conv1.conv, net.conv2.conv, net.rnns, net.fc) + ((net.lookahead,) if net.lookahead else ()):
            cell.to_float(ms.float16)
        for cell in (net.conv1.bn, net.conv2.bn):
            cell.to_float(ms.float32)        # casts its fp16 input up: statistics and output in fp32
    return net
