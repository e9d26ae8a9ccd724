"""Learning rate: linear warm-up from 0 over ``train.warmup_steps``, then ``train.schedule``:

- ``cosine``: cosine annealing to ``lr * final_lr_ratio`` at the last step;
- ``exponential``: ``lr * lr_decay ** epochs`` (epochs counted in steps since the warm-up, fractional), never below
  ``lr * final_lr_ratio`` (PaddleSpeech's DeepSpeech2 recipe: 0.93 per epoch);
- ``constant``: ``lr``.

``lr_at`` (Python) is the reference; ``WarmupSchedule`` is the same formula as a MindSpore schedule that the
optimizer evaluates at its own ``global_step`` (the number of updates applied so far, skipped steps excluded).
"""
import math

import mindspore as ms
from mindspore import nn, ops

SCHEDULES = ("cosine", "exponential", "constant")


def lr_at(step, train_cfg, total_steps, steps_per_epoch=1):
    """Learning rate for the update with index ``step`` (0-based)."""
    base, warmup = train_cfg.lr, train_cfg.warmup_steps
    final = base * train_cfg.final_lr_ratio
    if step < warmup:
        return base * (step + 1) / warmup
    if train_cfg.schedule == "constant":
        return base
    if train_cfg.schedule == "exponential":
        return max(final, base * train_cfg.lr_decay ** ((step - warmup) / max(1, steps_per_epoch)))
    progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
    return final + 0.5 * (base - final) * (1.0 + math.cos(math.pi * progress))


class WarmupSchedule(nn.learning_rate_schedule.LearningRateSchedule):
    def __init__(self, train_cfg, total_steps, steps_per_epoch=1):
        super().__init__()
        self.base_lr, self.final = float(train_cfg.lr), float(train_cfg.lr) * float(train_cfg.final_lr_ratio)
        self.warmup = float(train_cfg.warmup_steps)
        self.decay_steps = float(max(1, total_steps - train_cfg.warmup_steps))
        self.schedule = train_cfg.schedule
        self.log_decay = math.log(train_cfg.lr_decay) / max(1, steps_per_epoch)

    def construct(self, global_step):
        step = global_step.astype(ms.float32)
        warm = self.base_lr * (step + 1.0) / max(self.warmup, 1.0)
        if self.schedule == "constant":
            after = ops.ones_like(step) * self.base_lr
        elif self.schedule == "exponential":
            after = ops.maximum(self.base_lr * ops.exp((step - self.warmup) * self.log_decay), self.final)
        else:
            progress = ops.clamp((step - self.warmup) / self.decay_steps, 0.0, 1.0)
            after = self.final + 0.5 * (self.base_lr - self.final) * (1.0 + ops.cos(math.pi * progress))
        return ops.select(step < self.warmup, warm, after)


def build_optimizer(params, train_cfg, total_steps, steps_per_epoch=1):
    lr = WarmupSchedule(train_cfg, total_steps, steps_per_epoch)
    if train_cfg.optimizer == "adamw":
        return nn.AdamWeightDecay(params, learning_rate=lr, eps=train_cfg.adam_eps,
                                  weight_decay=train_cfg.weight_decay)
    return nn.Adam(params, learning_rate=lr, eps=train_cfg.adam_eps, weight_decay=train_cfg.weight_decay)
