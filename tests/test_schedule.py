"""The learning-rate schedules: the MindSpore schedule against the Python formula and hand-worked values."""
import numpy as np
import pytest

import mindspore as ms

from mindaudio.config import TrainConfig
from mindaudio.training.schedule import WarmupSchedule, lr_at

pytestmark = pytest.mark.usefixtures("cpu")


@pytest.mark.parametrize("schedule", ["cosine", "exponential", "constant"])
def test_schedule_formula(schedule):
    cfg = TrainConfig(lr=1e-3, warmup_steps=10, final_lr_ratio=0.01, schedule=schedule, lr_decay=0.5)
    sched = WarmupSchedule(cfg, total_steps=100, steps_per_epoch=20)
    for step in [0, 4, 9, 10, 30, 50, 99, 100, 150, 400]:
        assert float(sched(ms.Tensor(step, ms.int32)).asnumpy()) == pytest.approx(lr_at(step, cfg, 100, 20), rel=1e-5)
    assert lr_at(0, cfg, 100, 20) == pytest.approx(1e-4) and lr_at(9, cfg, 100, 20) == 1e-3   # warm-up
    by_hand = {"cosine": 1e-5 + 0.5 * (1e-3 - 1e-5) * (1 + np.cos(np.pi * 40 / 90)),   # 40 of 90 decay steps
               "exponential": 1e-3 * 0.5 ** 2,                                        # 2 epochs after warm-up
               "constant": 1e-3}
    assert lr_at(50, cfg, 100, 20) == pytest.approx(by_hand[schedule])
    assert lr_at(400, cfg, 100, 20) == pytest.approx({"cosine": 1e-5, "exponential": 1e-5, "constant": 1e-3}[schedule])
