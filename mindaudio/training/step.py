"""One train step for CPU and Ascend alike: dynamic loss scaling, gradient all-reduce (data parallel), one
skip-or-update decision shared by every rank, global-norm clipping, and an optimizer update that is skipped when
the loss or a gradient is not finite.

The loss is per character: the mean over the batch of (CTC loss / target length). Its gradients have a global
norm of order 1 (measured: 0.8–8 on the demo, ~2 on the full network), whatever the utterance lengths and batch
size, so ``train.grad_clip`` is a threshold on that scale (see deepspeech2.yaml for the chosen value); recipes
with a per-utterance loss (deepspeech.pytorch's 400) have norms ~100× larger and their thresholds do not carry over.
"""
import os

import numpy as np
import mindspore as ms
from mindspore import amp, nn, ops

from mindaudio.models.deepspeech2 import CTCLossCell
from mindaudio.training.schedule import build_optimizer


def _square_sum(g):
    return ops.reduce_sum(ops.square(g.astype(ms.float32)))


def uses_overflow_register():
    """Whether ``amp.all_finite`` reads the card's overflow register (Ascend 910A; 910B in saturation mode) rather
    than the gradients' values."""
    if ms.get_context("device_target") != "Ascend":
        return False
    from mindspore.amp import _ascend_910a_target, _ascend_910b_target
    saturation = os.environ.get("MS_ASCEND_CHECK_OVERFLOW_MODE") == "SATURATION_MODE"
    return bool(_ascend_910a_target() or (_ascend_910b_target() and saturation))


# what TrainStep.window accumulates between two reads by the loop (one host-device sync per logging window)
WINDOW_FIELDS = ("steps", "updates", "loss_sum", "grad_norm_sum", "grad_norm_max", "clipped", "skipped", "no_data",
                 "consecutive_skips", "most_consecutive_skips")


