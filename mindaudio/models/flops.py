"""Analytic FLOP count of DeepSpeech2 (multiply-adds count as 2 FLOPs; element-wise work is ignored as it is
small next to the matrix products). A training step is counted as 3× the forward pass (backward ≈ 2× forward)."""


def forward_flops_by_part(model_cfg, batch, frames, num_features=161, num_classes=29):
    """FLOPs of one forward pass over ``batch`` utterances of ``frames`` spectrogram frames each, by part:
    {"conv": both convolutions, "rnn": the LSTMs, "fc": the projection}."""
    c = model_cfg.conv_channels
    k_f, k_t = model_cfg.conv_kernel
    f1 = (num_features + 2 * (k_f // 2) - k_f) // 2 + 1
    f2 = (f1 + 2 * (k_f // 2) - k_f) // 2 + 1
    t = (frames + 2 * (k_t // 2) - k_t) // 2 + 1
    conv1 = 2 * batch * c * f1 * t * (1 * k_f * k_t)
    conv2 = 2 * batch * c * f2 * t * (c * k_f * k_t)
    h = model_cfg.rnn_hidden
    sizes = [c * f2] + [h] * (model_cfg.rnn_layers - 1)
    rnn = sum(2 * 2 * batch * t * 4 * h * (i + h) for i in sizes)      # 2 directions × 2 FLOPs × gates
    fc = 2 * batch * t * h * num_classes
    return {"conv": conv1 + conv2, "rnn": rnn, "fc": fc}


def forward_flops(model_cfg, batch, frames, num_features=161, num_classes=29):
    """FLOPs of one forward pass over ``batch`` utterances of ``frames`` spectrogram frames each."""
    return sum(forward_flops_by_part(model_cfg, batch, frames, num_features, num_classes).values())


def train_step_flops(model_cfg, batch, frames, num_features=161, num_classes=29):
    return 3 * forward_flops(model_cfg, batch, frames, num_features, num_classes)
