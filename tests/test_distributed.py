"""Data-parallel training on CPU, 2 ranks: mpirun (bridged to MindSpore's dynamic cluster) and msrun, on one
server and on two (network namespaces on this machine).

The tiny network (conftest.TINY_MODEL) on the 48-utterance manifest, 4 utterances per rank and step, 2 epochs:
6 steps per epoch on each rank (48 / (4 · 2)) instead of 12 for one process. SpecAugment is off (its masks are
drawn per rank) so that runs can be compared exactly.

What "equal to a single process" means here. Each rank's BatchNorm normalises with its own shard's batch
statistics, so one process training on the union of the two shards is a different computation (combined
statistics, and padding to the longer shard). The fair reference is the data-parallel step itself computed in one
process: per step, the gradients of shard 0 and of shard 1 each computed alone (own statistics, own padding,
the same loss scale), averaged as ``nn.DistributedGradReducer(mean=True)`` does, then clipped and applied once.
The two shards of a step differ in size by at most one utterance (here both hold 4), so this mean of per-shard
means is also the mean over the step's utterances. BatchNorm's moving statistics are per rank between
checkpoints; every checkpoint holds (and every rank continues from) their mean over the ranks, which the
one-process reference does not compute: they are left out of that comparison.

Test-only callbacks (mindaudio/training/callbacks.py): MINDAUDIO_TEST_DUMP_DIR (each rank dumps its state at start and
end), MINDAUDIO_TEST_KILL_AT=RANK:STEP (that rank SIGKILLs itself after that step).
"""
import contextlib
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

from mindaudio import checkpoint
from mindaudio.config import load_config
from mindaudio.data.dataset import BatchSource, epoch_plan, load_utterances
from mindaudio.data.manifest import read_manifest
from mindaudio.inference.network import config_for, load_network
from mindaudio.models.deepspeech2 import CTCLossCell, build_model
from mindaudio.text import Labels
from mindaudio.training.step import TrainStep, _square_sum, build_train_step
from mindaudio.training.validation import EvalCell, validate
from tests.helpers import DEMO as CONFIG, REPO, TINY_MODEL
STEPS_PER_EPOCH, EPOCHS = 6, 2                      # ceil(48 / (4 · 2)) steps per epoch on each of 2 ranks
BN_MOVING = ("conv1.bn.moving_mean", "conv1.bn.moving_variance", "conv2.bn.moving_mean", "conv2.bn.moving_variance")
ROOT = ["--allow-run-as-root"] if os.geteuid() == 0 else []
MPIRUN = ["mpirun", "-n", "2", "--bind-to", "none", "--oversubscribe"] + ROOT

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not (shutil.which("mpirun") and shutil.which("msrun")),
                                                   reason="needs OpenMPI's mpirun and MindSpore's msrun")]


def _overrides(demo_data, out_dir):
    return [f"data.train_manifest={demo_data['train_small']}", f"data.val_manifest={demo_data['val_small']}",
            f"train.output_dir={out_dir}", *TINY_MODEL, f"train.epochs={EPOCHS}", "train.batch_size=4",
            "train.log_every=2", "train.ckpt_every=2", "train.keep_checkpoints=2", "data.num_workers=1",
            "augment.enabled=false", "train.device_target=CPU"]


def _train_args(demo_data, out_dir, *extra):
    args = [os.path.join(REPO, "train.py"), "-c", CONFIG]
    for o in _overrides(demo_data, out_dir) + list(extra):
        args += ["-o", o]
    return args


def _run(cmd, timeout=240, **env):
    start = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO,
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
    """One uninterrupted 2-rank run under mpirun on one server, each rank dumping its state at start and end."""
    root = tmp_path_factory.mktemp("dp")
    run_dir, dumps = root / "run", root / "dumps"
    proc, elapsed = _run(MPIRUN + [sys.executable] + _train_args(demo_data, run_dir),
                         MINDAUDIO_TEST_DUMP_DIR=str(dumps))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    print(f"mpirun, 2 ranks, {EPOCHS * STEPS_PER_EPOCH} steps: {elapsed:.1f} s")
    return {"run_dir": str(run_dir), "dumps": str(dumps), "elapsed": elapsed}


