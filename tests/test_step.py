"""The train step: the scheduled learning rate reaches the optimizer, clipping, and skipped non-finite steps."""
import numpy as np
import pytest

import mindspore as ms
from mindspore import nn

from mindaudio.config import Config, TrainConfig
from mindaudio.models.deepspeech2 import build_model
from mindaudio.training.schedule import build_optimizer, lr_at
from mindaudio.training.step import TrainStep, build_train_step
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
    """An overflow (finite input, gradients beyond float32) skips the update and halves the loss scale; a batch
    without data (non-finite features: the loader's marker for "no readable audio") skips it and keeps the scale.
    Neither moves the weights or the schedule; the device-side window counts both exactly."""
    cfg = TrainConfig(lr=0.1, warmup_steps=0, loss_scale=1024.0)
    net = linear_loss_cell()
    opt = build_optimizer(net.trainable_params(), cfg, total_steps=10)
    step = TrainStep(net, opt, cfg)
    good = ms.Tensor(np.ones(4, np.float32))
    step(good, good, good, good)
    w, applied = net.w.asnumpy().copy(), int(opt.global_step.asnumpy().reshape(-1)[0])
    for bad, scale_after in ((np.array([1.0, np.nan, 1.0, np.inf]), 1024.0),    # no data: the scale stays
                             (np.array([1.0, 3e38, 1.0, 1.0]), 512.0)):          # × 1024 overflows: halved
        bad = ms.Tensor(bad.astype(np.float32))
        _, _, finite, _, _ = step(bad, bad, bad, bad)
        assert not bool(finite.asnumpy())
        np.testing.assert_array_equal(net.w.asnumpy(), w)                        # no update
        assert int(opt.global_step.asnumpy().reshape(-1)[0]) == applied           # the schedule does not advance
        assert float(step.scaler.scale_value.asnumpy()) == scale_after
    _, _, finite, _, _ = step(good, good, good, good)
    window = step.read_window()
    assert bool(finite.asnumpy()) and window["steps"] == 4 and window["updates"] == 2
    assert window["skipped"] == 2 and window["no_data"] == 1 and window["most_consecutive_skips"] == 2
    assert window["consecutive_skips"] == 0 and step.read_window()["steps"] == 0      # read once, then restarted


def tiny_network_step(step_class=TrainStep):
    cfg = Config()
    cfg.train.device_target = "CPU"
    cfg.model.conv_channels, cfg.model.rnn_hidden, cfg.model.rnn_layers, cfg.model.conv_kernel = 4, 16, 1, [7, 3]
    net = build_model(cfg)
    return net, build_train_step(cfg, net, total_steps=10, step_class=step_class)


def batch(rng, fill=None):
    x = rng.standard_normal((2, 1, 161, 40)).astype(np.float32)
    if fill is not None:
        x[:] = fill
    return [ms.Tensor(a) for a in (x, np.full(2, 40, np.int32), rng.integers(1, 29, (2, 5)).astype(np.int32),
                                   np.full(2, 5, np.int32))]


class AlwaysOverflows(TrainStep):
    """A step whose verdict is non-finite whatever the data (an fp16 overflow somewhere on some card)."""

    def local_finite(self, loss, grads):
        return ms.ops.logical_and(ms.ops.isfinite(loss), ms.Tensor(False))


@pytest.mark.parametrize("step_class, fill", [(TrainStep, np.nan), pytest.param(AlwaysOverflows, None, marks=pytest.mark.slow)],
                         ids=["nan", "verdict"])
def test_a_skipped_step_leaves_every_parameter_and_buffer_bit_identical(step_class, fill):
    """BatchNorm updates its moving statistics in the forward pass, before any verdict: a skipped step must put them
    back, bit for bit, with everything else."""
    rng = np.random.default_rng(0)
    net, step = tiny_network_step(step_class)
    if step_class is TrainStep:
        step(*batch(rng))                                          # a normal step first: statistics away from 0/1
    before = {n: p.asnumpy().copy() for n, p in net.parameters_and_names()}
    assert {"conv1.bn.moving_mean", "conv2.bn.moving_variance"} <= set(before)
    _, _, finite, _, _ = step(*batch(rng, fill))
    assert not bool(finite.asnumpy())
    for name, value in net.parameters_and_names():
        np.testing.assert_array_equal(value.asnumpy(), before[name], err_msg=name)
    if step_class is TrainStep:                                    # and a good step still moves them
        step(*batch(rng))
        assert not np.array_equal(net.conv1.bn.moving_mean.asnumpy(), before["conv1.bn.moving_mean"])