class TrainStep(nn.Cell):
    """(feats, feat_lens, targets, target_lens) → (loss, grad_norm, finite, clipped, loss_scale).

    ``loss`` is the unscaled loss (averaged over ranks in data parallel), ``grad_norm`` the global norm of the
    averaged gradients before clipping, ``clipped`` whether clipping scaled them down. When ``finite`` is False
    nothing of the model changes on any rank: no weight, optimizer moment or step counter, and no BatchNorm moving
    statistic either (BatchNorm updates those in the forward pass, so they are saved before it and put back). Each
    rank's own verdict (``local_finite``) is all-reduced, because on Ascend 910A (and 910B in saturation mode)
    ``amp.all_finite`` reads the card's overflow register, which can differ between ranks whose gradients are
    bit-identical. A batch whose features are not finite on some rank (the loader's marker for "no readable audio")
    is skipped the same way, but is not an overflow: the loss scale stays as it is.

    The step also accumulates, on the device, what the loop logs (``window``, fields ``WINDOW_FIELDS``), so that
    the loop reads the device once per logging window instead of after every step.
    """

    def __init__(self, loss_cell, optimizer, train_cfg, world_size=1):
        super().__init__(auto_prefix=False)
        self.loss_cell = loss_cell
        self.optimizer = optimizer
        self.weights = optimizer.parameters
        self.grad_fn = ms.value_and_grad(self.scaled_loss, None, self.weights)
        self.scaler = amp.DynamicLossScaler(train_cfg.loss_scale, 2, train_cfg.loss_scale_window)
        self.distributed = world_size > 1
        if self.distributed:
            self.grad_reducer = nn.DistributedGradReducer(optimizer.parameters, mean=True, degree=world_size)
            self.all_reduce = ops.AllReduce()
            self.degree = float(world_size)
        self.max_norm = float(train_cfg.grad_clip)
        self.hyper_map = ops.HyperMap()
        stats = [p for p in loss_cell.get_parameters() if p.name.endswith(("moving_mean", "moving_variance"))]
        self.statistics = ms.ParameterTuple(stats)
        self.saved_statistics = ms.ParameterTuple(
            [ms.Parameter(p.value().copy(), name="saved." + p.name, requires_grad=False) for p in stats])
        self.window = ms.Parameter(ms.Tensor(np.zeros(len(WINDOW_FIELDS), np.float32)), name="window",
                                   requires_grad=False)
        # amp.all_finite reads the register and clears it after; clearing it before the forward pass too (as
        # MindSpore's TrainOneStepWithLossScaleCell does) keeps what ran between steps (validation) out of the verdict
        self.clear_register = uses_overflow_register()
        if self.clear_register:
            from mindspore.ops.operations.math_ops import NPUClearFloatStatusV2
            self.clear_status = NPUClearFloatStatusV2()
            self.status = ms.Tensor([0] * 8, ms.int32)

    def input_signature(self):
        return self.loss_cell.input_signature()

    def scaled_loss(self, feats, feat_lens, targets, target_lens):
        return self.scaler.scale(self.loss_cell(feats, feat_lens, targets, target_lens))

    def local_finite(self, loss, grads):
        """This rank's verdict (tests override it to fake one rank's overflow)."""
        return ops.logical_and(amp.all_finite(grads), ops.isfinite(loss))

    def everywhere(self, flag):
        """``flag`` (a bool scalar) true on every rank."""
        if self.distributed:
            failed = self.all_reduce(ops.logical_not(flag).astype(ms.float32).reshape(1))
            return (failed < 0.5).reshape(())
        return flag

    def construct(self, feats, feat_lens, targets, target_lens):
        if self.clear_register:
            feats = ops.depend(feats, self.clear_status(self.status))
        saved = self.hyper_map(ops.assign, self.saved_statistics, self.statistics)   # BatchNorm's, before it runs
        feats = ops.depend(feats, saved)
        has_data = self.everywhere(ops.isfinite(feats.sum()))
        scaled, grads = self.grad_fn(feats, feat_lens, targets, target_lens)
        if self.distributed:
            grads = self.grad_reducer(grads)
            scaled = self.all_reduce(scaled) / self.degree
        loss = self.scaler.unscale(scaled)
        grads = self.scaler.unscale(grads)
        finite = ops.logical_and(self.everywhere(self.local_finite(loss, grads)), has_data)
        grad_norm = ops.sqrt(ops.addn(self.hyper_map(_square_sum, grads)))
        clipped = grad_norm > self.max_norm
        factor = ops.minimum(self.max_norm / (grad_norm + 1e-6), 1.0)
        grads = self.hyper_map(ops.partial(ops.mul, factor), grads)
        if finite:
            loss = ops.depend(loss, self.optimizer(grads))
        else:
            loss = ops.depend(loss, self.hyper_map(ops.assign, self.statistics, self.saved_statistics))
        scale = self.scaler.scale_value.value()
        loss = ops.depend(loss, self.scaler.adjust(ops.logical_or(finite, ops.logical_not(has_data))))
        loss = ops.depend(loss, self._count(loss, grad_norm, finite, clipped, has_data))
        return loss, grad_norm, finite, clipped, scale

    def _count(self, loss, grad_norm, finite, clipped, has_data):
        """Add this step to ``window`` (see WINDOW_FIELDS)."""
        w = self.window
        ok = finite.astype(ms.float32)
        norm = ops.select(finite, grad_norm, ops.zeros_like(grad_norm))
        consecutive = (w[8] + 1.0) * (1.0 - ok)
        new = ops.stack([w[0] + 1.0, w[1] + ok, w[2] + ops.select(finite, loss, ops.zeros_like(loss)), w[3] + norm,
                         ops.maximum(w[4], norm), w[5] + ok * clipped.astype(ms.float32), w[6] + 1.0 - ok,
                         w[7] + 1.0 - has_data.astype(ms.float32), consecutive, ops.maximum(w[9], consecutive)])
        return ops.assign(self.window, new)

    def read_window(self):
        """The accumulated window as {field: value} (one read of the device), then restarted (the consecutive-skip
        count carries over: a run of skips may span windows)."""
        values = self.window.asnumpy().astype(float)
        fresh = np.zeros_like(values)
        fresh[8] = values[8]
        self.window.set_data(ms.Tensor(fresh.astype(np.float32)))
        return dict(zip(WINDOW_FIELDS, values.tolist()))


def build_train_step(cfg, network, total_steps, world_size=1, step_class=TrainStep, steps_per_epoch=1):
    """The train step of ``cfg`` for ``network``: CTC loss, optimizer with the schedule over ``total_steps``
    (``steps_per_epoch`` for the exponential schedule), gradient averaging over ``world_size`` ranks, compiled for
    dynamic shapes unless
    ``train.dynamic_shapes`` is false. Used by the training loop, the dry run, the benchmarks and the tests."""
    loss_cell = CTCLossCell(network, cfg.text.blank_index)
    optimizer = build_optimizer(network.trainable_params(), cfg.train, total_steps, steps_per_epoch)
    step = step_class(loss_cell, optimizer, cfg.train, world_size)
    if getattr(cfg.train, "dynamic_shapes", True):
        step.set_inputs(*step.input_signature())
    step.set_train(True)
    return step
