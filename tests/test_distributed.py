"""Data-parallel training on CPU, 2 ranks: mpirun (bridged to MindSpore's dynamic cluster) and msrun.

The tiny network of test_training.py on the 48-utterance manifest, 4 utterances per rank and step, 2 epochs:
6 steps per epoch on each rank (48 / (4 · 2)) instead of 12 for one process. SpecAugment is off (its masks are
drawn per rank) so that runs can be compared exactly.

What "equal to a single process" means here. Each rank's BatchNorm normalises with its own shard's batch
statistics, so one process training on the union of the two shards is a different computation (combined
statistics, and padding to the longer shard). The fair reference is the data-parallel step itself computed in one
process: per step, the gradients of shard 0 and of shard 1 each computed alone (own statistics, own padding,
the same loss scale), averaged as ``nn.DistributedGradReducer(mean=True)`` does, then clipped and applied once.
The two shards of a step differ in size by at most one utterance (here both hold 4), so this mean of per-shard
means is also the mean over the step's utterances. BatchNorm's moving statistics are per rank (not synchronised,
only rank 0's are ever used: validation and checkpoints are rank 0's); they are left out of the rank-to-rank
comparison and of the reference one.

Test-only hooks (see mindaudio/distributed.py): MINDAUDIO_TEST_DUMP_DIR (each rank dumps its state at start and
end), MINDAUDIO_TEST_KILL_AT=RANK:STEP (that rank SIGKILLs itself after that step).
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

import mindspore as ms
from mindspore import amp, ops

from mindaudio.config import load_config
from mindaudio import checkpoint
from mindaudio.data.dataset import BatchSource, batch_plan, load_utterances
from mindaudio.data.manifest import read_manifest
from mindaudio.models.deepspeech2 import build_model
from mindaudio.text import Labels
from mindaudio.training.step import TrainStep, _square_sum, build_train_step

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(REPO, "examples", "demo", "demo.yaml")
STEPS_PER_EPOCH, EPOCHS = 6, 2                      # ceil(48 / (4 · 2)) steps per epoch on each of 2 ranks
BN_MOVING = ("conv1.bn.moving_mean", "conv1.bn.moving_variance", "conv2.bn.moving_mean", "conv2.bn.moving_variance")
MPIRUN = ["mpirun", "-n", "2", "--bind-to", "none", "--oversubscribe"] + \
    (["--allow-run-as-root"] if os.geteuid() == 0 else [])

pytestmark = pytest.mark.skipif(not (shutil.which("mpirun") and shutil.which("msrun")),
                                reason="needs OpenMPI's mpirun and MindSpore's msrun")


def _overrides(demo_data, out_dir):
    return [f"data.train_manifest={demo_data['train_small']}", f"data.val_manifest={demo_data['val']}",
            f"train.output_dir={out_dir}", "model.conv_channels=4", "model.rnn_hidden=16", "model.rnn_layers=1",
            f"train.epochs={EPOCHS}", "train.batch_size=4", "train.log_every=2", "train.ckpt_every=2",
            "train.keep_checkpoints=2", "data.num_workers=1", "augment.enabled=false", "train.device_target=CPU"]


def _train_args(demo_data, out_dir, *extra):
    args = [os.path.join(REPO, "train.py"), "-c", CONFIG]
    for o in _overrides(demo_data, out_dir) + list(extra):
        args += ["-o", o]
    return args


def _run(cmd, timeout=240, **env):
    start = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, PYTHONUNBUFFERED="1", **env))
    return proc, time.time() - start


def _records(run_dir):
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


def _load(dump_dir, rank, tag):
    with np.load(os.path.join(dump_dir, f"rank{rank}_{tag}.npz")) as z:
        return {k: z[k] for k in z.files}


def _assert_same(a, b, skip=(), atol=0.0):
    assert set(a) == set(b)
    for name in a:
        if name not in skip:
            if atol:
                np.testing.assert_allclose(a[name], b[name], rtol=0, atol=atol, err_msg=name)
            else:
                np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.fixture(scope="module")
def dp_run(demo_data, tmp_path_factory):
    """One uninterrupted 2-rank run under mpirun, each rank dumping its state at start and end."""
    root = tmp_path_factory.mktemp("dp")
    run_dir, dumps = root / "run", root / "dumps"
    proc, elapsed = _run(MPIRUN + [sys.executable] + _train_args(demo_data, run_dir),
                         MINDAUDIO_TEST_DUMP_DIR=str(dumps))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    print(f"mpirun, 2 ranks, {EPOCHS * STEPS_PER_EPOCH} steps: {elapsed:.1f} s")
    return {"run_dir": str(run_dir), "dumps": str(dumps), "elapsed": elapsed, "val": demo_data["val"]}


def _check_run_dir(run_dir, val_manifest):
    """One run directory: rank 0 writes the main log, metrics, config and checkpoints; rank 1 its own log only."""
    assert {"train.log", "train_rank1.log", "metrics.jsonl", "config.yaml", "checkpoints"} <= set(os.listdir(run_dir))
    records = _records(run_dir)
    train = [r for r in records if "loss" in r]
    val = [r for r in records if "val_wer" in r]
    assert [r["step"] for r in train] == list(range(2, EPOCHS * STEPS_PER_EPOCH + 1, 2))   # each step logged once
    assert max(r["batch"] for r in train) == STEPS_PER_EPOCH                                # half the batches
    n_val = len(read_manifest(val_manifest))
    assert len(val) == EPOCHS and all(r["val_utterances"] == n_val for r in val)           # each scored once
    with open(os.path.join(run_dir, "train.log")) as f:
        main_log = f.read()
    assert "2 rank(s)" in main_log and f"{STEPS_PER_EPOCH} steps/epoch" in main_log
    with open(os.path.join(run_dir, "train_rank1.log")) as f:
        rank1_log = f.read()
    assert "rank 1 of 2: state of rank 0 received" in rank1_log and "validation" not in rank1_log
    assert sorted(os.listdir(os.path.join(run_dir, "checkpoints"))) == \
        ["best.ckpt", "step_000000010.ckpt", "step_000000012.ckpt"]


def test_mpirun_one_data_parallel_training(dp_run):
    _check_run_dir(dp_run["run_dir"], dp_run["val"])
    assert os.path.exists(os.path.join(dp_run["run_dir"], "scheduler.log"))   # the bridge's scheduler
    start0, start1 = _load(dp_run["dumps"], 0, "start"), _load(dp_run["dumps"], 1, "start")
    end0, end1 = _load(dp_run["dumps"], 0, "end"), _load(dp_run["dumps"], 1, "end")
    _assert_same(start0, start1)                                 # the same weights on every rank at the start...
    _assert_same(end0, end1, skip=BN_MOVING)                     # ...and bit-identical weights and moments at the end
    assert any(not np.array_equal(end0[k], start0[k]) for k in end0)
    params, meta = checkpoint.load(os.path.join(dp_run["run_dir"], "checkpoints", "step_000000012.ckpt"))
    assert meta["global_step"] == EPOCHS * STEPS_PER_EPOCH
    _assert_same({k: v.asnumpy() for k, v in params.items()}, end0)   # the checkpoint is rank 0's state


def _mean2(a, b):
    return (a + b) * 0.5


class TwoShardStep(TrainStep):
    """The data-parallel step of two ranks in one process: each shard's (scaled) gradients computed alone, then
    averaged like nn.DistributedGradReducer(mean=True); the rest is TrainStep.construct's."""

    def input_signature(self):
        return self.loss_cell.input_signature() * 2

    def construct(self, f0, l0, t0, s0, f1, l1, t1, s1):
        scaled0, grads0 = self.grad_fn(f0, l0, t0, s0)
        scaled1, grads1 = self.grad_fn(f1, l1, t1, s1)
        grads = self.hyper_map(_mean2, grads0, grads1)
        loss = self.scaler.unscale(scaled0)
        grads = self.scaler.unscale(grads)
        finite = ops.logical_and(amp.all_finite(grads),
                                 ops.logical_and(ops.isfinite(loss), ops.isfinite(scaled1)))
        grad_norm = ops.sqrt(ops.addn(self.hyper_map(_square_sum, grads)))
        factor = ops.minimum(self.max_norm / (grad_norm + 1e-6), 1.0)
        grads = self.hyper_map(ops.partial(ops.mul, factor), grads)
        if finite:
            loss = ops.depend(loss, self.optimizer(grads))
        loss = ops.depend(loss, self.scaler.adjust(finite))
        return loss, grad_norm, finite


