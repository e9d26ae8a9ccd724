"""The training loop: data plan → train step → metrics, validation and checkpoints, with exact resume.

:class:`Trainer` holds one run; each of its parts reads in one screen: building (``__init__``), resuming
(``_restore``), one epoch (``_train_epoch``), the logging window (``_log``) and the end of an epoch
(``_end_epoch``: checkpoint, then sharded validation, best checkpoint, metrics row).
"""
import json
import logging
import logging.handlers
import os
import shutil
import sys
import time
import zlib

import numpy as np
import mindspore as ms

from mindaudio import checkpoint
from mindaudio.config import load_config, save_config, to_dict
from mindaudio.data.augment import check_noise
from mindaudio.data.dataset import (BatchSource, epoch_plan, frame_multiple, is_unreadable_batch, load_utterances,
                                    make_dataset, padded, plan_frames, shared_memory_workers)
from mindaudio.data.manifest import read_manifest
from mindaudio.device import memory_gib, set_device, usable_cores
from mindaudio.errors import CheckpointError, ConfigError, DataError
from mindaudio.fileio import atomic_write, hold_lock
from mindaudio.geometry import num_bins
from mindaudio.metrics import is_scored, validation_key
from mindaudio.models import cpu_lstm
from mindaudio.models.cost import frame_budget
from mindaudio.models.deepspeech2 import build_model
from mindaudio.text import Labels
from mindaudio.training import callbacks as test_callbacks
from mindaudio.training import collectives, launch
from mindaudio.training.board import Board
from mindaudio.training.schedule import lr_at
from mindaudio.training.step import build_train_step
from mindaudio.training.validation import EvalCell, validate

log = logging.getLogger("mindaudio.train")
TRANSCRIPTS_SHOWN = 4       # validation utterances whose transcripts TensorBoard shows at each validation
MAX_CONSECUTIVE_SKIPS = 50   # each skip halves the loss scale: 50 in a row means divergence, not overflow


LOG_FORMAT = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")


def setup_logging(rank):
    """Rank 0 logs to stderr at once; every rank's records are also kept in memory until the run is sure to start
    (``attach_log_file``), so that a run that cannot start leaves no log file behind. Returns the buffer."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for h in list(root.handlers):
        root.removeHandler(h)
    if rank == 0:
        sh = logging.StreamHandler(sys.stderr)
        sh.setFormatter(LOG_FORMAT)
        root.addHandler(sh)
    buffer = logging.handlers.MemoryHandler(capacity=100000, flushLevel=logging.CRITICAL + 1)
    root.addHandler(buffer)
    return buffer


def attach_log_file(buffer, run_dir, rank):
    """The run's log file (train.log; train_rank<r>.log for other ranks), with what was logged before it existed."""
    fh = logging.FileHandler(os.path.join(run_dir, "train.log" if rank == 0 else f"train_rank{rank}.log"))
    fh.setFormatter(LOG_FORMAT)
    buffer.setTarget(fh)
    buffer.flush()
    root = logging.getLogger()
    root.removeHandler(buffer)
    root.addHandler(fh)


