"""``mindaudio-train -c CFG --dry-run``: the first command to run on new hardware, a prediction of the whole run.

Builds the network and its train step exactly as training would (same device, precision, launcher and ranks) and
steps it on random data at the batch shapes of the real plan: the largest (an out-of-memory shows at once), the
smallest, the most frequent, and more up to ``SHAPES`` distinct ones, each twice: the first call of a new shape
against a steady call, because on some cards a new shape means an online compile or a fallback to a slower kernel
(then ``train.dynamic_shapes: false`` is the remedy). Then one validation batch, one checkpoint save and load (to a
temporary directory), the memory peak against what is available, and the time of an epoch and of the run
extrapolated from the plan. Prints one JSON line (keys documented in docs/training.md); writes nothing.

Without a readable train manifest the plan is that of LibriSpeech 960 h's lengths (synthetic: 281,241 utterances,
mean 12.3 s), so the full recipe can be sized before the data is prepared.
"""
import collections
import json
import logging
import os
import shutil
import sys
import tempfile
import time

import numpy as np
import mindspore as ms

from mindaudio import checkpoint
from mindaudio.data.dataset import (batch_plan, frame_multiple, load_utterances, padded, plan_frames,
                                    static_target_length)
from mindaudio.device import memory_gib, peak_memory_mb, rss_gib, set_device
from mindaudio.errors import ManifestError
from mindaudio.geometry import Geometry, num_bins, num_frames
from mindaudio.models.cost import device_bytes
from mindaudio.models.deepspeech2 import build_model
from mindaudio.text import Labels
from mindaudio.training import collectives, launch
from mindaudio.training.loop import resolve_frame_budget
from mindaudio.training.step import build_train_step
from mindaudio.training.validation import EvalCell

log = logging.getLogger("mindaudio.train")
SHAPES = 6                 # distinct batch shapes stepped (fewer if the plan has fewer)
RISK = 2.0                 # a new shape's first call costing more than this × a steady step is a recompile risk


def librispeech_960h_frames(n=281_241, seed=0):
    """Utterance lengths in frames shaped like LibriSpeech's training set: most between 10 and 17 s, a tail to 35 s
    and a few short ones; mean 12.3 s."""
    rng = np.random.default_rng(seed)
    seconds = np.concatenate([rng.normal(14.6, 2.2, int(n * 0.8)), rng.uniform(1, 35, n - int(n * 0.8))])
    seconds = np.clip(seconds, 1.0, 35.0)
    seconds *= 12.3 / seconds.mean()
    return (np.clip(seconds, 1.0, 35.0) * 100).astype(int) + 1


def planned_batches(cfg, world_size):
    """The epoch's batches as (B, T, S) per step (one per rank), where they come from, the utterance count, and the
    validation set's frames (None if there is none)."""
    labels = Labels.from_config(cfg.text)
    try:
        utts, _ = load_utterances(cfg.data.train_manifest, cfg, labels, purpose="train")
        frames, targets = plan_frames(np.array([u.frames for u in utts]), cfg), [len(u.tokens) for u in utts]
        source = "manifest"
    except (ManifestError, ValueError) as e:
        log.warning("no plan from %s (%s): the plan of LibriSpeech 960 h's lengths (synthetic) instead",
                    cfg.data.train_manifest, e)
        frames = librispeech_960h_frames()
        targets, source = (0.15 * frames).astype(int), "LibriSpeech 960 h lengths (synthetic)"
    multiple, width = frame_multiple(cfg), static_target_length(cfg)
    limit = cfg.data.max_frames_per_batch
    keep = np.flatnonzero(padded(frames, multiple) <= limit) if limit else np.arange(len(frames))
    frames, targets = frames[keep], np.asarray(targets)[keep]
    plan = batch_plan(frames, cfg.train.batch_size, world_size, 0, cfg.train.seed, cfg.data.sortagrad, limit,
                      multiple)
    steps = []
    for step in plan:
        shapes = []
        for group in step:
            t = int(padded(frames[group].max(), multiple))
            s = max(1, int(targets[group].max()))
            shapes.append((len(group), t, width(t, s) if width else s))
        steps.append(shapes)
    try:
        val = [u.frames for u in load_utterances(cfg.data.val_manifest, cfg, labels, "validate")[0]] \
            if cfg.data.val_manifest else None
    except ManifestError:
        val = None
    return steps, source, len(keep), val


