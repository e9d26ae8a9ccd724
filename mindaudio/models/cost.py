"""Analytic cost of DeepSpeech2: FLOPs (multiply-adds count as 2 FLOPs; element-wise work is ignored as it is
small next to the matrix products; a training step is counted as 3× the forward pass, backward ≈ 2× forward).
Shapes come from :class:`~mindaudio.models.geometry.Geometry`. Pure Python."""
from mindaudio.geometry import Geometry


def forward_flops_by_part(model_cfg, batch, frames, num_features=161, num_classes=29):
    """FLOPs of one forward pass over ``batch`` utterances of ``frames`` spectrogram frames each, by part:
    {"conv": both convolutions, "rnn": the LSTMs, "fc": the projection}."""
    g = Geometry(model_cfg, num_features)
    conv = 0
    for spec, freq, t in zip(g.specs, g.freq_sizes, g.block_frames(frames)):
        conv += 2 * batch * spec.out_channels * freq * t * (spec.in_channels * spec.kernel[0] * spec.kernel[1])
    t = g.output_frames(frames)
    h, directions = model_cfg.rnn_hidden, 2 if model_cfg.bidirectional else 1
    sizes = [g.rnn_input_size] + [h] * (model_cfg.rnn_layers - 1)
    rnn = sum(directions * 2 * batch * t * 4 * h * (i + h) for i in sizes)      # 2 FLOPs × 4 gates
    fc = 2 * batch * t * h * num_classes
    if not model_cfg.bidirectional and model_cfg.lookahead:
        fc += 2 * batch * t * h * (model_cfg.lookahead + 1)                     # the lookahead convolution
    return {"conv": conv, "rnn": rnn, "fc": fc}


def forward_flops(model_cfg, batch, frames, num_features=161, num_classes=29):
    """FLOPs of one forward pass over ``batch`` utterances of ``frames`` spectrogram frames each."""
    return sum(forward_flops_by_part(model_cfg, batch, frames, num_features, num_classes).values())


def train_step_flops(model_cfg, batch, frames, num_features=161, num_classes=29):
    return 3 * forward_flops(model_cfg, batch, frames, num_features, num_classes)


# ---------------------------------------------------------------------------------------------------- memory

def parameter_count(model_cfg, num_features=161, num_classes=29):
    """Trainable parameters: convolutions (no bias), BatchNorm γ/β, LSTMs (4 gates, two biases, 2 directions),
    projection."""
    g = Geometry(model_cfg, num_features)
    conv = sum(s.out_channels * s.in_channels * s.kernel[0] * s.kernel[1] + 2 * s.out_channels for s in g.specs)
    h, directions = model_cfg.rnn_hidden, 2 if model_cfg.bidirectional else 1
    sizes = [g.rnn_input_size] + [h] * (model_cfg.rnn_layers - 1)
    rnn = sum(directions * (4 * h * (i + h) + 2 * 4 * h) for i in sizes)
    lookahead = 0 if model_cfg.bidirectional else (model_cfg.lookahead + 1) * h if model_cfg.lookahead else 0
    return conv + rnn + lookahead + h * num_classes + num_classes