def _check_run_dir(run_dir, val_manifest):
    """One run directory: rank 0 writes the main log, metrics, config and checkpoints; rank 1 its own log only."""
    assert {"train.log", "train_rank1.log", "metrics.jsonl", "config.yaml", "checkpoints"} <= set(os.listdir(run_dir))
    records = _records(run_dir)
    train = [r for r in records if "loss" in r]
    val = [r for r in records if "val_wer" in r]
    assert [r["step"] for r in train] == list(range(2, EPOCHS * STEPS_PER_EPOCH + 1, 2))   # each step logged once
    assert max(r["batch"] for r in train) == STEPS_PER_EPOCH                                # half the batches
    assert len(val) == EPOCHS and all(r["val_utterances"] == len(read_manifest(val_manifest)) for r in val)
    with open(os.path.join(run_dir, "train.log")) as f:
        main_log = f.read()
    assert "2 rank(s)" in main_log and f"{STEPS_PER_EPOCH} steps/epoch" in main_log
    with open(os.path.join(run_dir, "train_rank1.log")) as f:
        assert "rank 1 of 2: state of rank 0 received" in f.read()
    # the newest two, and the epoch ends (the best validations, kept for checkpoint averaging)
    assert sorted(os.listdir(os.path.join(run_dir, "checkpoints"))) == \
        ["best.ckpt", "step_000000006.ckpt", "step_000000010.ckpt", "step_000000012.ckpt"]


def test_mpirun_one_data_parallel_training(dp_run, demo_data):
    _check_run_dir(dp_run["run_dir"], demo_data["val_small"])
    assert os.path.exists(os.path.join(dp_run["run_dir"], "scheduler.log"))   # the bridge's scheduler
    start0, start1 = _load(dp_run["dumps"], 0, "start"), _load(dp_run["dumps"], 1, "start")
    end0, end1 = _load(dp_run["dumps"], 0, "end"), _load(dp_run["dumps"], 1, "end")
    _assert_same(start0, start1)                                 # the same weights on every rank at the start...
    _assert_same(end0, end1)                                     # ...bit-identical weights, moments, BN statistics
    assert any(not np.array_equal(end0[k], start0[k]) for k in end0)
    params, meta = checkpoint.load(os.path.join(dp_run["run_dir"], "checkpoints", "step_000000012.ckpt"))
    assert meta["global_step"] == EPOCHS * STEPS_PER_EPOCH
    _assert_same({k: v.asnumpy() for k, v in params.items()}, end0)   # the checkpoint is every rank's state


def test_sharded_validation_equals_one_process(dp_run, demo_data):
    """Each rank scored half the validation batches; the all-reduced counts give exactly the WER and CERs of one
    process scoring all of them with the same (epoch-end) checkpoint."""
    val_rows = {r["step"]: r for r in _records(dp_run["run_dir"]) if "val_wer" in r}
    labels = None
    for step in (6, 12):
        path = os.path.join(dp_run["run_dir"], "checkpoints", f"step_{step:09d}.ckpt")
        cfg = config_for(path)
        net = load_network(cfg, path)
        labels = labels or Labels.from_config(cfg.text)
        utts, _ = load_utterances(demo_data["val_small"], cfg, labels, purpose="validate")
        eval_cell = EvalCell(CTCLossCell(net, labels.blank))
        eval_cell.set_inputs(*eval_cell.loss_cell.input_signature())
        one = validate(eval_cell, utts, cfg, labels)
        two = val_rows[step]
        for key in ("val_wer", "val_cer", "val_cer_nospace", "val_utterances", "val_unreadable"):
            assert one[key] == two[key], (step, key)
        assert one["val_loss"] == pytest.approx(two["val_loss"], rel=1e-5)
        assert 0 < one["val_cer"] < 100                          # some characters emitted: the counts say something


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
    network = build_model(cfg)
    step = build_train_step(cfg, network, EPOCHS * STEPS_PER_EPOCH, step_class=TwoShardStep)
    state = checkpoint.training_state(network, step.optimizer, step.scaler)
    start = _load(dp_run["dumps"], 0, "start")                  # the ranks' common initial state
    for name, p in state.items():
        p.set_data(ms.Tensor(start[name], p.dtype))
    for epoch in range(EPOCHS):
        plan = epoch_plan(utts, cfg, 2, epoch)
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