def choose_shapes(steps, count=SHAPES):
    """Up to ``count`` distinct shapes: the largest (padded frames), the smallest, the most frequent, then shapes
    spread evenly over the sizes in between; the largest first."""
    counts = collections.Counter(shape for step in steps for shape in step)
    by_size = sorted(counts, key=lambda s: (s[0] * s[1], s[1]))
    chosen = [by_size[-1], by_size[0], counts.most_common(1)[0][0]]
    for q in np.linspace(0, 1, 2 * count):
        if len(set(chosen)) >= count:
            break
        chosen.append(by_size[int(round(q * (len(by_size) - 1)))])
    return list(dict.fromkeys(chosen)), counts


def random_batch(cfg, b, t, s, rng):
    """Random features at full length and CTC-feasible random targets (no repeated neighbours)."""
    classes = len(cfg.text.alphabet) + 1
    feasible = int(Geometry.of(cfg).output_frames(t))
    s_used = max(1, min(s, feasible))
    targets = np.zeros((b, s), np.int32)
    for row in targets:
        row[:s_used] = (rng.integers(0, classes - 2, s_used) + np.arange(s_used) % 2 + 1) % (classes - 1) + 1
    feats = rng.standard_normal((b, 1, num_bins(cfg.features), t)).astype(np.float32)
    return [ms.Tensor(a) for a in (feats, np.full(b, t, np.int32), targets, np.full(b, s_used, np.int32))]


def timed(fn, *args):
    """(seconds, outputs) of one call, waiting for the device (the first output is read back)."""
    start = time.time()
    out = fn(*args)
    out[0].asnumpy()
    return time.time() - start, out


def step_shapes(cfg, step, shapes, rng):
    """Each shape stepped twice: [{shape, first_call_s, step_s, finite}]."""
    rows = []
    for b, t, s in shapes:
        batch = random_batch(cfg, b, t, s, rng)
        first, _ = timed(step, *batch)
        steady, out = timed(step, *batch)
        rows.append({"batch": b, "frames": t, "target": s, "padded_frames": b * t, "first_call_s": round(first, 3),
                     "step_s": round(steady, 3), "finite": bool(out[2].asnumpy())})
        log.info("batch %d × %d frames (%d padded frames): first call %.2f s, then %.2f s a step", b, t, b * t,
                 first, steady)
    return rows


def fit_step_time(rows):
    """Least-squares step time a + b × padded frames over the steady steps (b alone with one shape)."""
    x = np.array([r["padded_frames"] for r in rows], float)
    y = np.array([r["step_s"] for r in rows], float)
    if len(set(x)) < 2:
        return 0.0, float(y.mean() / x.mean())
    b, a = np.polyfit(x, y, 1)
    if a < 0 or b < 0:                                    # noise on few points: keep the model physical
        return 0.0, float((y / x).mean())
    return float(a), float(b)


def check_validation(cfg, step, val_frames, rng):
    """One validation batch (the longest of the validation set, ``eval.batch_size`` of them) → its row."""
    b = cfg.eval.batch_size if val_frames else 1
    t = int(padded(max(val_frames) if val_frames else frame_multiple(cfg), frame_multiple(cfg)))
    cell = EvalCell(step.loss_cell)
    if cfg.train.dynamic_shapes:
        cell.set_inputs(*step.loss_cell.input_signature())
    cell.set_train(False)
    first, out = timed(cell, *random_batch(cfg, b, t, max(1, int(0.15 * t)), rng))
    steady, out = timed(cell, *random_batch(cfg, b, t, max(1, int(0.15 * t)), rng))
    cell.set_train(True)
    return {"batch": b, "frames": t, "first_call_s": round(first, 3), "batch_s": round(steady, 3),
            "finite": bool(np.isfinite(out[2].asnumpy()).all())}


