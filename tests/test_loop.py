"""The training loop: exact resume after SIGKILL (also between an epoch's checkpoint and its validation), the
guards on resuming, feature workers, and the dry run."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from mindaudio import checkpoint
from mindaudio.config import Config
from mindaudio.data.manifest import read_manifest
from tests.helpers import DEMO, REPO, TINY_MODEL, overrides


def _train_cmd(demo_data, out_dir, *extra):
    return [sys.executable, os.path.join(REPO, "train.py"), "-c", DEMO,
            *overrides(f"data.train_manifest={demo_data['train_small']}", f"data.val_manifest={demo_data['val_small']}",
                       f"train.output_dir={out_dir}", *TINY_MODEL, "train.epochs=2", "train.batch_size=4",
                       "train.log_every=2", "train.ckpt_every=3", "train.keep_checkpoints=2", "data.num_workers=1"),
            *extra]


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


@pytest.mark.slow
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
    # TensorBoard's reader drops what the killed run logged past its checkpoint: one value per step, as the file
    board = scalars(killed / "tensorboard")
    assert [s for s, _ in board["train/loss"]] == [r["step"] for r in resumed if "loss" in r]
    assert [s for s, _ in board["validation/cer"]] == [r["step"] for r in resumed if "val_cer" in r]


def scalars(logdir):
    """{tag: [(step, value)]} as TensorBoard itself reads the event files."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = EventAccumulator(str(logdir), size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_tensorboard_shows_the_rows_of_metrics_jsonl_and_validation_transcripts(tiny_run):
    """Read back with tensorboard's own reader: every scalar equals its metrics.jsonl value at the same step, and
    the validation's transcripts are there, reference beside hypothesis."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from mindaudio.training.board import STEP_TAGS, VALIDATION_TAGS
    rows = [json.loads(line) for line in open(os.path.join(tiny_run["run_dir"], "metrics.jsonl"))]
    board = scalars(os.path.join(tiny_run["run_dir"], "tensorboard"))
    checked = 0
    for key, tag in {**STEP_TAGS, **VALIDATION_TAGS}.items():
        want = [(r["step"], r[key]) for r in rows if r.get(key) is not None]
        assert want, key
        assert [s for s, _ in board[tag]] == [s for s, _ in want], tag
        np.testing.assert_allclose([v for _, v in board[tag]], [v for _, v in want], rtol=1e-6, err_msg=tag)
        checked += 1
    assert checked == len(STEP_TAGS) + len(VALIDATION_TAGS)
    events = EventAccumulator(os.path.join(tiny_run["run_dir"], "tensorboard"), size_guidance={"tensors": 0})
    events.Reload()
    (text,) = events.Tensors("validation/transcripts/text_summary")   # tensorboardX appends the suffix
    table = text.tensor_proto.string_val[0].decode()
    references = {u["id"]: " ".join(u["text"].upper().split()) for u in read_manifest(tiny_run["val"])}
    lines = [line for line in table.splitlines()[2:]]
    assert len(lines) == 4
    for line in lines:
        utt, ref, _ = [cell.strip() for cell in line.strip("|").split("|")]
        assert references[utt] == ref


@pytest.mark.slow
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


def _dry_run(demo_data, out_dir, *extra):
    proc = subprocess.run(_train_cmd(demo_data, out_dir, *extra, "--dry-run"), capture_output=True, text=True,
                          cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


@pytest.mark.slow
def test_dry_run_predicts_the_run(demo_data, tmp_path):
    """--dry-run steps six distinct shapes of the real plan (the largest first, the smallest, the most frequent),
    each twice, validates a batch, saves and loads a checkpoint, reports the memory and extrapolates the epoch and
    the run; every JSON key is documented; nothing is written."""
    out_dir = tmp_path / "never_written"
    result, log = _dry_run(demo_data, out_dir)
    shapes = result["shapes"]
    assert len(shapes) == 6 <= result["distinct_shapes"] and result["shapes_from"] == "manifest"
    sizes = [s["padded_frames"] for s in shapes]
    assert sizes[0] == max(sizes) and min(sizes) in sizes[1:2] and result["finite_steps"] == 6
    assert result["steps_per_epoch"] == 12 and result["graphs_compiled"] == 1            # dynamic shapes: one graph
    assert all(s["batches_in_epoch"] >= 1 and s["first_call_s"] > 0 and s["step_s"] > 0 for s in shapes)
    assert result["checkpoint"]["identical"] and result["validation"]["finite"]
    memory, estimate = result["memory"], result["estimate"]
    assert memory["verdict"] == "fits" and memory["headroom_gb"] > 0 and memory["estimated_mb"] > 0
    model = estimate["step_model"]                      # the epoch is the plan's 12 steps through the fitted model
    step = [model["seconds"] + model["seconds_per_padded_frame"] * n for n in (min(sizes), max(sizes))]
    assert 12 * step[0] - 1 <= estimate["epoch_s"] <= 12 * step[1] + 1
    assert estimate["run_h"] * 3600 >= 2 * (estimate["epoch_s"] - 0.5) - 0.36        # 2 epochs (both rounded)
    assert "per epoch" in log and "checkpoint:" in log and not out_dir.exists()
    documented = open(os.path.join(REPO, "docs", "training.md")).read()
    keys = set(result) | {sub for k in ("memory", "estimate", "checkpoint", "validation") for sub in result[k]}
    assert {k for k in keys if f"`{k}`" not in documented} == set()


@pytest.mark.slow
def test_dry_run_with_static_shapes(demo_data, tmp_path):
    """With train.dynamic_shapes=false every stepped shape is padded to data.static_pad_multiple and compiles its
    own graph."""
    out_dir = tmp_path / "never_written"
    result, _ = _dry_run(demo_data, out_dir, "-o", "train.dynamic_shapes=false", "-o",
                         f"data.train_manifest={demo_data['val_small']}")                   # 0.6-5 s long
    frames = [s["frames"] for s in result["shapes"]]
    assert result["dynamic_shapes"] is False and result["ranks"] == 1 and len(frames) >= 2
    assert all(t % 256 == 0 for t in frames) and result["graphs_compiled"] == len(result["shapes"])
    assert result["shapes_from"] == "manifest" and result["finite_steps"] == len(frames)
    assert not out_dir.exists()


@pytest.mark.slow
def test_an_unreadable_batch_leaves_the_model_sound(demo_data, uninterrupted, tmp_path):
    """The 4 shortest training files (one whole batch) hold NaN samples: that batch has no readable audio and its
    step is skipped on every rank. BatchNorm's statistics stay finite (they used to turn NaN, and every later
    validation to garbage) and the run validates like the uninterrupted one, which trained on that batch too."""
    import soundfile
    entries = sorted(read_manifest(demo_data["train_small"]), key=lambda e: e["duration"])
    for e in entries[:4]:
        audio, rate = soundfile.read(e["audio_filepath"], dtype="float32")
        audio[len(audio) // 2] = np.nan
        e["audio_filepath"] = str(tmp_path / os.path.basename(e["audio_filepath"]))
        soundfile.write(e["audio_filepath"], audio, rate, subtype="FLOAT")
    manifest = tmp_path / "nan.json"
    manifest.write_text("".join(json.dumps(e) + "\n" for e in entries))
    run = tmp_path / "run"
    proc = subprocess.run(_train_cmd(demo_data, run, "-o", f"data.train_manifest={manifest}"), capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "no readable audio" in proc.stderr and "NaN or infinite" in proc.stderr
    params, _ = _final_weights(run)
    stats = {n: v for n, v in params.items() if "moving_" in n}
    assert stats and all(np.isfinite(v).all() for v in stats.values())
    got = [json.loads(line) for line in open(run / "metrics.jsonl")]
    want = [json.loads(line) for line in open(uninterrupted / "metrics.jsonl")]
    assert sum(r.get("skipped_steps", 0) for r in got) == 2                     # one batch, in each of 2 epochs
    for g, w in zip([r for r in got if "val_cer" in r], [r for r in want if "val_cer" in r]):
        assert np.isfinite(g["val_loss"]) and g["val_loss"] == pytest.approx(w["val_loss"], rel=0.1)


@pytest.mark.slow
def test_a_validation_that_scores_nothing_never_becomes_best(demo_data, tmp_path):
    """Every validation file is unreadable when read (NaN samples behind a valid header): the validation scores no
    utterance, its row has no scores, no best.ckpt comes of it (it used to score WER 0.00 and win)."""
    import soundfile
    entries = read_manifest(demo_data["val_small"])[:4]
    for e in entries:
        audio, rate = soundfile.read(e["audio_filepath"], dtype="float32")
        audio[0] = np.nan
        e["audio_filepath"] = str(tmp_path / os.path.basename(e["audio_filepath"]))
        soundfile.write(e["audio_filepath"], audio, rate, subtype="FLOAT")
    manifest = tmp_path / "val.json"
    manifest.write_text("".join(json.dumps(e) + "\n" for e in entries))
    run = tmp_path / "run"
    proc = subprocess.run(_train_cmd(demo_data, run, "-o", f"data.val_manifest={manifest}", "-o", "train.epochs=1"),
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "validation scored nothing: none of its 4 utterances could be read" in proc.stderr
    (row,) = [json.loads(line) for line in open(run / "metrics.jsonl") if "val_utterances" in line]
    assert row["val_utterances"] == 0 and row["val_unreadable"] == 4 and row["val_wer"] is None
    assert not (run / "checkpoints" / "best.ckpt").exists()