def test_two_ranks_equal_the_two_shard_step_in_one_process(demo_data, dp_run):
    ms.set_device("CPU")
    ms.set_context(mode=ms.GRAPH_MODE)
    cfg = load_config(CONFIG, _overrides(demo_data, dp_run["run_dir"]))
    labels = Labels.from_config(cfg.text)
    utts, _ = load_utterances(cfg.data.train_manifest, cfg, labels, purpose="train")
    durations = [u.duration for u in utts]
    network = build_model(cfg)
    step = build_train_step(cfg, network, EPOCHS * STEPS_PER_EPOCH, step_class=TwoShardStep)
    state = checkpoint.training_state(network, step.optimizer, step.scaler)
    start = _load(dp_run["dumps"], 0, "start")                  # the ranks' common initial state
    for name, p in state.items():
        p.set_data(ms.Tensor(start[name], p.dtype))
    for epoch in range(EPOCHS):
        plan = batch_plan(durations, cfg.train.batch_size, 2, epoch, cfg.train.seed, cfg.data.sortagrad)
        assert len(plan) == STEPS_PER_EPOCH and all(len(s[0]) == len(s[1]) == 4 for s in plan)
        shards = [BatchSource(utts, [s[r] for s in plan], cfg, epoch, r) for r in (0, 1)]
        for i in range(len(plan)):
            _, _, finite = step(*[ms.Tensor(a) for a in shards[0][i] + shards[1][i]])
            assert bool(finite.asnumpy())
    end = _load(dp_run["dumps"], 0, "end")
    got = {name: p.asnumpy() for name, p in state.items()}
    worst = max(float(np.max(np.abs(got[k] - end[k]))) for k in end if k not in BN_MOVING)
    print(f"largest difference between 2 ranks and the two-shard step in one process: {worst:.3g}")
    _assert_same(got, end, skip=BN_MOVING, atol=1e-6)


