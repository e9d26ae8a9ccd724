"""The training loop: data plan → train step → metrics, validation and checkpoints, with exact resume."""
import json
import logging
import os
import sys
import time

import numpy as np
import mindspore as ms
from mindspore import nn

from mindaudio import distributed
from mindaudio.config import save_config, to_dict
from mindaudio.data.manifest import atomic_write_text
from mindaudio.data.dataset import (BatchSource, batch_plan, collate, ctc_min_frames, feature_dim, load_utterances,
                                    make_dataset, output_frames)
from mindaudio.data.features import AudioError, load_audio, spectrogram
from mindaudio.decoding import greedy_decode
from mindaudio.metrics import ErrorRate
from mindaudio.models.deepspeech2 import CTCLossCell, build_model, dynamic_inputs
from mindaudio.text import Labels
from mindaudio.training import checkpoint
from mindaudio.training.schedule import build_optimizer, lr_at
from mindaudio.training.step import TrainStep

log = logging.getLogger("mindaudio.train")
MAX_CONSECUTIVE_SKIPS = 50   # each skip halves the loss scale: 50 in a row means divergence, not overflow


def setup_device(train_cfg):
    ms.set_device(train_cfg.device_target, distributed.device_id(train_cfg.device_target, train_cfg.device_id))
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_seed(train_cfg.seed)
    np.random.seed(train_cfg.seed)


def setup_logging(run_dir, rank):
    os.makedirs(run_dir, exist_ok=True)
    name = "train.log" if rank == 0 else f"train_rank{rank}.log"
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for h in list(root.handlers):
        root.removeHandler(h)
    fh = logging.FileHandler(os.path.join(run_dir, name))
    fh.setFormatter(fmt)
    root.addHandler(fh)
    if rank == 0:
        sh = logging.StreamHandler(sys.stderr)
        sh.setFormatter(fmt)
        root.addHandler(sh)


class EvalCell(nn.Cell):
    """Forward pass for validation: (log_probs [T', B, C], out_lens [B], per-utterance loss / target length [B])."""

    def __init__(self, network, blank):
        super().__init__(auto_prefix=False)
        self.network = network
        self.ctc = nn.CTCLoss(blank=blank, reduction="none", zero_infinity=True)

    def construct(self, feats, feat_lens, targets, target_lens):
        log_probs, out_lens = self.network(feats, feat_lens)
        losses = self.ctc(log_probs, targets, out_lens, target_lens)
        return log_probs, out_lens, losses / target_lens.astype(ms.float32)


def train_inputs(num_features):
    feats, lens = dynamic_inputs(num_features)
    return feats, lens, ms.Tensor(shape=[None, None], dtype=ms.int32), ms.Tensor(shape=[None], dtype=ms.int32)


def validate(eval_cell, utts, cfg, labels):
    """Greedy WER/CER and mean CTC loss over ``utts``; every utterance scored once."""
    eval_cell.set_train(False)
    errors, losses = ErrorRate(), []
    order = np.argsort([u.duration for u in utts], kind="stable")
    unreadable = 0
    for start in range(0, len(order), cfg.eval.batch_size):
        batch, feats = [], []
        for i in order[start:start + cfg.eval.batch_size]:
            try:
                feats.append(spectrogram(load_audio(utts[i].audio_filepath, cfg.features.sample_rate), cfg.features))
                batch.append(utts[i])
            except AudioError as e:
                unreadable += 1
                log.warning("validation: %s", e)
        if not batch:
            continue
        x, xl, y, yl = collate(feats, [u.tokens for u in batch], cfg.data.pad_to_multiple)
        log_probs, out_lens, loss = eval_cell(ms.Tensor(x), ms.Tensor(xl), ms.Tensor(y), ms.Tensor(yl))
        for u, hyp in zip(batch, greedy_decode(log_probs.asnumpy(), out_lens.asnumpy(), labels)):
            errors.update(u.text, hyp)
        losses.extend(loss.asnumpy().tolist())
    eval_cell.set_train(True)
    finite = [v for v in losses if np.isfinite(v)]
    return {"val_loss": float(np.mean(finite)) if finite else float("nan"), "val_wer": errors.wer,
            "val_cer": errors.cer, "val_utterances": errors.utterances, "val_unreadable": unreadable}