class RunDirectory:
    """``train.output_dir`` held by one run at a time: a lock (``.run.lock``) taken at once and released by the kernel
    when the process ends, even on SIGKILL, so resuming after a crash just works; a second run into the directory
    stops at once, naming the first one's pid. A run that cannot start removes the directory if it made it."""

    def __init__(self, path):
        self.path, self.created = path, not os.path.exists(path)
        self.fd = hold_lock(path, ".run.lock", "another training run",
                            "wait for it to end or stop it, or choose another train.output_dir")

    def abandon(self):
        """The run did not start: release the lock, and remove the directory if this run made it and left nothing."""
        self.release()
        if self.created and os.listdir(self.path) == [".run.lock"]:
            shutil.rmtree(self.path, ignore_errors=True)

    def release(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def usable_workers(requested):
    """Feature workers per rank: at most the cores this process may use (MindSpore refuses more)."""
    cores = usable_cores()
    if requested > cores:
        log.info("data.num_workers=%d but this machine has %d core(s): using %d feature workers", requested,
                 cores, cores)
    return max(1, min(requested, cores))


def resolve_frame_budget(cfg, world_size=1):
    """``data.max_frames_per_batch: 0`` → the budget the memory estimate gives for the memory available to each
    rank now (the smallest over the ranks), written into ``cfg`` so that the run's config and checkpoints record it.
    A resumed run keeps the budget it started with (its run directory's config.yaml): the batch plan must not
    change under it."""
    if cfg.data.max_frames_per_batch:
        return
    recorded = os.path.join(cfg.train.output_dir, "config.yaml")
    if cfg.train.resume and os.path.isfile(recorded):
        try:
            budget = load_config(recorded).data.max_frames_per_batch
        except ConfigError:
            budget = 0
        if budget:
            cfg.data.max_frames_per_batch = budget
            log.info("data.max_frames_per_batch: %d padded frames per batch, as the run being resumed", budget)
            return
    gib = memory_gib(cfg.train.device_target, launch.local_ranks())
    budget = frame_budget(cfg.model, gib, cfg.train.device_target, cfg.train.mixed_precision)
    if world_size > 1:
        budget = int(collectives.all_gather([budget]).min())
    cfg.data.max_frames_per_batch = budget
    log.info("data.max_frames_per_batch: %d padded frames per batch (memory estimate for the %.1f GiB of %s memory "
             "available to %s)", budget, gib, cfg.train.device_target,
             "each rank (the least of any rank)" if world_size > 1 else "this process")


class MetricsWriter:
    """``metrics.jsonl``: one JSON object per line. On resume, lines past the resumed step are dropped."""

    def __init__(self, path, resume_step=None, board=None):
        self.path = path
        self.records = []
        self.board = board                  # TensorBoard's view of the same rows (training/board.py)
        if resume_step is not None and os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                for line in f:
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError:  # a line cut short by the crash being resumed from
                        continue
                    if record.get("step", 0) <= resume_step:
                        self.records.append(record)
            atomic_write(path, "".join(json.dumps(r) + "\n" for r in self.records))
        elif resume_step is None and os.path.exists(path):
            os.remove(path)

    def validated(self, step):
        return any("val_utterances" in r and r["step"] == step for r in self.records)

    def validations(self):
        """The scored validation rows, best first (``metrics.validation_key``)."""
        return sorted((r for r in self.records if is_scored(r)), key=validation_key)

    def best(self):
        rows = self.validations()
        return rows[0] if rows else None

    def best_steps(self, n):
        """Steps of the ``n`` best validations."""
        return {r["step"] for r in self.validations()[:n]}

    def write(self, record, examples=()):
        self.records.append(record)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        if self.board:
            self.board.write(record, examples)

    def flush(self):
        if self.board:
            self.board.writer.flush()

    def close(self):
        if self.board:
            self.board.close()


def data_fingerprint(manifest_ids, utts, val_utts, plan):
    """What every rank must agree on before the first step: the manifest it read, the utterances it kept and their
    frames, the epoch's batch plan, the validation set."""
    crc = lambda items: zlib.crc32("\n".join(items).encode("utf-8"))      # noqa: E731
    plan_bytes = b"".join(b.astype(np.int64).tobytes() for step in plan for b in step)
    return [len(manifest_ids), crc(manifest_ids), len(utts), sum(u.frames for u in utts), crc([u.id for u in utts]),
            len(plan), zlib.crc32(plan_bytes), len(val_utts), crc([u.id for u in val_utts])]


FINGERPRINT = ("manifest lines", "manifest ids", "usable utterances", "frames", "usable ids", "steps per epoch",
               "batch plan", "validation utterances", "validation ids")


def check_ranks_agree(manifest_ids, utts, val_utts, plan, manifest):
    """Stop every rank, with one sentence naming the rank and what it lacks, unless all ranks read the same data and
    made the same plan (a file one server cannot read would give that rank other batches and step counts, and the
    ranks' collectives would wait for each other until the HCCL timeout)."""
    rows = collectives.all_gather(data_fingerprint(manifest_ids, utts, val_utts, plan))
    if (rows == rows[0]).all():
        return
    differ = [name for name, column in zip(FINGERPRINT, rows.T) if len(set(column.tolist())) > 1]
    if "manifest lines" in differ or "manifest ids" in differ:
        lines = ", ".join(f"rank {r}: {n} lines" for r, n in enumerate(rows[:, 0]))
        raise DataError(f"the ranks read different versions of {manifest} ({lines}): every server must see the same "
                        "manifest")
    kept = {u.id for u in utts}
    has = collectives.who_has([i in kept for i in manifest_ids])
    lacking = []
    for r, row in enumerate(has):
        missing = np.flatnonzero(has.any(axis=0) & ~row)
        if len(missing):
            lacking.append(f"rank {r} cannot use {len(missing)} utterance(s) another rank uses, e.g. "
                           f"{manifest_ids[missing[0]]}")
    detail = "; ".join(lacking) if lacking else f"they differ in {', '.join(differ)}"
    raise DataError(f"the ranks do not see the same training data ({detail}): every server must read the same "
                    f"files; that rank's log (train_rank<r>.log) says why it dropped them, e.g. a file it cannot read")


def find_resume(cfg, manager):
    """The checkpoint ``train.resume`` asks for, read: (path, params, meta), or None for a fresh run."""
    spec = cfg.train.resume
    if not spec:
        if manager.step_files():
            raise CheckpointError(f"{manager.dir} already holds checkpoints of another run: continue it with "
                                  "-o train.resume=auto, or choose a new train.output_dir")
        return None
    if spec == "auto":
        found = manager.load_latest()
        if found is None:
            log.info("resume=auto: no checkpoint in %s, starting a fresh run", manager.dir)
        return found
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
        raise CheckpointError(f"cannot resume mid-epoch from {path}: the batch order would differ "
                              f"({'; '.join(changed)}). Keep these settings, or resume from an epoch-end checkpoint.")


class Trainer:
    """One training run described by a config: ``Trainer(cfg).run()``."""

    def __init__(self, cfg, callbacks=()):
        self.cfg, self.callbacks = cfg, list(callbacks)
        set_device(cfg.train.device_target, launch.device_id(cfg.train.device_target, cfg.train.device_id),
                   cfg.train.dynamic_shapes)
        ms.set_seed(cfg.train.seed)
        np.random.seed(cfg.train.seed)
        self.rank, self.size = collectives.setup()
        log_buffer = setup_logging(self.rank)
        self.run_dir = RunDirectory(cfg.train.output_dir) if self.rank == 0 else None
        try:
            self._build(cfg)
        except BaseException:
            if self.run_dir:
                self.run_dir.abandon()
            raise
        os.makedirs(cfg.train.output_dir, exist_ok=True)
        attach_log_file(log_buffer, cfg.train.output_dir, self.rank)
        os.makedirs(self.manager.dir, exist_ok=True)
        # the run's position and what it has measured so far (set by _restore, advanced by the epochs)
        self.epoch = self.batch_in_epoch = self.global_step = 0
        self.pending_validation = False
        self.result = None                  # the last validation
        self.metrics = None                 # metrics.jsonl (rank 0 only)
        self.window = _new_window()         # the steps since the last metrics line
        self.unreadable = 0                 # utterances left out of this epoch's batches
        self.start_time, self.steps_run, self.train_s, self.steady_s = time.time(), 0, 0.0, 0.0

    def _build(self, cfg):
        """Data, plan, network and step: everything that can fail before anything is written."""
        resolve_frame_budget(cfg, self.size)
        self.labels = Labels.from_config(cfg.text)
        self.utts, counts = load_utterances(cfg.data.train_manifest, cfg, self.labels, purpose="train")
        if len(self.utts) < self.size:
            dropped = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items() if k not in ("total", "kept"))
            raise DataError(f"{cfg.data.train_manifest}: {len(self.utts)} usable training utterance(s) of "
                            f"{counts['total']} ({dropped or 'the manifest is empty'}); {self.size} rank(s) need at "
                            "least one each. Check the manifest, data.min_duration / data.max_duration and the "
                            "label set (text.alphabet); the log above names examples")
        self.val_utts = load_utterances(cfg.data.val_manifest, cfg, self.labels, purpose="validate")[0] \
            if cfg.data.val_manifest else []
        if cfg.augment.noise_manifest:
            check_noise(cfg)
        self.durations = [u.duration for u in self.utts]
        if self.size > 1:
            manifest_ids = [str(e["id"]) for e in read_manifest(cfg.data.train_manifest)]
            check_ranks_agree(manifest_ids, self.utts, self.val_utts, self.plan(0), cfg.data.train_manifest)
        plan = self.plan(0)
        self.steps_per_epoch = len(plan)
        self.total_steps = self.steps_per_epoch * cfg.train.epochs
        largest = max(len(b) * int(padded(plan_frames(max(self.utts[i].frames for i in b), cfg),
                                          frame_multiple(cfg))) for step in plan for b in step)
        self.workers, warning = shared_memory_workers(usable_workers(cfg.data.num_workers),
                                                      largest * num_bins(cfg.features) * 4, launch.local_ranks())
        if warning:
            log.warning("%s", warning)

        self.network = build_model(cfg)
        if cfg.train.device_target == "CPU" and cpu_lstm.wanted(cfg.model.rnn_hidden):   # the compiled LSTM's
            cpu_lstm.set_threads(max(1, usable_cores() // launch.local_ranks()))         # threads: this rank's cores
        self.step = build_train_step(cfg, self.network, self.total_steps, self.size,
                                     steps_per_epoch=self.steps_per_epoch)
        self.eval_cell = EvalCell(self.step.loss_cell)
        if cfg.train.dynamic_shapes:
            self.eval_cell.set_inputs(*self.step.loss_cell.input_signature())
        self.state = checkpoint.training_state(self.network, self.step.optimizer, self.step.scaler)
        self.manager = checkpoint.CheckpointManager(cfg.train.output_dir, cfg.train.keep_checkpoints, create=False)

    def plan(self, epoch):
        return epoch_plan(self.utts, self.cfg, self.size, epoch)

    def meta(self, epoch, batch):
        best = self.metrics.best() if self.metrics else None
        return {"epoch": epoch, "batch_in_epoch": batch, "global_step": self.global_step,
                "best_wer": best["val_wer"] if best else float("inf"),
                "best_cer": best["val_cer"] if best else float("inf"), "world_size": self.size,
                "config": json.dumps(to_dict(self.cfg))}

    def validation_due(self, epochs_done):
        return bool(self.val_utts) and (epochs_done % self.cfg.train.val_every_epochs == 0
                                        or epochs_done == self.cfg.train.epochs)

    def _restore(self):
        """Resume (rank 0 reads the checkpoint) and give every rank rank 0's state and position."""
        cfg, resume = self.cfg, find_resume(self.cfg, self.manager) if self.rank == 0 else None
        if resume:
            path, params, meta = resume
            checkpoint.restore(self.state, params, path)
            self.epoch, self.batch_in_epoch = int(meta["epoch"]), int(meta["batch_in_epoch"])
            self.global_step = int(meta["global_step"])
            check_same_data_order(meta, cfg, self.size, path)
            log.info("resumed from %s: epoch %d, batch %d, step %d", path, self.epoch, self.batch_in_epoch,
                     self.global_step)
        if self.rank == 0:
            resume_step = self.global_step if resume else None
            board = Board(cfg.train.output_dir, resume_step) if cfg.train.tensorboard else None
            self.metrics = MetricsWriter(os.path.join(cfg.train.output_dir, "metrics.jsonl"), resume_step, board)
        if self.metrics:
            self.manager.protected = self.metrics.best_steps(cfg.train.keep_best)
        # an epoch-end checkpoint whose validation never ran (killed in between): run it first
        pending = int(bool(resume) and self.batch_in_epoch == 0 and self.validation_due(self.epoch)
                      and not self.metrics.validated(self.global_step))
        if self.size > 1:
            self.epoch, self.batch_in_epoch, self.global_step, pending = collectives.sync_from_rank0(
                self.state, [self.epoch, self.batch_in_epoch, self.global_step, pending])
            log.info("rank %d of %d: state of rank 0 %s, epoch %d, batch %d, step %d", self.rank, self.size,
                     "sent to every rank" if self.rank == 0 else "received", self.epoch, self.batch_in_epoch,
                     self.global_step)
        self.pending_validation = bool(pending)
        if self.rank == 0:
            save_config(cfg, os.path.join(cfg.train.output_dir, "config.yaml"))
            n_params = sum(int(np.prod(p.shape)) for p in self.network.trainable_params())
            log.info("DeepSpeech2: %s parameters, %d utterances (%.2f h), %d steps/epoch × %d epochs, %d rank(s), %s",
                     f"{n_params:,}", len(self.utts), sum(self.durations) / 3600, self.steps_per_epoch,
                     cfg.train.epochs, self.size, cfg.train.device_target)

    def run(self):
        """Train (or resume) to ``train.epochs``; returns the last validation result (or None)."""
        try:
            return self._run()
        finally:
            if self.metrics:
                self.metrics.close()
            if self.run_dir:
                self.run_dir.release()

    def _run(self):
        self._restore()
        for callback in self.callbacks:
            callback.on_start(self.rank, self.state)
        if self.pending_validation:
            log.info("the checkpoint of step %d ended epoch %d before its validation: validating now",
                     self.global_step, self.epoch - 1)
            self._validate(self.epoch)
        self.start_time, self.steps_run, self.steady_s = time.time(), 0, 0.0
        self.train_s = self.metrics.records[-1].get("train_s", 0.0) if self.metrics and self.metrics.records else 0.0
        if self.epoch >= self.cfg.train.epochs and self.rank == 0:
            log.info("training already finished: %d steps, %d of %d epochs in %s (raise train.epochs to go on)",
                     self.global_step, self.epoch, self.cfg.train.epochs, self.cfg.train.output_dir)
        while self.epoch < self.cfg.train.epochs:
            self._train_epoch()
            self.epoch, self.batch_in_epoch = self.epoch + 1, 0
            self._end_epoch()
        for callback in self.callbacks:
            callback.on_end(self.rank, self.state)
        if self.rank == 0 and self.steps_run:
            log.info("training finished: %d steps, %d in %s here", self.global_step, self.steps_run,
                     _hms(time.time() - self.start_time))
        return self.result

    def _train_epoch(self):
        """One epoch (from ``batch_in_epoch`` when resuming). The device is read once per logging window, never per
        step, so that host work (the next batch, the logging) overlaps the device's."""
        cfg, plan = self.cfg, self.plan(self.epoch)
        batches = [s[self.rank] for s in plan]
        source = BatchSource(self.utts, batches, cfg, self.epoch, self.rank, augment=True, start=self.batch_in_epoch)
        self.window, self.unreadable = _new_window(), 0
        t_last = time.time()
        data = make_dataset(source, self.workers).create_tuple_iterator(num_epochs=1, output_numpy=True)
        for i, (x, xl, y, yl) in enumerate(data):
            index = self.batch_in_epoch + i
            self.step(ms.Tensor(x), ms.Tensor(xl), ms.Tensor(y), ms.Tensor(yl))
            now = time.time()
            self.global_step += 1
            self.steps_run += 1
            for callback in self.callbacks:
                callback.after_step(self.rank, self.global_step, self.state)
            self.unreadable += len(batches[index]) - (0 if is_unreadable_batch(x) else len(xl))
            w = self.window
            w["utts"] += len(xl) * self.size
            w["audio"] += float(sum(self.durations[j] for j in batches[index])) * self.size
            w["time"] += now - t_last
            self.train_s += now - t_last
            if self.steps_run > 1:                # the process's first step compiles the graph: not in the ETA
                self.steady_s += now - t_last
            t_last = now
            last = index + 1 == len(batches)
            if self.global_step % cfg.train.log_every == 0 or last:
                self._end_window(index, len(batches), now)
            if cfg.train.ckpt_every and self.global_step % cfg.train.ckpt_every == 0 and not last:
                self._save(self.meta(self.epoch, index + 1))
        if self.unreadable:
            log.warning("epoch %d: %d utterance(s) could not be read and were left out (see the warnings above)",
                        self.epoch, self.unreadable)

    def _end_window(self, index, n_batches, now):
        """Every rank reads its step's window at the same steps (the verdicts are shared, so the windows agree):
        the divergence guard; rank 0 writes the metrics line."""
        cfg, w = self.cfg, self.window
        d = self.step.read_window()
        applied = int(self.step.optimizer.global_step.asnumpy().reshape(-1)[0])
        scale = float(self.step.scaler.scale_value.asnumpy())
        if d["skipped"]:
            log.warning("steps %d–%d: %d update(s) skipped on every rank (%d without readable audio, %d with a "
                        "non-finite loss or gradient); loss scale now %g", self.global_step - int(d["steps"]) + 1,
                        self.global_step, d["skipped"], d["no_data"], d["skipped"] - d["no_data"], scale)
        if d["most_consecutive_skips"] >= MAX_CONSECUTIVE_SKIPS:
            raise FloatingPointError(
                f"{int(d['most_consecutive_skips'])} consecutive steps with non-finite loss or gradients (by step "
                f"{self.global_step}): the run has diverged; resume from an earlier checkpoint with a lower train.lr")
        if self.rank != 0:
            return
        n, updates = max(1, int(d["steps"])), int(d["updates"])
        steady = self.steady_s / max(1, self.steps_run - 1)
        eta = steady * (self.total_steps - self.global_step)
        record = {"step": self.global_step, "epoch": self.epoch, "batch": index + 1,
                  "loss": d["loss_sum"] / updates if updates else None,
                  "lr": lr_at(applied, cfg.train, self.total_steps, self.steps_per_epoch),
                  "grad_norm": d["grad_norm_sum"] / updates if updates else None,
                  "grad_norm_max": d["grad_norm_max"] if updates else None,
                  "clipped_steps": int(d["clipped"]), "skipped_steps": int(d["skipped"]), "steps": n,
                  "step_time": w["time"] / n, "utterances_per_s": w["utts"] / w["time"],
                  "audio_s_per_s": w["audio"] / w["time"], "loss_scale": scale,
                  "train_s": round(self.train_s, 2)}    # training time so far, validation and checkpoints excluded
        self.metrics.write(record)
        log.info("epoch %d %s %d/%d step %d loss %s lr %.2e |g| %s (%d clipped) %.2fs/step %.1f audio-s/s ETA %s",
                 self.epoch, _bar((index + 1) / n_batches), index + 1, n_batches, self.global_step,
                 "n/a" if record["loss"] is None else f"{record['loss']:.4f}", record["lr"],
                 "n/a" if record["grad_norm"] is None else f"{record['grad_norm']:.2f}", record["clipped_steps"],
                 record["step_time"], record["audio_s_per_s"], _hms(eta) if self.steps_run > 1 else "after step 2")
        self.window = _new_window()

    def _save(self, meta):
        """Called by every rank at the same steps. BatchNorm's moving statistics are per rank: each checkpoint holds
        their mean over the ranks, and every rank continues from it (so a resumed run equals an uninterrupted one)."""
        if self.size > 1:
            collectives.average_over_ranks([p for n, p in self.state.items() if "moving_" in n])
        if self.rank == 0:
            if self.metrics:                    # TensorBoard's events are on disk before the checkpoint exists
                self.metrics.flush()
            self.manager.save(self.state, meta)

    def _end_epoch(self):
        """Checkpoint first (nothing of the epoch is lost if validation fails), then validation."""
        self._save(self.meta(self.epoch, 0))
        for callback in self.callbacks:
            callback.before_validation(self.rank, self.epoch)
        if self.validation_due(self.epoch):
            self._validate(self.epoch)

    def _validate(self, epochs_done):
        """Every rank scores its shard; rank 0 saves ``best.ckpt`` if better (``metrics.validation_key``), then writes
        the metrics row (so a row means the epoch end is complete). A validation that scored nothing (no readable
        audio) writes a row without scores: it can never become the best."""
        result = validate(self.eval_cell, self.val_utts, self.cfg, self.labels, self.rank, self.size,
                          examples=TRANSCRIPTS_SHOWN if self.rank == 0 else 0)
        examples = result.pop("examples", ())
        self.result = result
        if self.rank != 0:
            return
        row = {"step": self.global_step, "epoch": epochs_done - 1, **result,
               "train_s": round(getattr(self, "train_s", 0.0), 2)}
        if not is_scored(row):
            log.error("epoch %d validation scored nothing: none of its %d utterances could be read (see the warnings "
                      "above); no best checkpoint from it", epochs_done - 1, result["val_unreadable"])
        else:
            log.info("epoch %d validation: loss %.4f WER %.2f CER %.2f (%.2f without spaces) (%d utterances)",
                     epochs_done - 1, result["val_loss"], result["val_wer"], result["val_cer"],
                     result["val_cer_nospace"], result["val_utterances"])
            best = self.metrics.best()
            if best is None or validation_key(row) < validation_key(best):
                self.manager.save_best(self.state, self.meta(epochs_done, 0))
            elif best["step"] == min(r["step"] for r in self.metrics.validations()):
                log.warning("best.ckpt is still the first validation's model (epoch %d, CER %.2f): the validation CER "
                            "has not improved since", best["epoch"], best["val_cer"])
        self.metrics.write(row, examples)
        self.manager.protected = self.metrics.best_steps(self.cfg.train.keep_best)
        self.manager.prune()


def _new_window():
    """The host's side of a logging window (the device's: TrainStep.window)."""
    return {"utts": 0, "audio": 0.0, "time": 0.0}


def train(cfg, callbacks=None):
    """Run (or resume) the training described by ``cfg``. Returns the last validation result (or None)."""
    return Trainer(cfg, test_callbacks.from_env() if callbacks is None else callbacks).run()


def _bar(fraction, width=20):
    filled = int(round(fraction * width))
    return "[" + "#" * filled + "." * (width - filled) + "]"


def _hms(seconds):
    seconds = int(seconds)
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