def test_msrun_gives_the_same_training(demo_data, dp_run, tmp_path):
    run_dir, dumps, logs = tmp_path / "run", tmp_path / "dumps", tmp_path / "msrun_logs"
    with socket.socket() as sock:                               # a free port for msrun's scheduler
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc, elapsed = _run(["msrun", "--worker_num=2", "--local_worker_num=2", f"--master_port={port}",
                          f"--log_dir={logs}", "--join=True"] + _train_args(demo_data, run_dir),
                         MINDAUDIO_TEST_DUMP_DIR=str(dumps))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    print(f"msrun, 2 ranks, {EPOCHS * STEPS_PER_EPOCH} steps: {elapsed:.1f} s")
    _check_run_dir(run_dir, demo_data["val"])
    assert not os.path.exists(run_dir / "scheduler.log")          # msrun runs its own scheduler (in its log dir)
    for rank in (0, 1):                                          # the same computation as under mpirun
        _assert_same(_load(dumps, rank, "end"), _load(dp_run["dumps"], rank, "end"))


def _processes_mentioning(text):
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if text in line and "ps -eo" not in line]


def test_killed_rank_stops_the_job_then_resume_continues(demo_data, dp_run, tmp_path):
    run_dir, dumps = tmp_path / "run", tmp_path / "dumps"
    cmd = MPIRUN + [sys.executable] + _train_args(demo_data, run_dir)
    proc, elapsed = _run(cmd, timeout=180, MINDAUDIO_TEST_KILL_AT="1:5")   # rank 1 dies after step 5
    print(f"rank 1 SIGKILLed after step 5: mpirun exited {proc.returncode} after {elapsed:.1f} s in all")
    assert proc.returncode != 0 and elapsed < 120
    assert "rank 1" in proc.stderr + proc.stdout and "signal 9" in proc.stderr + proc.stdout
    deadline = time.time() + 15
    while _processes_mentioning(str(run_dir)) and time.time() < deadline:   # no rank or scheduler left behind
        time.sleep(0.5)
    assert not _processes_mentioning(str(run_dir))
    ckpts = sorted(f for f in os.listdir(run_dir / "checkpoints") if f.startswith("step_"))
    assert ckpts[-1] == "step_000000004.ckpt"                    # rank 0 saved step 4, never reached step 6

    proc, elapsed = _run(cmd + ["-o", "train.resume=auto"], MINDAUDIO_TEST_DUMP_DIR=str(dumps))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    print(f"resume under mpirun: {elapsed:.1f} s")
    with open(run_dir / "train.log") as f:
        assert "resumed from" in f.read()
    with open(run_dir / "train_rank1.log") as f:
        assert "state of rank 0 received, epoch 0, batch 4, step 4" in f.read()
    assert [r["step"] for r in _records(run_dir) if "loss" in r] == \
        [r["step"] for r in _records(dp_run["run_dir"]) if "loss" in r]
    end0, end1 = _load(dumps, 0, "end"), _load(dumps, 1, "end")
    _assert_same(end0, end1, skip=BN_MOVING)
    _assert_same(end0, _load(dp_run["dumps"], 0, "end"), atol=1e-6)   # as if never interrupted
    params, meta = checkpoint.load(os.path.join(run_dir, "checkpoints", "step_000000012.ckpt"))
    assert meta["global_step"] == EPOCHS * STEPS_PER_EPOCH