def check_checkpoint(state, rank):
    """Save the whole training state to a temporary directory, load it back, compare: {save_s, load_s, mb,
    identical}. Nothing is left behind."""
    directory = tempfile.mkdtemp(prefix="mindaudio_dry_run_ckpt_")
    try:
        path = os.path.join(directory, f"rank{rank}.ckpt")
        start = time.time()
        checkpoint.save(path, state, {"global_step": 0})
        saved = time.time()
        params, _ = checkpoint.load(path)
        loaded = time.time()
        identical = all(np.array_equal(params[n].asnumpy(), p.asnumpy()) for n, p in state.items())
        return {"save_s": round(saved - start, 2), "load_s": round(loaded - saved, 2),
                "mb": round(os.path.getsize(path) / 2 ** 20, 1), "identical": identical}
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def memory_verdict(cfg, peak_mb, largest, available_gib, baseline_gib):
    """Measured peak against the estimate and against the memory there is: {..., verdict, headroom_gb,
    budget_that_fits}."""
    estimate = device_bytes(cfg.model, largest[0], largest[1], cfg.train.device_target, cfg.train.mixed_precision)
    peak = peak_mb.get("reserved", peak_mb.get("rss")) / 1024              # GiB
    headroom = available_gib - peak
    used = peak - baseline_gib                              # what the training step added (on CPU: to the process)
    out = {"peak_mb": {k: round(v) for k, v in peak_mb.items()}, "before_mb": round(baseline_gib * 1024),
           "estimated_mb": round(estimate / 2 ** 20), "measured_over_estimate": round(used * 2 ** 30 / estimate, 2),
           "available_gb": round(available_gib, 1), "headroom_gb": round(headroom, 1),
           "verdict": "fits" if headroom > 0 else "does not fit"}
    if headroom <= 0.1 * available_gib:                   # the budget that would leave a tenth free
        per_frame = max(1e-9, (peak - baseline_gib) / (largest[0] * largest[1]))
        out["budget_that_fits"] = int(max(0.0, 0.9 * available_gib - baseline_gib) / per_frame) // 1000 * 1000
    return out