class MetricsWriter:
    """``metrics.jsonl``: one JSON object per line. On resume, lines past the resumed step are dropped."""

    def __init__(self, path, resume_step=None):
        self.path = path
        if resume_step is not None and os.path.exists(path):
            keep = []
            with open(path, encoding="utf-8") as f:
                for line in f:
                    try:
                        if json.loads(line).get("step", 0) <= resume_step:
                            keep.append(line if line.endswith("\n") else line + "\n")
                    except json.JSONDecodeError:  # a line cut short by the crash being resumed from
                        pass
            atomic_write_text(path, "".join(keep))
        elif resume_step is None and os.path.exists(path):
            os.remove(path)

    def write(self, record):
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


def find_resume(cfg, manager):
    """The checkpoint ``train.resume`` asks for, read: (path, params, meta), or None for a fresh run."""
    spec = cfg.train.resume
    if not spec:
        if manager.step_files():
            raise RuntimeError(f"{manager.dir} already holds checkpoints of another run: continue it with "
                               "-o train.resume=auto, or choose a new train.output_dir")
        return None
    if spec == "auto":
        found = manager.load_latest()
        if found is None:
            log.info("resume=auto: no checkpoint in %s, starting a fresh run", manager.dir)
        return found
    if not os.path.isfile(spec):
        raise FileNotFoundError(f"train.resume: no checkpoint file {spec}")
    return (spec, *checkpoint.load(spec))


def check_same_data_order(meta, cfg, size, path):
    """A mid-epoch position only means something under the batch plan it was saved with."""
    if int(meta.get("batch_in_epoch", 0)) == 0 or "config" not in meta:
        return
    saved, now = json.loads(meta["config"]), to_dict(cfg)
    # everything that decides which utterances are kept and how they are batched
    keys = [("train", "batch_size"), ("train", "seed"), ("model", "conv_kernel")]
    keys += [(section, k) for section in ("data", "features", "text") for k in now[section]
             if (section, k) not in (("data", "num_workers"), ("data", "val_manifest"), ("data", "test_manifests"))]
    changed = [f"{s}.{k}: {saved[s].get(k)!r} → {now[s][k]!r}" for s, k in keys if saved[s].get(k) != now[s][k]]
    if int(meta.get("world_size", size)) != size:
        changed.append(f"ranks: {int(meta['world_size'])} → {size}")
    if changed:
        raise RuntimeError(f"cannot resume mid-epoch from {path}: the batch order would differ ({'; '.join(changed)})."
                           " Keep these settings, or resume from an epoch-end checkpoint.")