def test_a_non_finite_verdict_on_one_rank_skips_the_step_on_every_rank(tmp_path):
    """Rank 1 alone declares step 2 non-finite (as a 910A card's overflow register can): both ranks skip it, halve
    the loss scale, and keep bit-identical weights; steps 1 and 3 update. (BatchNorm's moving statistics are
    buffers updated by every forward pass, per rank: not compared.)"""
    proc, _ = _run(MPIRUN + [sys.executable, os.path.join(REPO, "tests", "overflow_worker.py"), str(tmp_path)],
                   timeout=180)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    seen = [json.load(open(tmp_path / f"rank{r}.json")) for r in (0, 1)]
    assert seen[0] == seen[1]
    assert [s["finite"] for s in seen[0]] == [True, False, True]
    assert [s["next_scale"] for s in seen[0]] == [1024.0, 512.0, 512.0]
    assert [s["applied_updates"] for s in seen[0]] == [1, 1, 2]
    w0, w1 = ({k: v for k, v in np.load(tmp_path / f"rank{r}.npz").items() if "moving_" not in k} for r in (0, 1))
    _assert_same(w0, w1)
    names = {k.split("/", 1)[1] for k in w0}
    for name in names:                                            # step 2 changed nothing, on either rank
        np.testing.assert_array_equal(w0[f"1/{name}"], w0[f"0/{name}"])
    assert any(not np.array_equal(w0[f"2/{name}"], w0[f"1/{name}"]) for name in names)


@contextlib.contextmanager
def _second_server():
    """A network namespace with its own interface (10.211.0.2) joined to this one (10.211.0.1) by a veth pair:
    a second server on this machine."""
    ns, veth = f"ma_node1_{os.getpid()}", f"mav{os.getpid() % 100000}"
    setup = [["ip", "netns", "add", ns], ["ip", "link", "add", veth + "a", "type", "veth", "peer", "name", veth + "b"],
             ["ip", "link", "set", veth + "b", "netns", ns], ["ip", "addr", "add", "10.211.0.1/24", "dev", veth + "a"],
             ["ip", "link", "set", veth + "a", "up"], ["ip", "-n", ns, "addr", "add", "10.211.0.2/24", "dev", veth + "b"],
             ["ip", "-n", ns, "link", "set", veth + "b", "up"], ["ip", "-n", ns, "link", "set", "lo", "up"]]
    try:
        for cmd in setup:
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode:
                pytest.skip(f"cannot make a network namespace here ({' '.join(cmd)}: {done.stderr.strip()})")
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        subprocess.run(["ip", "link", "del", veth + "a"], capture_output=True)


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_servers_train_like_one(demo_data, dp_run, tmp_path):
    """Two servers of one rank each (the second a network namespace): msrun started on each with its --node_rank,
    and one mpirun with a host file, both give bit-identically the weights of the one-server run."""
    with _second_server() as ns:
        # msrun: one launcher per server, the scheduler on server 0's address
        run_dir, dumps = tmp_path / "msrun", tmp_path / "msrun_dumps"
        port = _free_port()
        msrun = ["msrun", "--worker_num=2", "--local_worker_num=1", "--master_addr=10.211.0.1",
                 f"--master_port={port}", "--join=True"]
        env = dict(os.environ, PYTHONUNBUFFERED="1", MINDAUDIO_TEST_DUMP_DIR=str(dumps))
        node0 = subprocess.Popen(msrun + ["--node_rank=0", f"--log_dir={tmp_path / 'logs0'}"]
                                 + _train_args(demo_data, run_dir), cwd=REPO, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True, env=dict(env, MS_WORKER_IP="10.211.0.1"))
        node1 = subprocess.run(["ip", "netns", "exec", ns, "env", "MS_WORKER_IP=10.211.0.2"] + msrun +
                               ["--node_rank=1", f"--log_dir={tmp_path / 'logs1'}"] + _train_args(demo_data, run_dir),
                               cwd=REPO, capture_output=True, text=True, env=env, timeout=240)
        out0 = node0.communicate(timeout=240)[0]
        assert node0.returncode == 0 and node1.returncode == 0, out0[-2000:] + node1.stdout[-2000:]
        _check_run_dir(run_dir, demo_data["val_small"])
        for rank in (0, 1):
            _assert_same(_load(dumps, rank, "end"), _load(dp_run["dumps"], rank, "end"))

        # mpirun: one command for both servers; its remote shell enters the namespace instead of ssh
        run_dir, dumps = tmp_path / "mpirun", tmp_path / "mpirun_dumps"
        hosts, agent = tmp_path / "hosts.txt", tmp_path / "netns_rsh.sh"
        hosts.write_text("10.211.0.1 slots=1\n10.211.0.2 slots=1\n")
        agent.write_text(f'#!/bin/sh\nhost=$1; shift\n[ "$host" = 10.211.0.2 ] && exec ip netns exec {ns} /bin/sh -c "$*"'
                         '\nexec /bin/sh -c "$*"\n')
        agent.chmod(0o755)
        proc, _ = _run(["mpirun", *ROOT, "--bind-to", "none", "-np", "2", "--hostfile", str(hosts), "--map-by",
                        "ppr:1:node", "--mca", "plm_rsh_agent", str(agent), "--mca", "btl_tcp_if_include",
                        "10.211.0.0/24", "--mca", "oob_tcp_if_include", "10.211.0.0/24", "-x", "MS_SCHED_HOST=10.211.0.1",
                        "-x", "PATH", "-x", "MINDAUDIO_TEST_DUMP_DIR", sys.executable] + _train_args(demo_data, run_dir),
                       MINDAUDIO_TEST_DUMP_DIR=str(dumps))
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
        _check_run_dir(run_dir, demo_data["val_small"])
        for rank in (0, 1):
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
    _assert_same(end0, end1)
    _assert_same(end0, _load(dp_run["dumps"], 0, "end"), atol=1e-6)   # as if never interrupted
    params, meta = checkpoint.load(os.path.join(run_dir, "checkpoints", "step_000000012.ckpt"))
    assert meta["global_step"] == EPOCHS * STEPS_PER_EPOCH