def extrapolate(cfg, steps, fit, validation, val_frames, world_size):
    """Seconds per epoch (each step as long as its slowest rank's batch), per validation, and hours for the run."""
    a, b = fit
    epoch = sum(max(a + b * bb * t for bb, t, _ in step) for step in steps)
    val = 0.0
    if val_frames:
        per_frame = validation["batch_s"] / (validation["batch"] * validation["frames"])
        val = per_frame * float(np.sum(padded(np.array(val_frames), frame_multiple(cfg)))) / world_size
    validations = -(-cfg.train.epochs // cfg.train.val_every_epochs) if val_frames else 0
    return {"step_model": {"seconds": round(a, 4), "seconds_per_padded_frame": b},
            "epoch_s": round(epoch), "validation_s": round(val), "epochs": cfg.train.epochs,
            "run_h": round((epoch * cfg.train.epochs + val * validations) / 3600, 4)}


def dry_run(cfg):
    """Everything the module docstring says; returns the JSON-able result (printed by rank 0)."""
    set_device(cfg.train.device_target, launch.device_id(cfg.train.device_target, cfg.train.device_id),
               cfg.train.dynamic_shapes)
    rank, size = collectives.setup()
    baseline = rss_gib() if cfg.train.device_target == "CPU" else 0.0
    available = memory_gib(cfg.train.device_target, launch.local_ranks())
    resolve_frame_budget(cfg, size)
    steps, source, utterances, val_frames = planned_batches(cfg, size)
    shapes, counts = choose_shapes(steps)
    log.info("dry run on %d rank(s): %d steps per epoch from the %s; %d of its %d distinct batch shapes",
             size, len(steps), source, len(shapes), len(counts))
    step = build_train_step(cfg, build_model(cfg), total_steps=max(1, len(steps) * cfg.train.epochs),
                            world_size=size, steps_per_epoch=len(steps))
    rng = np.random.default_rng(cfg.train.seed)
    rows = step_shapes(cfg, step, shapes, rng)
    for row in rows:
        row["batches_in_epoch"] = int(counts[(row["batch"], row["frames"], row["target"])])
    steady = float(np.median([r["step_s"] for r in rows]))
    risky = [r for r in rows[1:] if r["first_call_s"] > RISK * max(r["step_s"], steady)]
    validation = check_validation(cfg, step, val_frames, rng)
    saved = check_checkpoint(checkpoint.training_state(step.loss_cell.network, step.optimizer, step.scaler), rank)
    memory = memory_verdict(cfg, peak_memory_mb(cfg.train.device_target), (rows[0]["batch"], rows[0]["frames"]),
                            available, baseline)
    result = {"device": cfg.train.device_target, "ranks": size, "dynamic_shapes": cfg.train.dynamic_shapes,
              "max_frames_per_batch": cfg.data.max_frames_per_batch, "shapes_from": source,
              "utterances": int(utterances), "steps_per_epoch": len(steps), "distinct_shapes": len(counts),
              "graphs_compiled": len(step.compile_cache), "compile_s": round(rows[0]["first_call_s"] -
                                                                             rows[0]["step_s"], 1),
              "shapes": rows, "recompile_risk": [[r["batch"], r["frames"]] for r in risky],
              "advice": ("new batch shapes cost more than twice a steady step here: try -o train.dynamic_shapes=false "
                         "(one graph per padded shape, compiled once)") if risky else None,
              "validation": validation, "checkpoint": saved, "memory": memory,
              "estimate": extrapolate(cfg, steps, fit_step_time(rows), validation, val_frames, size),
              "finite_steps": sum(r["finite"] for r in rows)}
    for line in summary(result):
        log.info("%s", line)
    return result


def summary(r):
    """The result in sentences, for the log."""
    m, e = r["memory"], r["estimate"]
    peak = ", ".join(f"{k} {v / 1024:.1f} GB" for k, v in m["peak_mb"].items())
    lines = [f"memory: peak {peak} ({m['before_mb'] / 1024:.1f} GB before the network), estimate of the step "
             f"{m['estimated_mb'] / 1024:.1f} GB (measured {m['measured_over_estimate']}× it); "
             f"{m['available_gb']} GB available: {m['verdict']}" + (f", {m['headroom_gb']} GB headroom"
                                                                     if m["verdict"] == "fits" else "")
             + (f"; data.max_frames_per_batch={m['budget_that_fits']} would leave a tenth free"
                if "budget_that_fits" in m else ""),
             f"time: {_duration(e['epoch_s'])} per epoch ({r['steps_per_epoch']} steps), "
             f"{_duration(e['validation_s'])} per validation, {_duration(e['run_h'] * 3600)} for {e['epochs']} epochs "
             "on this hardware",
             f"checkpoint: {r['checkpoint']['mb']} MB, saved in {r['checkpoint']['save_s']} s and loaded in "
             f"{r['checkpoint']['load_s']} s" + ("" if r["checkpoint"]["identical"] else ": NOT IDENTICAL")]
    if r["advice"]:
        lines.append(f"recompile risk at {r['recompile_risk']} (batch, frames): {r['advice']}")
    return lines


def _duration(seconds):
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min" if seconds < 7200 else \
        f"{seconds / 3600:.1f} h"


def main(cfg):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S",
                        stream=sys.stderr)
    result = dry_run(cfg)
    if launch.is_distributed() and collectives.get_rank() != 0:
        return
    print(json.dumps(result, default=lambda v: v.item() if isinstance(v, np.generic) else str(v)), flush=True)
