"""Checkpoints: exact round trip of the training state, averaging, and a full disk during a save."""
import json
import os
import shutil
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
    validations = [(10, 100.0, 40.0), (20, 102.0, 30.0), (30, 101.0, 35.0)]    # (step, WER, CER): WER saturated
    for step, wer, _ in validations:
        state = {n: ms.Tensor(rng.standard_normal(p.shape).astype(np.float32)) for n, p in net.parameters_and_names()}
        state["optimizer.moment1.fc.weight"] = ms.Tensor(np.ones((29, 8), np.float32))
        manager.save(state, {"epoch": step // 10, "batch_in_epoch": 0, "global_step": step, "best_wer": wer,
                             "world_size": 1, "config": json.dumps(to_dict(cfg))})
        saved[step] = {n: v.asnumpy() for n, v in state.items()}
    with open(run / "metrics.jsonl", "w") as f:
        for step, wer, cer in validations:
            f.write(json.dumps({"step": step, "epoch": step // 10 - 1, "val_wer": wer, "val_cer": cer}) + "\n")
    out = tmp_path / "avg.ckpt"
    proc = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "average_checkpoints.py"), str(run),
                           "--best", "2", "--output", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    params, meta = checkpoint.load(str(out))
    assert not any(n.startswith("optimizer.") for n in params) and "conv1.bn.moving_mean" in params
    for name, value in params.items():                # by CER, steps 20 and 30 are the two best (by WER: 10 and 30)
        np.testing.assert_allclose(value.asnumpy(), (saved[20][name] + saved[30][name]) / 2, rtol=1e-6, atol=1e-7)
    assert sorted(os.path.basename(p) for p in json.loads(meta["averaged_from"])) == \
        ["step_000000020.ckpt", "step_000000030.ckpt"]
    assert os.listdir(tmp_path) == ["run", "avg.ckpt"] or sorted(os.listdir(tmp_path)) == ["avg.ckpt", "run"]
    load_network(config_for(str(out)), str(out))                  # eval.py can take it like any checkpoint
    too_many = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "average_checkpoints.py"), str(run),
                               "--best", "4", "--output", str(out)], capture_output=True, text=True)
    assert too_many.returncode == 1 and "only 3 of the 3 validated checkpoints" in too_many.stderr


def flip_a_byte(path, position=0.5):
    """Copy of the test's idea of silent corruption: one bit of one byte changed in place."""
    data = bytearray(open(path, "rb").read())
    data[int(len(data) * position)] ^= 0x10
    os.chmod(path, 0o644)
    open(path, "wb").write(bytes(data))


def test_a_corrupted_checkpoint_is_refused_and_resume_takes_the_previous(tmp_path, caplog):
    """Every checkpoint carries a checksum verified before anything parses it: one flipped byte anywhere is refused
    (MindSpore's own parser could crash the process on some), and resume=auto falls back to the previous one."""
    manager = checkpoint.CheckpointManager(str(tmp_path), keep=3)
    rng = np.random.default_rng(0)
    states = {step: {"w": ms.Tensor(rng.standard_normal(300).astype(np.float32))} for step in (1, 2)}
    paths = {step: manager.save(state, {"global_step": step, "config": "{}"}) for step, state in states.items()}
    size = os.path.getsize(paths[2])
    for position in (0.0, 0.3, 0.5, 0.99, (size - 1) / size):   # header, data, trailer
        broken = str(tmp_path / "broken.ckpt")
        shutil.copy(paths[2], broken)
        flip_a_byte(broken, position)
        with pytest.raises(checkpoint.CheckpointError, match="is corrupted: its checksum"):
            checkpoint.load(broken)
        with pytest.raises(checkpoint.CheckpointError, match="is corrupted"):
            checkpoint.stored_config(broken)
        os.remove(broken)
    flip_a_byte(paths[2])
    path, params, meta = manager.load_latest()
    assert path == paths[1] and meta["global_step"] == 1 and "is corrupted" in caplog.text
    np.testing.assert_array_equal(params["w"].asnumpy(), states[1]["w"].asnumpy())
