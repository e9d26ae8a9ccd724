"""DeepSpeech2: two 2-D convolutions, bidirectional LSTMs with summed directions, a linear projection.

Padding never changes results: convolution outputs are zeroed beyond each utterance's length (so the next
convolution sees the same zeros an utterance alone would see), and the reverse LSTM direction runs on each
sequence reversed within its own length (``ReverseSequence``), which keeps MindSpore's fused LSTM kernel
(``nn.LSTM`` without ``seq_length``) and is exact on the valid frames.
"""
import mindspore as ms
from mindspore import nn, ops

from mindaudio.models.layers import Conv2d


def length_mask(lengths, like):
    """lengths: [B] int; like: [B, T] tensor → [B, T] float mask (1 on frames < length). Dynamic-shape safe."""
    positions = ops.cumsum(ops.ones_like(like, dtype=ms.int32), axis=1)   # int32: exact at any length under fp16
    return (positions <= lengths.astype(ms.int32).reshape(-1, 1)).astype(like.dtype)


class ConvBlock(nn.Cell):
    """Conv (no bias) → BatchNorm → clipped ReLU → zero beyond length. x: [B, C_in, F, T] → [B, C_out, F', T']."""

    def __init__(self, in_channels, out_channels, kernel, stride, relu_clip, fast_cpu):
        super().__init__()
        self.time_kernel, self.time_stride = kernel[1], stride[1]
        self.conv = Conv2d(in_channels, out_channels, kernel, stride, (kernel[0] // 2, kernel[1] // 2), fast_cpu)
        self.bn = nn.BatchNorm2d(out_channels, momentum=0.9)
        self.relu_clip = relu_clip

    def out_lengths(self, lengths):
        pad = self.time_kernel // 2
        return (lengths + 2 * pad - self.time_kernel) // self.time_stride + 1

    def construct(self, x, lengths):
        y = ops.clamp(self.bn(self.conv(x)), 0.0, self.relu_clip)
        lengths = self.out_lengths(lengths)
        mask = length_mask(lengths, y[:, 0, 0, :])
        return y * mask.reshape(mask.shape[0], 1, 1, -1), lengths


class BiLSTM(nn.Cell):
    """One bidirectional LSTM layer, directions summed. x: [T, B, D] → [T, B, H], zero beyond each length."""

    def __init__(self, input_size, hidden):
        super().__init__()
        self.fwd = nn.LSTM(input_size, hidden, num_layers=1, has_bias=True, batch_first=False)
        self.bwd = nn.LSTM(input_size, hidden, num_layers=1, has_bias=True, batch_first=False)
        self.reverse = ops.ReverseSequence(seq_dim=0, batch_dim=1)

    def construct(self, x, lengths, mask):
        forward, _ = self.fwd(x)
        backward, _ = self.bwd(self.reverse(x, lengths))
        return (forward + self.reverse(backward, lengths)) * mask


class DeepSpeech2(nn.Cell):
    """feats: [B, 1, F, T] float32, lengths: [B] int32 → (log_probs [T', B, C] float32, out_lengths [B] int32),
    T' = ⌊(T − 1) / 2⌋ + 1 for odd time kernels. Sizes come from ``ModelConfig``; ``num_features`` = F."""

    def __init__(self, model_cfg, num_features, num_classes, fast_cpu):
        super().__init__()
        c, kernel = model_cfg.conv_channels, tuple(model_cfg.conv_kernel)
        self.conv1 = ConvBlock(1, c, kernel, (2, 2), model_cfg.relu_clip, fast_cpu)
        self.conv2 = ConvBlock(c, c, kernel, (2, 1), model_cfg.relu_clip, fast_cpu)
        freq = num_features
        for _ in range(2):
            freq = (freq + 2 * (kernel[0] // 2) - kernel[0]) // 2 + 1
        self.rnn_input = c * freq
        sizes = [self.rnn_input] + [model_cfg.rnn_hidden] * model_cfg.rnn_layers
        self.rnns = nn.CellList([BiLSTM(sizes[i], model_cfg.rnn_hidden) for i in range(model_cfg.rnn_layers)])
        self.fc = nn.Dense(model_cfg.rnn_hidden, num_classes)

    def construct(self, feats, lengths):
        x, lengths = self.conv1(feats, lengths)
        x, lengths = self.conv2(x, lengths)
        b, c, f, t = x.shape
        x = x.reshape(b, c * f, t).transpose(2, 0, 1)           # [T', B, C·F']
        mask = length_mask(lengths, x[:, :, 0].transpose(1, 0)).transpose(1, 0).expand_dims(-1)  # [T', B, 1]
        for rnn in self.rnns:
            x = rnn(x, lengths, mask)
        logits = self.fc(x).astype(ms.float32)                   # fp32 for log-softmax and CTC under AMP
        return ops.log_softmax(logits, axis=-1), lengths


class CTCLossCell(nn.Cell):
    """Network + CTC loss (mean over the batch of per-utterance loss / target length)."""

    def __init__(self, network, blank):
        super().__init__()
        self.network = network
        self.ctc = nn.CTCLoss(blank=blank, reduction="none", zero_infinity=True)

    def construct(self, feats, feat_lens, targets, target_lens):
        log_probs, out_lens = self.network(feats, feat_lens)
        losses = self.ctc(log_probs, targets, out_lens, target_lens)
        return (losses / target_lens.astype(ms.float32)).mean()


def build_model(cfg, num_features, num_classes):
    """The network for ``cfg.train.device_target``: the CPU path swaps only the convolution implementation."""
    net = DeepSpeech2(cfg.model, num_features, num_classes, fast_cpu=cfg.train.device_target == "CPU")
    if cfg.train.device_target == "Ascend" and cfg.train.mixed_precision:
        # fp16 convolutions, LSTMs and projection; BatchNorm, log-softmax and CTC stay fp32
        for cell in (net.conv1.conv, net.conv2.conv, net.rnns, net.fc):
            cell.to_float(ms.float16)
    return net


def dynamic_inputs(num_features):
    """Input signature with dynamic batch and time: one compilation for every batch shape."""
    return (ms.Tensor(shape=[None, 1, num_features, None], dtype=ms.float32),
            ms.Tensor(shape=[None], dtype=ms.int32))
