"""Manifests → utterances → length-bucketed, sharded batch plans → padded batches.

One row type (:class:`Utterance`) and one batching function (:func:`load_batch`) serve training, validation and
evaluation. The plan (which utterances form which batch on which rank, in which order) is pure NumPy and a
function of (lengths, batch size, frame budget, world size, seed, epoch), so every rank computes the same plan without
talking to the others, and a resumed run can skip exactly the batches it has already trained on.
"""
import collections
import concurrent.futures
import dataclasses
import logging
import shutil

import numpy as np

from mindaudio.data import audio
from mindaudio.data.augment import Augmenter, slowest_speed
from mindaudio.data.features import spectrogram
from mindaudio.data.manifest import read_manifest
from mindaudio.errors import AudioError
from mindaudio.geometry import Geometry, ctc_min_frames, num_bins, num_frames

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Utterance:
    """One manifest line, as every stage uses it."""
    id: str
    audio_filepath: str
    duration: float
    text: str              # normalised (upper case, single spaces): the reference that is scored
    frames: int            # spectrogram frames
    tokens: np.ndarray     # [S] int32 class indices (empty if the text cannot be encoded)


Batch = collections.namedtuple("Batch", "feats feat_lens targets target_lens")
Batch.__doc__ = """feats [B, 1, F, T] float32, feat_lens [B] int32, targets [B, S] int32 (zero-padded), target_lens [B]
int32; T is the longest utterance's frames rounded up to a multiple of ``frame_multiple(cfg)``."""

# what each purpose keeps: training drops everything CTC cannot learn from; validation keeps what CTC can score;
# evaluation keeps every line (each is scored exactly once)
PURPOSES = ("train", "validate", "eval")


def audio_headers(paths, workers=8):
    """(sample rate, frames) read from each file's header, or the error message: cheap (no decoding)."""
    def info(path):
        try:
            return audio.info(path)[:2]
        except AudioError as e:
            return str(e)
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return list(pool.map(info, paths))


def load_utterances(manifest_path, cfg, labels, purpose="train"):
    """Read a manifest and keep the utterances ``purpose`` can use; every dropped utterance is counted by reason and
    the counts are logged. Returns (utterances, counts).

    For training and validation each file's header is read: a missing or unreadable file, or one not at
    ``features.sample_rate``, is dropped and counted; a ``duration`` that disagrees with the file (by more than
    0.1 s and 5 %) is replaced by the real one and counted, so that filters and batches see the real length."""
    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {PURPOSES}")
    entries = read_manifest(manifest_path)
    geometry = Geometry.of(cfg)
    counts = collections.Counter(total=len(entries))
    unknown = collections.Counter()
    headers = audio_headers([e["audio_filepath"] for e in entries]) if purpose != "eval" else [None] * len(entries)
    kept, examples = [], {}
    for e, header in zip(entries, headers):
        duration = float(e["duration"])
        if isinstance(header, str) or (header and header[0] != cfg.features.sample_rate):
            reason = "unreadable_audio" if isinstance(header, str) else "wrong_sample_rate"
            counts[reason] += 1
            examples.setdefault(reason, header if isinstance(header, str) else f"{e['audio_filepath']}: "
                                f"{header[0]} Hz, expected {cfg.features.sample_rate} (run the preparation script)")
            continue
        if header:
            real = header[1] / header[0]
            if abs(real - duration) > max(0.1, 0.05 * real):
                counts["duration_corrected"] += 1
                examples.setdefault("duration_corrected", f"{e['id']}: manifest says {duration:g} s, the file "
                                    f"holds {real:.2f} s")
            duration = real
        text = labels.normalize(e["text"])
        bad = labels.unknown_chars(text)
        frames = num_frames(int(round(duration * cfg.features.sample_rate)), cfg.features)
        tokens = np.zeros(0, np.int32) if bad else np.asarray(labels.encode(text), dtype=np.int32)
        reason = None
        if purpose == "train" and duration < cfg.data.min_duration:
            reason = "too_short"
        elif purpose == "train" and duration > cfg.data.max_duration:
            reason = "too_long"
        elif purpose == "train" and cfg.data.max_frames_per_batch and \
                padded(plan_frames(frames, cfg), frame_multiple(cfg)) > cfg.data.max_frames_per_batch:
            reason = "over_frame_budget"
        elif bad and purpose != "eval":
            reason = "unknown_characters"
            unknown.update(bad)
        elif not text and purpose != "eval":
            reason = "empty_text"
        elif purpose != "eval" and geometry.output_frames(frames) < ctc_min_frames(tokens):
            reason = "audio_shorter_than_transcript"
        if reason:
            counts[reason] += 1
            continue
        kept.append(Utterance(str(e["id"]), e["audio_filepath"], duration, text, frames, tokens))
    counts["kept"] = len(kept)
    dropped = {k: v for k, v in counts.items() if k not in ("total", "kept", "duration_corrected") and v}
    log.info("%s: %d of %d utterances kept for %s (%.2f h)%s", manifest_path, len(kept), len(entries), purpose,
             sum(u.duration for u in kept) / 3600, f"; dropped {dropped}" if dropped else "")
    for reason, example in examples.items():
        n = counts[reason]
        log.warning("%s: %d utterance(s) %s, e.g. %s", manifest_path, n,
                    "with a wrong duration, corrected from the file" if reason == "duration_corrected"
                    else f"dropped ({reason.replace('_', ' ')})", example)
    if unknown:
        log.warning("%s: characters outside the label set (utterances dropped): %s", manifest_path, dict(unknown))
    return kept, dict(counts)


