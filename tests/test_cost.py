"""The analytic FLOP count against an independent count from the real network's parameter shapes."""
import numpy as np

from mindaudio.config import Config
from mindaudio.models.cost import forward_flops, train_step_flops


def test_flops_match_parameter_count_times_applications(cpu):
    from mindaudio.models.deepspeech2 import build_model
    cfg = Config()
    cfg.train.device_target = "CPU"
    batch, frames = 3, 401
    net = build_model(cfg)
    t_out = (frames - 1) // 2 + 1
    applications = {"conv1.conv.weight": batch * 81 * t_out, "conv2.conv.weight": batch * 41 * t_out,
                    "fc.weight": batch * t_out}
    total = 0
    for name, p in net.parameters_and_names():
        size = int(np.prod(p.shape))
        if name in applications:
            total += 2 * size * applications[name]
        elif ".weight_" in name:                     # LSTM input and recurrent matrices: once per frame
            total += 2 * size * batch * t_out
    assert forward_flops(cfg.model, batch, frames) == total
    assert train_step_flops(cfg.model, batch, frames) == 3 * total
    # by hand, 4 s of audio (401 frames → 201 after the convolutions), per output frame:
    # LSTMs 2·2·4096·(2336 + 4·2048) = 172.1 M, conv2 2·32·41·(32·41·11) = 37.9 M, conv1 2·32·81·451 = 2.3 M,
    # fc 2·1024·29 = 0.06 M → 212.4 M × 201 ≈ 42.7 GFLOP
    assert 42.5e9 < forward_flops(cfg.model, 1, 401) < 43.0e9


def test_memory_estimate_by_hand():
    """The fixed parts follow the parameter count, and DynamicRNN's 8 fp16 outputs per direction cost
    8 · 1024 · 2 B · 2 directions · 5 layers = 163,840 B per output frame and batch row (tiles of 16 rows)."""
    from mindaudio.models.cost import frame_budget, memory_estimate, parameter_count
    cfg = Config()
    p = parameter_count(cfg.model)
    assert p == 86_833_405
    one = memory_estimate(cfg.model, 16, 1)                       # T = 1 input frame → T' = 1
    assert one["weights"] == 6 * p and one["gradients"] == one["optimizer"] == 8 * p
    dynamic_rnn = 16 * 163_840
    inputs_and_sums = 16 * sum(2 * d + 3 * 1024 for d in [1312] + [1024] * 4) * 2
    assert one["lstm_activations"] == dynamic_rnn + inputs_and_sums
    assert memory_estimate(cfg.model, 1, 1)["lstm_activations"] == dynamic_rnn + inputs_and_sums // 16  # tiles
    small, large = frame_budget(cfg.model, 32), frame_budget(cfg.model, 64)
    assert 50_000 <= small < large and small % 10000 == 0
    for frames in (1250, 3500):                                   # a batch at the budget fits the card's estimate
        batch = small // frames
        assert sum(memory_estimate(cfg.model, batch, frames).values()) < 32 * 2 ** 30 * 0.75
    assert frame_budget(cfg.model, 24, "CPU") < frame_budget(cfg.model, 24, "Ascend")   # fp32 and the CPU's overhead
