"""One train step for CPU and Ascend alike: dynamic loss scaling, gradient all-reduce (data parallel), one
skip-or-update decision shared by every rank, global-norm clipping, and an optimizer update that is skipped when
the loss or a gradient is not finite.

The loss is per character: the mean over the batch of (CTC loss / target length). Its gradients have a global
norm of order 1 (measured: 0.8–8 on the demo, ~2 on the full network), whatever the utterance lengths and batch
size, so ``train.grad_clip`` is a threshold on that scale (see deepspeech2.yaml for the chosen value); recipes
with a per-utterance loss (deepspeech.pytorch's 400) have norms ~100× larger and their thresholds do not carry over.
"""
import os

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


class TrainStep(nn.Cell):
    """(feats, feat_lens, targets, target_lens) → (loss, grad_norm, finite, clipped, loss_scale).

    ``loss`` is the unscaled loss (averaged over ranks in data parallel), ``grad_norm`` the global norm of the
    averaged gradients before clipping, ``clipped`` whether clipping scaled them down. When ``finite`` is False no
    weight, moment or step counter changed, on any rank: each rank's own verdict (``local_finite``) is all-reduced,
    because on Ascend 910A (and 910B in saturation mode) ``amp.all_finite`` reads the card's overflow register,
    which can differ between ranks whose gradients are bit-identical.
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

    def construct(self, feats, feat_lens, targets, target_lens):
        if self.clear_register:
            feats = ops.depend(feats, self.clear_status(self.status))
        scaled, grads = self.grad_fn(feats, feat_lens, targets, target_lens)
        if self.distributed:
            grads = self.grad_reducer(grads)
            scaled = self.all_reduce(scaled) / self.degree
        loss = self.scaler.unscale(scaled)
        grads = self.scaler.unscale(grads)
        finite = self.local_finite(loss, grads)
        if self.distributed:            # any rank non-finite ⇒ every rank skips and moves the loss scale alike
            bad_ranks = self.all_reduce(ops.logical_not(finite).astype(ms.float32).reshape(1))
            finite = (bad_ranks < 0.5).reshape(())
        grad_norm = ops.sqrt(ops.addn(self.hyper_map(_square_sum, grads)))
        clipped = grad_norm > self.max_norm
        factor = ops.minimum(self.max_norm / (grad_norm + 1e-6), 1.0)
        grads = self.hyper_map(ops.partial(ops.mul, factor), grads)
        if finite:
            loss = ops.depend(loss, self.optimizer(grads))
        scale = self.scaler.scale_value.value()
        loss = ops.depend(loss, self.scaler.adjust(finite))
        return loss, grad_norm, finite, clipped, scale


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
