"""One train step for CPU and Ascend alike: dynamic loss scaling, gradient all-reduce (data parallel),
global-norm clipping, and an optimizer update that is skipped when the loss or a gradient is not finite."""
import mindspore as ms
from mindspore import amp, nn, ops


def _square_sum(g):
    return ops.reduce_sum(ops.square(g.astype(ms.float32)))


class TrainStep(nn.Cell):
    """(feats, feat_lens, targets, target_lens) → (loss, grad_norm, finite, loss_scale).

    ``loss`` is the unscaled loss (averaged over ranks in data parallel); when ``finite`` is False no weight, moment
    or step counter changed, on any rank.
    """

    def __init__(self, loss_cell, optimizer, train_cfg, grad_reducer=None):
        super().__init__(auto_prefix=False)
        self.loss_cell = loss_cell
        self.optimizer = optimizer
        self.weights = optimizer.parameters
        self.grad_fn = ms.value_and_grad(self.scaled_loss, None, self.weights)
        self.scaler = amp.DynamicLossScaler(train_cfg.loss_scale, 2, train_cfg.loss_scale_window)
        self.grad_reducer = grad_reducer
        self.reduce = grad_reducer is not None
        if self.reduce:  # every rank must see the same loss, or one could skip a step the others take
            self.loss_sum = ops.AllReduce()
            from mindspore.communication import get_group_size
            self.degree = float(get_group_size())
        self.max_norm = float(train_cfg.grad_clip)
        self.hyper_map = ops.HyperMap()

    def scaled_loss(self, feats, feat_lens, targets, target_lens):
        return self.scaler.scale(self.loss_cell(feats, feat_lens, targets, target_lens))

    def construct(self, feats, feat_lens, targets, target_lens):
        scaled, grads = self.grad_fn(feats, feat_lens, targets, target_lens)
        if self.reduce:
            grads = self.grad_reducer(grads)
            scaled = self.loss_sum(scaled) / self.degree
        loss = self.scaler.unscale(scaled)
        grads = self.scaler.unscale(grads)
        finite = ops.logical_and(amp.all_finite(grads), ops.isfinite(loss))
        grad_norm = ops.sqrt(ops.addn(self.hyper_map(_square_sum, grads)))
        factor = ops.minimum(self.max_norm / (grad_norm + 1e-6), 1.0)
        grads = self.hyper_map(ops.partial(ops.mul, factor), grads)
        if finite:
            loss = ops.depend(loss, self.optimizer(grads))
        scale = self.scaler.scale_value.value()
        loss = ops.depend(loss, self.scaler.adjust(finite))
        return loss, grad_norm, finite, scale