def test_launch_scripts_help_and_commands(tmp_path):
    scripts = os.path.join(REPO, "scripts")
    for name in ("run_distribute_train.sh", "run_standalone_train.sh"):
        out = subprocess.run(["bash", os.path.join(scripts, name), "--help"], capture_output=True, text=True)
        assert out.returncode == 0 and out.stdout.startswith("Usage:")

    def command(*args):
        out = subprocess.run(["bash", os.path.join(scripts, "run_distribute_train.sh"), "--print", *args],
                             capture_output=True, text=True, env=dict(os.environ, ASCEND_HOME_PATH="/opt/cann"))
        assert out.returncode == 0, out.stderr
        return out.stdout.split()

    one = command()                                                   # 1 server x 8 cards
    assert one[:3] == ["mpirun", "--bind-to", "none"] and "-np" in one and one[one.index("-np") + 1] == "8"
    assert one[-2:] == ["-c", os.path.join(REPO, "deepspeech2.yaml")]
    hosts = tmp_path / "hosts"
    hosts.write_text("# two servers\nnode1 slots=8\nnode2 slots=8\n")
    two = command("-H", str(hosts), "-o", "train.resume=auto")      # 2 servers x 8 cards
    assert two[two.index("-np") + 1] == "16" and "ppr:8:node" in two and "ASCEND_HOME_PATH" in two
    assert two[-2:] == ["-o", "train.resume=auto"]
    ms_cmd = command("-l", "msrun", "--nnodes", "2", "--node_rank", "1", "--master_addr", "10.0.0.1")
    assert ms_cmd[0] == "msrun" and {"--worker_num=16", "--local_worker_num=8", "--node_rank=1",
                                     "--master_addr=10.0.0.1"} <= set(ms_cmd)
    bad = subprocess.run(["bash", os.path.join(scripts, "run_distribute_train.sh"), "--launcher", "srun"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "mpirun or msrun" in bad.stderr