def memory_estimate(model_cfg, batch, frames, fp16=True, chars_per_frame=0.15, num_features=161, num_classes=29):
    """Analytic device memory of one training step, in bytes, by part, for ``batch`` utterances padded to
    ``frames`` input frames (T' = ⌈T/2⌉ after the convolutions), with the Ascend build of the network (fp16
    convolutions, LSTMs and projection when ``fp16``; BatchNorm, log-softmax, CTC and the optimizer in fp32).

    Fixed, P parameters: fp32 weights 4P, their fp16 copies 2P, fp32 gradients 4P and the all-reduce buffer 4P,
    Adam's two moments 8P.
    Kept from the forward pass for the backward pass, per utterance (a = 2 bytes under fp16, else 4):
      convolutions: the input cast (F·T·a); per block of E = C·F'·T' outputs, BatchNorm's fp32 input, output and the
        clipped, masked output (3 · 4E); the second block's fp16 input (a·E₁);
      each bidirectional LSTM layer: DynamicRNN's 8 outputs per direction (y, h, c, i, j, f, o, tanh c: 2 · 8 · H · T'
        · a; the batch is stored in tiles of 16, so B counts as ⌈B/16⌉·16), the input cast per direction and its
        reversed copy (2 · D · T' · a), the reversed backward output, the direction sum and the masked output
        (3 · H · T' · a);
      projection and loss: fp16 and fp32 logits, log-probabilities (T'·classes·(a + 8)), CTC's α table and its
        gradient (2 · T' · (2S + 1) · 4, S = ``chars_per_frame`` · T: LibriSpeech has ~15 characters a second).
    Transient in the backward pass: one LSTM layer's gradients (both directions: fp32 gate gradients 4H and the
    input and hidden-state gradients D + H per frame, 2 · T' · (4H + D + H) · 4).
    Not modelled: the framework's workspace, HCCL buffers and fragmentation (see ``frame_budget``'s reserve).
    """
    g = Geometry(model_cfg, num_features)
    a = 2 if fp16 else 4
    p = parameter_count(model_cfg, num_features, num_classes)
    t_out = int(g.output_frames(frames))
    tiles = -(-batch // 16) * 16 if fp16 else batch
    h = model_cfg.rnn_hidden
    conv = batch * num_features * frames * a
    for spec, freq, t in zip(g.specs, g.freq_sizes, g.block_frames(frames)):
        conv += batch * spec.out_channels * freq * t * 3 * 4
    conv += batch * g.specs[0].out_channels * g.freq_sizes[0] * t_out * a      # second block's input cast
    sizes = [g.rnn_input_size] + [h] * (model_cfg.rnn_layers - 1)
    directions = 2 if model_cfg.bidirectional else 1
    lstm = sum(tiles * t_out * directions * 8 * h * a + batch * t_out * (directions * d + 3 * h) * a for d in sizes)
    targets = int(chars_per_frame * frames)
    head = batch * t_out * (num_classes * (a + 8) + 2 * (2 * targets + 1) * 4)
    workspace = batch * t_out * directions * (4 * h + max(sizes) + h) * 4
    return {"weights": 4 * p + (2 * p if fp16 else 0), "gradients": 8 * p, "optimizer": 8 * p,
            "conv_activations": conv, "lstm_activations": lstm, "head_activations": head,
            "backward_workspace": workspace}


# MindSpore's CPU backend keeps ~5.2× the fp32 estimate per frame (the matmul convolution's unfolded inputs, the
# CPU LSTM kernel's workspace, the memory pool's fragmentation over many batch shapes): measured by the dry run of
# deepspeech2.yaml on CPU, six shapes of up to 12,992 padded frames, peak RSS 19.2 GB (docs/ascend.md). A single
# shape measures less (2.85, benchmarks/bench_memory.py): a run sees many shapes.
CPU_OVERHEAD = 5.2


def device_bytes(model_cfg, batch, frames, device_target="Ascend", fp16=True):
    """Total estimated bytes of a training step on ``device_target`` (the fp32 estimate × CPU_OVERHEAD for the
    per-frame parts on CPU)."""
    est = memory_estimate(model_cfg, batch, frames, fp16 and device_target == "Ascend")
    fixed = est["weights"] + est["gradients"] + est["optimizer"]
    return fixed + (sum(est.values()) - fixed) * (1 if device_target == "Ascend" else CPU_OVERHEAD)


def frame_budget(model_cfg, memory_gib, device_target="Ascend", fp16=True, reserve_gib=3.0, safety=None,
                 frames=1250):
    """Padded frames per batch for ``memory_gib`` of device memory: what is left after the fixed parts and a
    ``reserve_gib`` for the framework, HCCL and fragmentation, times ``safety`` (0.5 on Ascend, where the estimate
    is not measured; 0.7 on CPU, where CPU_OVERHEAD is), divided by the per-frame cost of a batch of
    ``frames``-frame utterances (fp32 and ×CPU_OVERHEAD on CPU); rounded down to a multiple of 1 000 (10 000 above
    100 000)."""
    if safety is None:
        safety = 0.7 if device_target == "CPU" else 0.5
    fixed = device_bytes(model_cfg, 0, frames, device_target, fp16)
    per_frame = (device_bytes(model_cfg, 64, frames, device_target, fp16) - fixed) / (64 * frames)
    usable = (memory_gib - reserve_gib) * 2 ** 30 - fixed
    budget = max(0, int(usable * safety / per_frame))
    step = 10000 if budget >= 100000 else 1000
    return max(step, budget // step * step)
