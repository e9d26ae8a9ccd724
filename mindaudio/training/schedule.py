"""Learning rate: linear warm-up from 0, then cosine annealing to ``lr * final_lr_ratio``.

``lr_at`` (NumPy) is the reference; ``WarmupCosineLR`` is the same formula as a MindSpore schedule that the
optimizer evaluates at its own ``global_step`` (the number of updates applied so far).
"""
import math

import mindspore as ms
from mindspore import nn, ops


def lr_at(step, base_lr, warmup_steps, total_steps, final_lr_ratio):
    """Learning rate for the update with index ``step`` (0-based)."""
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    final = base_lr * final_lr_ratio
    return final + 0.5 * (base_lr - final) * (1.0 + math.cos(math.pi * progress))


class WarmupCosineLR(nn.learning_rate_schedule.LearningRateSchedule):
    def __init__(self, base_lr, warmup_steps, total_steps, final_lr_ratio):
        super().__init__()
        self.base_lr, self.final = float(base_lr), float(base_lr) * float(final_lr_ratio)
        self.warmup = float(warmup_steps)
        self.decay_steps = float(max(1, total_steps - warmup_steps))

    def construct(self, global_step):
        step = global_step.astype(ms.float32)
        warm = self.base_lr * (step + 1.0) / max(self.warmup, 1.0)
        progress = ops.clamp((step - self.warmup) / self.decay_steps, 0.0, 1.0)
        cosine = self.final + 0.5 * (self.base_lr - self.final) * (1.0 + ops.cos(math.pi * progress))
        return ops.select(step < self.warmup, warm, cosine)


def build_optimizer(params, train_cfg, total_steps):
    lr = WarmupCosineLR(train_cfg.lr, train_cfg.warmup_steps, total_steps, train_cfg.final_lr_ratio)
    if train_cfg.optimizer == "adamw":
        return nn.AdamWeightDecay(params, learning_rate=lr, eps=train_cfg.adam_eps,
                                  weight_decay=train_cfg.weight_decay)
    return nn.Adam(params, learning_rate=lr, eps=train_cfg.adam_eps, weight_decay=train_cfg.weight_decay)
