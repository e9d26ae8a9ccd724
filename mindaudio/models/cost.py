"""Analytic cost of DeepSpeech2: FLOPs (multiply-adds count as 2 FLOPs; element-wise work is ignored as it is
small next to the matrix products; a training step is counted as 3× the forward pass, backward ≈ 2× forward).
Shapes come from :class:`~mindaudio.models.geometry.Geometry`. Pure Python."""
from mindaudio.models.geometry import Geometry, conv_out_size


def forward_flops_by_part(model_cfg, batch, frames, num_features=161, num_classes=29):
    """FLOPs of one forward pass over ``batch`` utterances of ``frames`` spectrogram frames each, by part:
    {"conv": both convolutions, "rnn": the LSTMs, "fc": the projection}."""
    g = Geometry(model_cfg, num_features)
    conv, t = 0, frames
    for spec, freq in zip(g.specs, g.freq_sizes):
        t = conv_out_size(t, spec.kernel[1], spec.stride[1], spec.padding[1])
        conv += 2 * batch * spec.out_channels * freq * t * (spec.in_channels * spec.kernel[0] * spec.kernel[1])
    h = model_cfg.rnn_hidden
    sizes = [g.rnn_input_size] + [h] * (model_cfg.rnn_layers - 1)
    rnn = sum(2 * 2 * batch * t * 4 * h * (i + h) for i in sizes)      # 2 directions × 2 FLOPs × gates
    fc = 2 * batch * t * h * num_classes
    return {"conv": conv, "rnn": rnn, "fc": fc}


def forward_flops(model_cfg, batch, frames, num_features=161, num_classes=29):
    """FLOPs of one forward pass over ``batch`` utterances of ``frames`` spectrogram frames each."""
    return sum(forward_flops_by_part(model_cfg, batch, frames, num_features, num_classes).values())


def train_step_flops(model_cfg, batch, frames, num_features=161, num_classes=29):
    return 3 * forward_flops(model_cfg, batch, frames, num_features, num_classes)
