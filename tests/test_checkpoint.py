"""Checkpoints: exact round trip of the training state, averaging, and a full disk during a save."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import mindspore as ms

from mindaudio import checkpoint
from mindaudio.config import Config, TrainConfig
from mindaudio.training.schedule import build_optimizer
from mindaudio.training.step import TrainStep
from tests.helpers import REPO, linear_loss_cell

pytestmark = pytest.mark.usefixtures("cpu")


def test_checkpoint_round_trip(tmp_path):
    cfg = TrainConfig(lr=0.1, warmup_steps=0)
    net = linear_loss_cell()
    opt = build_optimizer(net.trainable_params(), cfg, total_steps=10)
    step = TrainStep(net, opt, cfg)
    c = ms.Tensor(np.arange(4, dtype=np.float32) + 1)
    for _ in range(3):
        step(c, c, c, c)
    state = checkpoint.training_state(net, opt, step.scaler)
    assert {"w", "optimizer.global_step", "optimizer.moment1.w", "scaler.scale_value"} <= set(state)
    path = str(tmp_path / "a.ckpt")
    checkpoint.save(path, state, {"epoch": 2, "batch_in_epoch": 5, "global_step": 3, "best_wer": 12.5,
                                  "config": "{}"})
    assert os.listdir(tmp_path) == ["a.ckpt"]                      # no temporary left behind
    saved = {k: v.asnumpy().copy() for k, v in state.items()}
    step(c, c, c, c)
    params, meta = checkpoint.load(path)
    checkpoint.restore(state, params, path)
    assert meta == {"epoch": 2, "batch_in_epoch": 5, "global_step": 3, "best_wer": 12.5, "config": "{}"}
    for k, v in state.items():
        np.testing.assert_array_equal(v.asnumpy(), saved[k])
    with open(tmp_path / "broken.ckpt", "wb") as f:
        f.write(b"not a checkpoint")
    with pytest.raises(RuntimeError, match="broken.ckpt"):
        checkpoint.load(str(tmp_path / "broken.ckpt"))


def test_average_checkpoints_of_the_best_validations(tmp_path):
    """scripts/average_checkpoints.py --best 2: the mean of the two best validated checkpoints, BatchNorm
    statistics included, optimizer state left out, written atomically, loadable by the inference layer."""
    from mindaudio.config import to_dict
    from mindaudio.inference.network import config_for, load_network
    from mindaudio.models.deepspeech2 import build_model
    cfg = Config()
    cfg.train.device_target = "CPU"
    cfg.model.conv_channels, cfg.model.rnn_hidden, cfg.model.rnn_layers = 2, 8, 1
    net = build_model(cfg)
    run = tmp_path / "run"
    manager = checkpoint.CheckpointManager(str(run), keep=5)
    rng = np.random.default_rng(0)
    saved = {}
    for step, wer in [(10, 40.0), (20, 30.0), (30, 35.0)]:
        state = {n: ms.Tensor(rng.standard_normal(p.shape).astype(np.float32)) for n, p in net.parameters_and_names()}
        state["optimizer.moment1.fc.weight"] = ms.Tensor(np.ones((29, 8), np.float32))
        manager.save(state, {"epoch": step // 10, "batch_in_epoch": 0, "global_step": step, "best_wer": wer,
                             "world_size": 1, "config": json.dumps(to_dict(cfg))})
        saved[step] = {n: v.asnumpy() for n, v in state.items()}
    with open(run / "metrics.jsonl", "w") as f:
        for step, wer in [(10, 40.0), (20, 30.0), (30, 35.0)]:
            f.write(json.dumps({"step": step, "epoch": step // 10 - 1, "val_wer": wer}) + "\n")
    out = tmp_path / "avg.ckpt"
    proc = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "average_checkpoints.py"), str(run),
                           "--best", "2", "--output", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    params, meta = checkpoint.load(str(out))
    assert not any(n.startswith("optimizer.") for n in params) and "conv1.bn.moving_mean" in params
    for name, value in params.items():                            # steps 20 and 30 are the two best
        np.testing.assert_allclose(value.asnumpy(), (saved[20][name] + saved[30][name]) / 2, rtol=1e-6, atol=1e-7)
    assert sorted(os.path.basename(p) for p in json.loads(meta["averaged_from"])) == \
        ["step_000000020.ckpt", "step_000000030.ckpt"]
    assert os.listdir(tmp_path) == ["run", "avg.ckpt"] or sorted(os.listdir(tmp_path)) == ["avg.ckpt", "run"]
    load_network(config_for(str(out)), str(out))                  # eval.py can take it like any checkpoint
    too_many = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "average_checkpoints.py"), str(run),
                               "--best", "4", "--output", str(out)], capture_output=True, text=True)
    assert too_many.returncode == 1 and "only 3 of the 3 validated checkpoints" in too_many.stderr