def padded(frames, pad_to_multiple):
    """Frames rounded up to a multiple of ``pad_to_multiple`` (what a batch's longest utterance pads to)."""
    return -(-np.asarray(frames) // pad_to_multiple) * pad_to_multiple


def plan_frames(frames, cfg):
    """The frames a training utterance is planned at: its own, or with speed perturbation the most it can become
    (its frames / the slowest factor), so that no draw overflows the frame budget."""
    slowest = slowest_speed(cfg)
    return frames if slowest == 1 else np.ceil(np.asarray(frames) / slowest).astype(int)


def batch_plan(frames, batch_size, world_size=1, epoch=0, seed=0, sortagrad=True, max_frames=0, pad_to_multiple=1):
    """Split utterances into batches of similar length, shared out over ranks.

    Returns ``plan[step][rank]`` = array of utterance indices. Utterances are sorted by length and cut into
    ``steps * world_size`` contiguous groups; group ``step * world_size + rank`` goes to ``rank``. So every
    utterance is used exactly once per epoch, every rank runs the same number of steps, and the ranks of one step
    get neighbouring lengths. A group holds at most ``batch_size`` utterances and, if ``max_frames`` is set, at
    most ``max_frames`` padded frames (its size × its longest utterance's padded length): batches of long
    utterances hold fewer of them. Groups are cut from the longest end, each taking its fair share of what is
    left (⌈remaining / groups left⌉) unless its budget allows fewer, so sizes stay balanced; if the groups do not
    suffice, ``world_size`` more are tried. Epoch 0 with SortaGrad keeps the steps in order of length (shortest
    first); otherwise their order is shuffled from (seed, epoch).
    """
    frames = np.asarray(frames)
    n = len(frames)
    if n < world_size or n == 0:
        raise ValueError(f"{n} utterances cannot fill {world_size} rank(s) with at least one utterance each")
    order = np.argsort(frames, kind="stable")[::-1]                          # longest first
    caps = np.full(n, batch_size)
    if max_frames:
        caps = np.minimum(batch_size, max_frames // padded(frames[order], pad_to_multiple))
        if caps.min() < 1:
            raise ValueError(f"an utterance of {int(frames.max())} frames exceeds the frame budget of {max_frames}")
    groups_needed = world_size * -(-n // (batch_size * world_size))
    fewest, start = 0, 0                      # no plan has fewer groups than taking each group's cap from the longest
    while start < n:
        start += int(caps[start])
        fewest += 1
    groups_needed += world_size * max(0, -(-(fewest - groups_needed) // world_size))
    while True:
        groups, start = [], 0
        for g in range(groups_needed):
            if start == n:
                raise ValueError(f"{n} utterances cannot fill {groups_needed // world_size} step(s) of {world_size} "
                                 f"rank(s) with batches of at most {batch_size}: every rank needs a batch at every "
                                 "step; use another batch size, number of ranks, or more utterances")
            size = min(int(caps[start]), -(-(n - start) // (groups_needed - g)))
            groups.append(order[start:start + size])
            start += size
        if start == n:
            break
        groups_needed += world_size
    groups = groups[::-1]                                                      # shortest first
    plan = [[groups[s * world_size + r] for r in range(world_size)] for s in range(groups_needed // world_size)]
    if not (sortagrad and epoch == 0):
        perm = np.random.default_rng([seed, epoch]).permutation(len(plan))
        plan = [plan[i] for i in perm]
    return plan


def epoch_plan(utts, cfg, world_size=1, epoch=0):
    """:func:`batch_plan` of training utterances under ``cfg`` (batch size, frame budget, padding, seed)."""
    return batch_plan(plan_frames([u.frames for u in utts], cfg), cfg.train.batch_size, world_size, epoch,
                      cfg.train.seed, cfg.data.sortagrad, cfg.data.max_frames_per_batch, frame_multiple(cfg))


def frame_multiple(cfg):
    """What batches pad their length to a multiple of: ``data.pad_to_multiple``, or with ``train.dynamic_shapes``
    false the coarser ``data.static_pad_multiple`` (each padded shape is one compiled graph)."""
    if cfg.train.dynamic_shapes:
        return cfg.data.pad_to_multiple
    return max(cfg.data.pad_to_multiple, cfg.data.static_pad_multiple)


def static_target_length(cfg):
    """Under static shapes, targets pad to a width that depends on the padded length only: half the network's
    output frames (25 characters a second; LibriSpeech averages 15), rounded up to 16, or the longest target if
    a transcript is longer. None under dynamic shapes (targets pad to the batch's longest)."""
    if cfg.train.dynamic_shapes:
        return None
    geometry = Geometry.of(cfg)
    return lambda t_pad, longest: int(16 * -(-max(int(geometry.output_frames(t_pad)) // 2, longest) // 16))


def collate(feats, tokens, pad_to_multiple=1, target_length=None):
    """feats: list of [F, T_i]; tokens: list of [S_i] → :class:`Batch` (zero padding). ``target_length``:
    (padded frames, longest target) → target width, or None for the longest target."""
    lens = np.array([f.shape[1] for f in feats], dtype=np.int32)
    t_max = int(-(-lens.max() // pad_to_multiple) * pad_to_multiple)
    x = np.zeros((len(feats), 1, feats[0].shape[0], t_max), dtype=np.float32)
    for b, f in enumerate(feats):
        x[b, 0, :, :f.shape[1]] = f
    t_lens = np.array([len(t) for t in tokens], dtype=np.int32)
    width = max(1, int(t_lens.max()))
    y = np.zeros((len(tokens), target_length(t_max, width) if target_length else width), dtype=np.int32)
    for b, t in enumerate(tokens):
        y[b, :len(t)] = t
    return Batch(x, lens, y, t_lens)


def load_batch(utts, cfg, rng=None):
    """Read, featurise and pad ``utts`` (augmented from ``rng`` if given: training only) → (Batch or None, indices
    of the utterances in it, {index: message} for those whose audio could not be read)."""
    feats, tokens, kept, failures = [], [], [], {}
    augment = Augmenter(cfg, rng) if rng is not None else None
    geometry = Geometry.of(cfg)
    for i, u in enumerate(utts):
        try:
            samples = audio.read(u.audio_filepath, cfg.features.sample_rate)
            if augment:
                samples = augment.waveform(samples, lambda n: geometry.output_frames(
                    num_frames(n, cfg.features)) >= ctc_min_frames(u.tokens))
            f = spectrogram(samples, cfg.features)
        except AudioError as e:
            failures[i] = str(e)
            continue
        if augment:
            f = augment.features(f)
        feats.append(f)
        tokens.append(u.tokens)
        kept.append(i)
    batch = collate(feats, tokens, frame_multiple(cfg), static_target_length(cfg)) if feats else None
    return batch, kept, failures


class BatchSource:
    """Random-access source of padded training batches for one rank and one epoch (what GeneratorDataset needs).

    Item i → the four arrays of a :class:`Batch`. Augmentation is drawn from (seed, epoch, rank, batch), so a
    resumed run sees the same batches."""

    def __init__(self, utterances, batches, cfg, epoch=0, rank=0, augment=False, start=0):
        self.utts = utterances
        self.batches = batches
        self.cfg = cfg
        self.epoch, self.rank = epoch, rank
        self.augment = augment and epoch >= cfg.augment.start_epoch
        self.start = start  # batches already consumed this epoch (resume)

    def __len__(self):
        return len(self.batches) - self.start

    def __getitem__(self, i):
        index = self.start + int(i)
        utts = [self.utts[j] for j in self.batches[index]]
        rng = np.random.default_rng([self.cfg.train.seed, self.epoch, self.rank, index]) if self.augment else None
        batch, _, failures = load_batch(utts, self.cfg, rng)
        for i, message in failures.items():   # a file broken after preparation: left out of this batch, loudly
            log.warning("utterance %s left out of epoch %d batch %d: %s", utts[i].id, self.epoch, index, message)
        if batch is None:
            log.warning("epoch %d batch %d: no readable audio among %s; every rank skips this step", self.epoch,
                        index, [u.id for u in utts])
            return tuple(unreadable_batch(self.cfg))
        return tuple(batch)


def unreadable_batch(cfg):
    """What a training batch with no readable audio becomes: one utterance of NaN features, so that the train step
    finds the loss non-finite and every rank skips the update together (the ranks must still take the step)."""
    pad, width = frame_multiple(cfg), static_target_length(cfg)
    width = width(frame_multiple(cfg), 1) if width else 1
    return Batch(np.full((1, 1, num_bins(cfg.features), pad), np.nan, np.float32), np.array([pad], np.int32),
                 np.ones((1, width), np.int32), np.ones(1, np.int32))


def is_unreadable_batch(feats):
    return bool(np.isnan(feats.flat[0]))


def eval_batches(utts, cfg, batch_size, rank=0, size=1):
    """Batches of ``batch_size`` neighbouring durations over ``utts``, for validation and evaluation; with
    ``size`` ranks, only every ``size``-th batch from ``rank`` on (each rank scores its share, once).
    Yields (indices into ``utts``, Batch or None, {index: message} for unreadable audio)."""
    order = np.argsort([u.duration for u in utts], kind="stable")
    for start in range(rank * batch_size, len(order), batch_size * size):
        indices = [int(i) for i in order[start:start + batch_size]]
        batch, kept, failures = load_batch([utts[i] for i in indices], cfg)
        yield [indices[k] for k in kept], batch, {indices[k]: m for k, m in failures.items()}


def shared_memory_workers(workers, row_bytes, local_ranks=1, shm_free=None, prefetch=16):
    """How many feature workers the shared memory holds → (workers, a warning or None).

    With several workers, MindSpore passes each batch from a worker to the trainer through /dev/shm, up to
    max(2, min(prefetch, 4·prefetch / workers)) + 2 batches per worker (its own estimate), for every rank on the
    server. Docker's default /dev/shm is 64 MB, and a 90,000-frame batch is ~58 MB: the workers would fail at once.
    When they do not fit in 80 % of what is free, fewer workers are used (one worker passes batches in memory, no
    shared memory at all), with the fix in the warning."""
    if workers <= 1:
        return workers, None
    if shm_free is None:
        try:
            shm_free = shutil.disk_usage("/dev/shm").free
        except OSError:
            return workers, None                    # no /dev/shm: MindSpore uses another mechanism
    def need(w):
        return local_ranks * w * (max(2, min(prefetch, prefetch * 4 // w)) + 2) * row_bytes
    fits = next((w for w in range(workers, 1, -1) if need(w) <= 0.8 * shm_free), 1)
    if fits == workers:
        return workers, None
    return fits, (f"/dev/shm has {shm_free / 2 ** 30:.2f} GB free, and {workers} feature workers × {local_ranks} "
                  f"rank(s) would queue up to {need(workers) / 2 ** 30:.1f} GB of batches there: using {fits} "
                  f"worker(s) instead, which may slow training. For all {workers}: give the container more shared "
                  f"memory (docker run --shm-size={int(need(workers) / 0.8 / 2 ** 30) + 1}g), or lower "
                  "data.max_frames_per_batch")


def make_dataset(source, num_workers=1):
    """Wrap a BatchSource in a MindSpore GeneratorDataset (one row = one batch), in order, with worker processes."""
    import mindspore.dataset as ds
    workers = max(1, min(num_workers, len(source)))
    return ds.GeneratorDataset(source, column_names=list(Batch._fields), shuffle=False,
                               num_parallel_workers=workers, python_multiprocessing=workers > 1)
