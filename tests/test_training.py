"""Train step, learning-rate schedule, checkpoints and exact resume after SIGKILL (CPU, small network)."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import mindspore as ms
from mindspore import nn

from mindaudio.config import Config, TrainConfig
from mindaudio import checkpoint
from mindaudio.training.schedule import WarmupSchedule, build_optimizer, lr_at
from mindaudio.training.step import TrainStep
from tests.conftest import TINY_MODEL

ms.set_device("CPU")
ms.set_context(mode=ms.GRAPH_MODE)
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class LinearLoss(nn.Cell):
    """loss = Σ w·c: the gradient is the constant c, so Adam's (bias-corrected) update is exactly lr · sign(c)."""

    def __init__(self):
        super().__init__()
        self.w = ms.Parameter(ms.Tensor(np.zeros(4, np.float32)), name="w")

    def construct(self, c, unused1, unused2, unused3):
        return (self.w * c).sum()


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


def test_optimizer_applies_the_scheduled_lr():
    cfg = TrainConfig(lr=0.1, warmup_steps=3, final_lr_ratio=0.1, adam_eps=1e-12, grad_clip=1e6)
    net = LinearLoss()
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
    net = LinearLoss()
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
    net = LinearLoss()
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


def test_checkpoint_round_trip(tmp_path):
    cfg = TrainConfig(lr=0.1, warmup_steps=0)
    net = LinearLoss()
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


def _train_cmd(demo_data, out_dir, *extra):
    return [sys.executable, os.path.join(REPO, "train.py"), "-c", os.path.join(REPO, "examples", "demo", "demo.yaml"),
            "-o", f"data.train_manifest={demo_data['train_small']}", "-o", f"data.val_manifest={demo_data['val_small']}",
            "-o", f"train.output_dir={out_dir}", *[a for o in TINY_MODEL for a in ("-o", o)],
            "-o", "train.epochs=2", "-o", "train.batch_size=4",
            "-o", "train.log_every=2", "-o", "train.ckpt_every=3", "-o", "train.keep_checkpoints=2",
            "-o", "data.num_workers=1", *extra]


def _final_weights(run_dir):
    ckpts = sorted(f for f in os.listdir(os.path.join(run_dir, "checkpoints")) if f.startswith("step_"))
    params, meta = checkpoint.load(os.path.join(run_dir, "checkpoints", ckpts[-1]))
    return {k: v.asnumpy() for k, v in params.items()}, meta


@pytest.fixture(scope="module")
def uninterrupted(demo_data, tmp_path_factory):
    """The reference run: 2 epochs of 12 steps, validated at steps 12 and 24."""
    full = tmp_path_factory.mktemp("full")
    subprocess.run(_train_cmd(demo_data, full), check=True, capture_output=True)
    return full


def test_sigkill_then_resume_equals_uninterrupted_run(demo_data, uninterrupted, tmp_path):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    full = uninterrupted
    records = [json.loads(line) for line in open(full / "metrics.jsonl")]
    train_records = [r for r in records if "loss" in r]
    val_records = [r for r in records if "val_wer" in r]
    assert len(val_records) == 2 and train_records[-1]["step"] == 24     # 48 utterances / 4 × 2 epochs
    for key in ("step", "epoch", "loss", "lr", "grad_norm", "step_time", "utterances_per_s", "audio_s_per_s"):
        assert key in train_records[0]
    for key in ("val_loss", "val_wer", "val_cer"):
        assert np.isfinite(val_records[-1][key])
    assert os.path.exists(full / "config.yaml") and os.path.exists(full / "checkpoints" / "best.ckpt")
    # the newest 2 (train.keep_checkpoints) and those of the best validations (train.keep_best): epoch ends 12, 24
    assert sorted(f for f in os.listdir(full / "checkpoints") if f.startswith("step_")) == \
        ["step_000000012.ckpt", "step_000000021.ckpt", "step_000000024.ckpt"]

    killed = tmp_path / "killed"
    proc = subprocess.Popen(_train_cmd(demo_data, killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=env)
    ckpts = killed / "checkpoints"                                 # kill after step 15, mid-epoch 1 (12 steps/epoch)
    deadline = time.time() + 300
    while not (ckpts.exists() and any(f.name >= "step_000000015" for f in ckpts.glob("step_*.ckpt"))) \
            and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before the checkpoint this test kills after"
    assert not (killed / "checkpoints" / "step_000000024.ckpt").exists()
    subprocess.run(_train_cmd(demo_data, killed, "-o", "train.resume=auto"), check=True, capture_output=True,
                   env=env)
    want, want_meta = _final_weights(full)
    got, got_meta = _final_weights(killed)
    assert got_meta["global_step"] == want_meta["global_step"] == 24
    assert set(got) == set(want)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=0, atol=1e-6, err_msg=name)
    resumed = [json.loads(line) for line in open(killed / "metrics.jsonl")]
    assert [r["step"] for r in resumed if "loss" in r] == [r["step"] for r in train_records]


