"""The train step: the scheduled learning rate reaches the optimizer, clipping, and skipped non-finite steps."""
import numpy as np
import pytest

import mindspore as ms
from mindspore import nn

from mindaudio.config import TrainConfig
from mindaudio.training.schedule import build_optimizer, lr_at
from mindaudio.training.step import TrainStep
from tests.helpers import linear_loss_cell

pytestmark = pytest.mark.usefixtures("cpu")


def test_optimizer_applies_the_scheduled_lr():
    cfg = TrainConfig(lr=0.1, warmup_steps=3, final_lr_ratio=0.1, adam_eps=1e-12, grad_clip=1e6)
    net = linear_loss_cell()
    opt = build_optimizer(net.trainable_params(), cfg, total_steps=8)
    step = TrainStep(net, opt, cfg)
    c = ms.Tensor(np.array([1.0, -2.0, 3.0, -0.5], np.float32))
    for k in range(8):
        before = net.w.asnumpy().copy()
        loss, norm, finite, _, _ = step(c, c, c, c)
        assert bool(finite.asnumpy())
        update = net.w.asnumpy() - before
        np.testing.assert_allclose(update, -lr_at(k, cfg, 8) * np.sign(c.asnumpy()), rtol=1e-4)
    assert float(norm.asnumpy()) == pytest.approx(np.linalg.norm(c.asnumpy()), rel=1e-5)


def test_gradient_clipping():
    cfg = TrainConfig(lr=0.1, warmup_steps=0, grad_clip=1.0, adam_eps=1e-12)
    net = linear_loss_cell()
    opt = nn.SGD(net.trainable_params(), learning_rate=1.0)
    step = TrainStep(net, opt, cfg)
    c = np.array([3.0, 4.0, 0.0, 0.0], np.float32)               # norm 5 → clipped to norm 1
    _, norm, _, clipped, _ = step(*[ms.Tensor(c)] * 4)
    assert float(norm.asnumpy()) == pytest.approx(5.0) and bool(clipped.asnumpy())    # the pre-clip norm
    np.testing.assert_allclose(net.w.asnumpy(), -c / 5.0, rtol=1e-4)              # the update has norm 1 (lr 1)
    small = c / 10                                                # norm 0.5: left alone, and not counted
    before = net.w.asnumpy().copy()
    _, norm, _, clipped, _ = step(*[ms.Tensor(small)] * 4)
    assert float(norm.asnumpy()) == pytest.approx(0.5) and not bool(clipped.asnumpy())
    np.testing.assert_allclose(net.w.asnumpy() - before, -small, rtol=1e-5)


def test_non_finite_step_is_skipped():
    cfg = TrainConfig(lr=0.1, warmup_steps=0, loss_scale=1024.0)
    net = linear_loss_cell()
    opt = build_optimizer(net.trainable_params(), cfg, total_steps=10)
    step = TrainStep(net, opt, cfg)
    good = ms.Tensor(np.ones(4, np.float32))
    step(good, good, good, good)
    w, applied = net.w.asnumpy().copy(), int(opt.global_step.asnumpy().reshape(-1)[0])
    bad = ms.Tensor(np.array([1.0, np.nan, 1.0, np.inf], np.float32))
    loss, _, finite, _, scale = step(bad, bad, bad, bad)
    assert not bool(finite.asnumpy())
    np.testing.assert_array_equal(net.w.asnumpy(), w)              # no update
    assert int(opt.global_step.asnumpy().reshape(-1)[0]) == applied  # the schedule does not advance
    _, _, finite, _, scale = step(good, good, good, good)
    assert bool(finite.asnumpy()) and float(scale.asnumpy()) == 512.0  # loss scale halved after the overflow