def test_dry_run_through_the_launch_script(demo_data):
    """bash scripts/run_distribute_train.sh -n 2 -d CPU ... -- --dry-run: every rank steps the plan's shapes (its
    own batch of each step), validates, saves and loads a checkpoint; rank 0 prints one JSON line; nothing is
    written."""
    out_dir = os.path.join(os.path.dirname(demo_data["train"]), "..", "dry_run_never_written")
    proc, _ = _run(["bash", os.path.join(REPO, "scripts", "run_distribute_train.sh"), "-n", "2", "-d", "CPU", "-c",
                    CONFIG] + [a for o in _overrides(demo_data, out_dir) for a in ("-o", o)] + ["--", "--dry-run"])
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    (line,) = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    assert line["ranks"] == 2 and line["shapes_from"] == "manifest" and line["graphs_compiled"] == 1
    sizes = [s["padded_frames"] for s in line["shapes"]]
    assert sizes[0] == max(sizes) and line["finite_steps"] == len(sizes) >= 2
    assert line["steps_per_epoch"] == 6 and line["checkpoint"]["identical"] and line["validation"]["finite"]
    assert line["memory"]["peak_mb"]["rss"] > 0 and line["estimate"]["epoch_s"] >= 0
    assert not os.path.exists(out_dir)


def test_ranks_that_see_different_files_stop_at_once_with_the_reason(demo_data, tmp_path):
    """Two ranks in two working directories (mpirun's MPMD form), a manifest of relative audio paths: one file is
    unreadable on rank 1 only, as an NFS hiccup on one server would make it. Both ranks stop before the first step,
    within a minute, naming rank 1 and the utterance it lacks (they used to wait in their collectives until the
    HCCL timeout)."""
    entries = read_manifest(demo_data["train_small"])[:12]
    for name in ("server0", "server1"):
        (tmp_path / name / "audio").mkdir(parents=True)
        for e in entries:
            target = tmp_path / name / "audio" / os.path.basename(e["audio_filepath"])
            if name == "server1" and e is entries[5]:
                target.write_bytes(b"RIFF....not audio any more")
            else:
                os.symlink(e["audio_filepath"], target)
    manifest = tmp_path / "relative.json"
    manifest.write_text("".join(json.dumps(dict(e, audio_filepath=f"audio/{os.path.basename(e['audio_filepath'])}"))
                                + "\n" for e in entries))
    args = _train_args(demo_data, tmp_path / "run", f"data.train_manifest={manifest}", "data.val_manifest=")
    cmd = ["mpirun", "--bind-to", "none", "--oversubscribe"] + ROOT
    for r in (0, 1):
        cmd += ["-n", "1", "-wdir", str(tmp_path / f"server{r}"), sys.executable, *args] + ([":"] if r == 0 else [])
    proc, elapsed = _run(cmd, timeout=120)
    assert proc.returncode != 0 and elapsed < 60, (elapsed, proc.stderr[-3000:])
    assert f"rank 1 cannot use 1 utterance(s) another rank uses, e.g. {entries[5]['id']}" in proc.stderr, \
        proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and not list((tmp_path / "run").glob("checkpoints/step_*"))

