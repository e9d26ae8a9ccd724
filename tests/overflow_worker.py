"""Run under ``mpirun -n 2`` by test_distributed.py: a tiny DeepSpeech2 takes three data-parallel train steps, and
rank 1 alone declares step 2 non-finite, as one Ascend 910A card's overflow register can while the all-reduced
gradients are identical everywhere. Each rank writes what it saw to ``OUT/rank<r>.json`` and its weights after
each step to ``OUT/rank<r>.npz``.

    mpirun -n 2 python tests/overflow_worker.py OUT
"""
import json
import os
import sys

import numpy as np

from mindaudio.training import launch

if launch.prepare("CPU", sys.argv[1]) == "scheduler":
    launch.run_scheduler()

import mindspore as ms  # noqa: E402
from mindspore import amp, ops  # noqa: E402

from mindaudio.config import Config  # noqa: E402
from mindaudio.device import set_device  # noqa: E402
from mindaudio.models.deepspeech2 import build_model  # noqa: E402
from mindaudio.training import collectives  # noqa: E402
from mindaudio.training.step import TrainStep, build_train_step  # noqa: E402


class ForcedOverflowStep(TrainStep):
    """A TrainStep whose local verdict can be forced to "non-finite" through a flag parameter."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.force = ms.Parameter(ms.Tensor(False), name="force_overflow", requires_grad=False)

    def local_finite(self, loss, grads):
        finite = ops.logical_and(amp.all_finite(grads), ops.isfinite(loss))
        return ops.logical_and(finite, ops.logical_not(self.force))


def main(out):
    set_device("CPU")
    ms.set_seed(0)
    rank, size = collectives.setup()
    cfg = Config()
    cfg.train.device_target = "CPU"
    cfg.model.conv_channels, cfg.model.rnn_hidden, cfg.model.rnn_layers, cfg.model.conv_kernel = 2, 8, 1, [7, 3]
    cfg.train.warmup_steps, cfg.train.lr = 0, 1e-2
    net = build_model(cfg)
    step = build_train_step(cfg, net, total_steps=10, world_size=size, step_class=ForcedOverflowStep)
    state = {n: p for n, p in net.parameters_and_names()}
    collectives.sync_from_rank0(state, [])
    rng = np.random.default_rng(rank)                         # each rank its own data, as in data parallel
    seen, weights = [], {}
    for i in range(3):
        step.force.set_data(ms.Tensor(rank == 1 and i == 1))
        x = rng.standard_normal((2, 1, 161, 40)).astype(np.float32)
        batch = [ms.Tensor(a) for a in (x, np.full(2, 40, np.int32), rng.integers(1, 29, (2, 5)).astype(np.int32),
                                        np.full(2, 5, np.int32))]
        loss, _, finite, _, scale = step(*batch)
        seen.append({"finite": bool(finite.asnumpy()), "loss_scale": float(scale.asnumpy()),
                     "next_scale": float(step.scaler.scale_value.asnumpy()),
                     "applied_updates": int(step.optimizer.global_step.asnumpy().reshape(-1)[0])})
        for name, p in net.parameters_and_names():
            weights[f"{i}/{name}"] = p.asnumpy().copy()   # asnumpy() may share the tensor's memory
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump(seen, f)
    np.savez(os.path.join(out, f"rank{rank}.npz"), **weights)


if __name__ == "__main__":
    main(sys.argv[1])