def test_a_validation_killed_before_it_ran_is_run_on_resume(demo_data, uninterrupted, tmp_path):
    """SIGKILL right after the checkpoint that ends epoch 1, before its validation: the resumed run validates that
    checkpoint first, so metrics.jsonl and best.ckpt are those of the uninterrupted run."""
    run = tmp_path / "run"
    proc = subprocess.run(_train_cmd(demo_data, run), capture_output=True,
                          env=dict(os.environ, MINDAUDIO_TEST_KILL_BEFORE_VALIDATION="1"))
    assert proc.returncode == -signal.SIGKILL
    assert (run / "checkpoints" / "step_000000012.ckpt").exists()
    assert not any("val_wer" in json.loads(line) for line in open(run / "metrics.jsonl"))
    resumed = subprocess.run(_train_cmd(demo_data, run, "-o", "train.resume=auto", "-o", "train.epochs=1"),
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "ended epoch 0 before its validation: validating now" in resumed.stderr
    got = [json.loads(line) for line in open(run / "metrics.jsonl")]
    want = [json.loads(line) for line in open(uninterrupted / "metrics.jsonl")]
    strip = ("train_s", "step_time", "utterances_per_s", "audio_s_per_s")
    assert [{k: v for k, v in r.items() if k not in strip} for r in got] == \
        [{k: v for k, v in r.items() if k not in strip} for r in want if r["step"] <= 12]
    best, meta = checkpoint.load(str(run / "checkpoints" / "best.ckpt"))
    assert meta["global_step"] == 12


def test_fresh_run_refuses_a_run_directory_with_checkpoints(tmp_path):
    from mindaudio.checkpoint import CheckpointManager
    from mindaudio.training.loop import find_resume
    cfg = Config()
    manager = CheckpointManager(str(tmp_path), keep=2)
    assert find_resume(cfg, manager) is None
    open(os.path.join(manager.dir, "step_000000003.ckpt"), "wb").close()
    with pytest.raises(RuntimeError, match="train.resume=auto"):
        find_resume(cfg, manager)


def test_mid_epoch_resume_refuses_a_different_batch_order():
    from mindaudio.config import to_dict
    from mindaudio.training.loop import check_same_data_order
    saved = Config()
    meta = {"batch_in_epoch": 3, "world_size": 1, "config": json.dumps(to_dict(saved))}
    check_same_data_order(meta, Config(), 1, "x.ckpt")                       # same settings: fine
    changed = Config()
    changed.train.batch_size = 8
    with pytest.raises(RuntimeError, match="train.batch_size: 64 → 8"):
        check_same_data_order(meta, changed, 1, "x.ckpt")
    with pytest.raises(RuntimeError, match="ranks: 1 → 2"):
        check_same_data_order(meta, Config(), 2, "x.ckpt")
    check_same_data_order(dict(meta, batch_in_epoch=0), changed, 2, "x.ckpt")  # epoch boundary: a new plan is fine


def test_feature_workers_never_exceed_the_cores(caplog):
    import logging
    from mindaudio.training.loop import usable_workers
    cores = len(os.sched_getaffinity(0))
    with caplog.at_level(logging.INFO):
        assert usable_workers(cores + 6) == cores
    assert f"data.num_workers={cores + 6} but this machine has {cores} core(s)" in caplog.text
    assert usable_workers(1) == 1


def test_average_checkpoints_of_the_best_validations(tmp_path):
    """scripts/average_checkpoints.py --best 2: the mean of the two best validated checkpoints, BatchNorm
    statistics included, optimizer state left out, written atomically, loadable by the inference layer."""
    from mindaudio.config import to_dict
    from mindaudio.inference import config_for, load_network
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
                           "--best", "2", "-o", str(out)], capture_output=True, text=True)
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
                               "--best", "4", "-o", str(out)], capture_output=True, text=True)
    assert too_many.returncode == 1 and "only 3 of the 3 validated checkpoints" in too_many.stderr


def test_dry_run_with_static_shapes(demo_data, tmp_path):
    """train.py --dry-run with train.dynamic_shapes=false: one graph for the largest batch shape of the plan and one
    for the smallest, both padded to data.static_pad_multiple; one JSON line; nothing written."""
    out_dir = tmp_path / "never_written"
    proc = subprocess.run(_train_cmd(demo_data, out_dir, "-o", "train.dynamic_shapes=false", "-o",
                                     f"data.train_manifest={demo_data['val_small']}", "--dry-run"),   # 0.6-5 s long
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["largest_batch"][1] > result["smallest_batch"][1]
    assert result["dynamic_shapes"] is False and result["graphs_compiled"] == 2 and result["ranks"] == 1
    assert result["largest_batch"][1] % 256 == 0 and result["smallest_batch"][1] % 256 == 0
    assert result["shapes_from"] == "manifest" and result["finite_steps"] == 3
    assert set(result) >= {"compile_s", "step_s", "peak_memory_mb", "estimated_memory_mb"}
    assert not out_dir.exists()