def train(cfg):
    """Run (or resume) a training described by ``cfg``. Returns the last validation result (or None)."""
    setup_device(cfg.train)
    rank, size = distributed.setup()
    run_dir = cfg.train.output_dir
    setup_logging(run_dir, rank)
    labels = Labels.from_config(cfg.text)
    num_features = feature_dim(cfg)

    utts, _ = load_utterances(cfg.data.train_manifest, cfg, labels, for_training=True)
    val_utts = []
    if cfg.data.val_manifest and rank == 0:
        val_utts, _ = load_utterances(cfg.data.val_manifest, cfg, labels, for_training=False)
        # the CPU CTC kernel fails on an utterance too short for its transcript: score only those CTC can align
        usable = [u for u in val_utts if u.text and
                  output_frames(u.frames, cfg.model.conv_kernel[1]) >= ctc_min_frames(u.tokens)]
        if len(usable) < len(val_utts):
            log.warning("validation: %d utterance(s) with an empty transcript or too short for it left out",
                        len(val_utts) - len(usable))
        val_utts = usable
    durations = [u.duration for u in utts]
    steps_per_epoch = len(batch_plan(durations, cfg.train.batch_size, size, 0, cfg.train.seed, cfg.data.sortagrad))
    total_steps = steps_per_epoch * cfg.train.epochs

    network = build_model(cfg, num_features, len(labels))
    loss_cell = CTCLossCell(network, labels.blank)
    optimizer = build_optimizer(network.trainable_params(), cfg.train, total_steps)
    reducer = nn.DistributedGradReducer(optimizer.parameters, mean=True, degree=size) if size > 1 else None
    step_cell = TrainStep(loss_cell, optimizer, cfg.train, reducer)
    step_cell.set_inputs(*train_inputs(num_features))
    step_cell.set_train(True)
    eval_cell = EvalCell(network, labels.blank)
    eval_cell.set_inputs(*train_inputs(num_features))
    state = checkpoint.training_state(network, optimizer, step_cell.scaler)
    manager = checkpoint.CheckpointManager(run_dir, cfg.train.keep_checkpoints)

    epoch, batch_in_epoch, global_step, best_wer = 0, 0, 0, float("inf")
    resume = find_resume(cfg, manager) if rank == 0 else None   # only rank 0 reads checkpoints
    resume_path = resume[0] if resume else None
    if resume:
        _, params, meta = resume
        checkpoint.restore(state, params, resume_path)
        epoch, batch_in_epoch = int(meta["epoch"]), int(meta["batch_in_epoch"])
        global_step, best_wer = int(meta["global_step"]), float(meta.get("best_wer", float("inf")))
        check_same_data_order(meta, cfg, size, resume_path)
        log.info("resumed from %s: epoch %d, batch %d, step %d", resume_path, epoch, batch_in_epoch, global_step)
    if size > 1:  # every rank continues from rank 0's weights, optimizer state and position, resumed or fresh
        epoch, batch_in_epoch, global_step = distributed.sync_from_rank0(state, [epoch, batch_in_epoch, global_step])
        log.info("rank %d of %d: state of rank 0 %s, epoch %d, batch %d, step %d", rank, size,
                 "sent to every rank" if rank == 0 else "received", epoch, batch_in_epoch, global_step)
    distributed.test_dump_state(rank, state, "start")
    metrics = MetricsWriter(os.path.join(run_dir, "metrics.jsonl"), global_step if resume_path else None) \
        if rank == 0 else None
    if rank == 0:
        save_config(cfg, os.path.join(run_dir, "config.yaml"))
        n_params = sum(int(np.prod(p.shape)) for p in network.trainable_params())
        log.info("DeepSpeech2: %s parameters, %d utterances (%.2f h), %d steps/epoch × %d epochs, %d rank(s), %s",
                 f"{n_params:,}", len(utts), sum(durations) / 3600, steps_per_epoch, cfg.train.epochs, size,
                 cfg.train.device_target)

    def meta(ep, b):
        return {"epoch": ep, "batch_in_epoch": b, "global_step": global_step, "best_wer": best_wer,
                "world_size": size, "config": json.dumps(to_dict(cfg))}

    result = None
    run_start, steps_run, consecutive_skips = time.time(), 0, 0
    while epoch < cfg.train.epochs:
        plan = batch_plan(durations, cfg.train.batch_size, size, epoch, cfg.train.seed, cfg.data.sortagrad)
        batches = [s[rank] for s in plan]
        source = BatchSource(utts, batches, cfg, epoch, rank, augment=True, start=batch_in_epoch)
        window = {"loss": [], "grad_norm": [], "skipped": 0, "utts": 0, "audio": 0.0, "time": 0.0}
        t_last = time.time()
        for i, (x, xl, y, yl) in enumerate(make_dataset(source, cfg.data.num_workers)
                                           .create_tuple_iterator(num_epochs=1, output_numpy=True)):
            index = batch_in_epoch + i
            applied = int(optimizer.global_step.asnumpy().reshape(-1)[0])
            loss, grad_norm, finite, scale = step_cell(ms.Tensor(x), ms.Tensor(xl), ms.Tensor(y), ms.Tensor(yl))
            loss, finite = float(loss.asnumpy()), bool(finite.asnumpy())
            now = time.time()
            global_step += 1
            steps_run += 1
            distributed.test_after_step(rank, global_step)
            if finite:
                window["loss"].append(loss)
                window["grad_norm"].append(float(grad_norm.asnumpy()))
                consecutive_skips = 0
            else:
                window["skipped"] += 1
                consecutive_skips += 1
                log.warning("step %d: non-finite loss or gradients, update skipped (loss scale %.0f)",
                            global_step, float(scale.asnumpy()))
                if consecutive_skips >= MAX_CONSECUTIVE_SKIPS:
                    raise FloatingPointError(
                        f"{consecutive_skips} consecutive steps with non-finite loss or gradients (step {global_step}):"
                        " the run has diverged; resume from an earlier checkpoint with a lower train.lr")
            window["utts"] += len(xl) * size
            window["audio"] += float(sum(durations[j] for j in batches[index])) * size
            window["time"] += now - t_last
            t_last = now
            last_of_epoch = index + 1 == len(batches)
            if rank == 0 and (global_step % cfg.train.log_every == 0 or last_of_epoch):
                done, remaining = steps_run, total_steps - global_step
                eta = (now - run_start) / done * remaining
                n = max(1, len(window["loss"]) + window["skipped"])
                record = {"step": global_step, "epoch": epoch, "batch": index + 1,
                          "loss": float(np.mean(window["loss"])) if window["loss"] else None,
                          "lr": lr_at(applied, cfg.train.lr, cfg.train.warmup_steps, total_steps,
                                      cfg.train.final_lr_ratio),
                          "grad_norm": float(np.mean(window["grad_norm"])) if window["grad_norm"] else None,
                          "step_time": window["time"] / n, "utterances_per_s": window["utts"] / window["time"],
                          "audio_s_per_s": window["audio"] / window["time"], "skipped_steps": window["skipped"],
                          "loss_scale": float(scale.asnumpy())}
                metrics.write(record)
                log.info("epoch %d %s %d/%d step %d loss %s lr %.2e |g| %s %.2fs/step %.1f audio-s/s ETA %s",
                         epoch, _bar((index + 1) / len(batches)), index + 1, len(batches), global_step,
                         "n/a" if record["loss"] is None else f"{record['loss']:.4f}", record["lr"],
                         "n/a" if record["grad_norm"] is None else f"{record['grad_norm']:.2f}",
                         record["step_time"], record["audio_s_per_s"], _hms(eta))
                window = {"loss": [], "grad_norm": [], "skipped": 0, "utts": 0, "audio": 0.0, "time": 0.0}
            if rank == 0 and cfg.train.ckpt_every and global_step % cfg.train.ckpt_every == 0 and not last_of_epoch:
                manager.save(state, meta(epoch, index + 1))
        epoch, batch_in_epoch = epoch + 1, 0
        if rank == 0:
            manager.save(state, meta(epoch, 0))        # before validation: nothing of the epoch is lost if it fails
            if val_utts and (epoch % cfg.train.val_every_epochs == 0 or epoch == cfg.train.epochs):
                result = validate(eval_cell, val_utts, cfg, labels)
                metrics.write({"step": global_step, "epoch": epoch - 1, **result})
                log.info("epoch %d validation: loss %.4f WER %.2f CER %.2f (%d utterances)", epoch - 1,
                         result["val_loss"], result["val_wer"], result["val_cer"], result["val_utterances"])
                if result["val_wer"] < best_wer:
                    best_wer = result["val_wer"]
                    manager.save_best(state, meta(epoch, 0))
                    manager.save(state, meta(epoch, 0))  # the same checkpoint, now knowing the best WER
    distributed.test_dump_state(rank, state, "end")
    if rank == 0:
        log.info("training finished: %d steps in %s", global_step, _hms(time.time() - run_start))
    return result


def _bar(fraction, width=20):
    filled = int(round(fraction * width))
    return "[" + "#" * filled + "." * (width - filled) + "]"


def _hms(seconds):
    seconds = int(seconds)
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
