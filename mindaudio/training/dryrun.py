"""``python train.py -c CFG --dry-run``: the first command to run on new hardware.

Builds the network and its train step exactly as training would (same device, precision, launcher and ranks),
compiles it, runs two steps on random data at the largest batch shape the data plan will produce and one at the
smallest, and prints one JSON line. An out-of-memory or a compile failure shows in a minute instead of hours
into epoch 0. Writes nothing: no run directory, no checkpoint.
"""
import json
import logging
import sys
import time

import numpy as np

import mindspore as ms

from mindaudio.data.dataset import epoch_plan, frame_multiple, load_utterances, padded, static_target_length
from mindaudio.device import peak_memory_mb, set_device
from mindaudio.errors import ManifestError
from mindaudio.geometry import Geometry, num_bins, num_frames
from mindaudio.models.cost import device_bytes
from mindaudio.models.deepspeech2 import build_model
from mindaudio.text import Labels
from mindaudio.training import collectives, launch
from mindaudio.training.loop import resolve_frame_budget
from mindaudio.training.step import build_train_step

log = logging.getLogger("mindaudio.train")


def plan_shapes(cfg, world_size):
    """The largest and smallest batch (by padded frames) as (B, T, S) of the training plan, and where they come
    from: the train manifest's plan, or (without a readable manifest) the config's limits."""
    multiple, width = frame_multiple(cfg), static_target_length(cfg)
    try:
        utts, _ = load_utterances(cfg.data.train_manifest, cfg, Labels.from_config(cfg.text), purpose="train")
        plan = epoch_plan(utts, cfg, world_size)
    except (ManifestError, ValueError) as e:
        log.warning("no batch plan from %s (%s): shapes from the config's limits", cfg.data.train_manifest, e)
        shapes = []
        for seconds in (cfg.data.max_duration, max(cfg.data.min_duration, 1.0)):
            t = int(padded(num_frames(int(seconds * cfg.features.sample_rate), cfg.features), multiple))
            b = min(cfg.train.batch_size, cfg.data.max_frames_per_batch // t) if cfg.data.max_frames_per_batch \
                else cfg.train.batch_size
            shapes.append((max(1, b), t, int(0.15 * t)))              # LibriSpeech: ~15 characters a second
        return shapes[0], shapes[1], "config"
    batches = []
    for step in plan:
        for group in step:
            t = int(padded(max(utts[i].frames for i in group), multiple))
            s = max(len(utts[i].tokens) for i in group)
            batches.append((len(group), t, width(t, s) if width else s))
    batches.sort(key=lambda b: (b[0] * b[1], b[1]))
    return batches[-1], batches[0], "manifest"


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


def dry_run(cfg):
    """Compile and run the largest and smallest batch shapes; returns the JSON-able result (printed by rank 0)."""
    set_device(cfg.train.device_target, launch.device_id(cfg.train.device_target, cfg.train.device_id),
               cfg.train.dynamic_shapes)
    rank, size = collectives.setup()
    resolve_frame_budget(cfg, size)
    largest, smallest, source = plan_shapes(cfg, size)
    log.info("dry run on %d rank(s): largest batch %s, smallest %s (B, T, S; from the %s)", size, largest,
             smallest, source)
    step = build_train_step(cfg, build_model(cfg), total_steps=1000, world_size=size)
    rng = np.random.default_rng(cfg.train.seed)
    times, finite = [], []
    for shape in (largest, largest, smallest):
        batch = random_batch(cfg, *shape, rng)
        start = time.time()
        out = step(*batch)
        finite.append(bool(out[2].asnumpy()))
        times.append(time.time() - start)
        log.info("step at %s: %.1f s", shape, times[-1])
    estimate = device_bytes(cfg.model, largest[0], largest[1], cfg.train.device_target, cfg.train.mixed_precision)
    return {"largest_batch": list(largest[:2]), "smallest_batch": list(smallest[:2]), "shapes_from": source,
            "compile_s": round(times[0] - times[1], 1), "step_s": round(times[1], 2),
            "smallest_step_s": round(times[2], 2), "peak_memory_mb": round(peak_memory_mb(cfg.train.device_target)),
            "estimated_memory_mb": round(estimate / 2 ** 20), "ranks": size,
            "device": cfg.train.device_target, "dynamic_shapes": cfg.train.dynamic_shapes,
            "graphs_compiled": len(step.compile_cache), "max_frames_per_batch": cfg.data.max_frames_per_batch,
            "finite_steps": sum(finite)}


def main(cfg):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S",
                        stream=sys.stderr)
    result = dry_run(cfg)
    if launch.is_distributed() and collectives.get_rank() != 0:
        return
    print(json.dumps(result), flush=True)
