"""Manifests → utterances → length-bucketed, sharded batch plans → padded batches.

One row type (:class:`Utterance`) and one batching function (:func:`load_batch`) serve training, validation and
evaluation. The plan (which utterances form which batch on which rank, in which order) is pure NumPy and a
function of (durations, batch size, world size, seed, epoch), so every rank computes the same plan without
talking to the others, and a resumed run can skip exactly the batches it has already trained on.
"""
import collections
import dataclasses
import logging

import numpy as np

from mindaudio.data.augment import spec_augment
from mindaudio.data.features import AudioError, load_audio, num_bins, num_frames, spectrogram
from mindaudio.data.manifest import read_manifest
from mindaudio.models.geometry import Geometry, ctc_min_frames

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
int32; T is the longest utterance's frames rounded up to a multiple of ``data.pad_to_multiple``."""

# what each purpose keeps: training drops everything CTC cannot learn from; validation keeps what CTC can score;
# evaluation keeps every line (each is scored exactly once)
PURPOSES = ("train", "validate", "eval")


def load_utterances(manifest_path, cfg, labels, purpose="train"):
    """Read a manifest and keep the utterances ``purpose`` can use; every dropped utterance is counted by reason and
    the counts are logged. Returns (utterances, counts)."""
    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {PURPOSES}")
    entries = read_manifest(manifest_path)
    geometry = Geometry(cfg.model, num_bins(cfg.features))
    counts = collections.Counter(total=len(entries))
    unknown = collections.Counter()
    kept = []
    for e in entries:
        duration = float(e["duration"])
        text = labels.normalize(e["text"])
        bad = labels.unknown_chars(text)
        frames = num_frames(int(round(duration * cfg.features.sample_rate)), cfg.features)
        tokens = np.zeros(0, np.int32) if bad else np.asarray(labels.encode(text), dtype=np.int32)
        reason = None
        if purpose == "train" and duration < cfg.data.min_duration:
            reason = "too_short"
        elif purpose == "train" and duration > cfg.data.max_duration:
            reason = "too_long"
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
    dropped = {k: v for k, v in counts.items() if k not in ("total", "kept") and v}
    log.info("%s: %d of %d utterances kept for %s (%.2f h)%s", manifest_path, len(kept), len(entries), purpose,
             sum(u.duration for u in kept) / 3600, f"; dropped {dropped}" if dropped else "")
    if unknown:
        log.warning("%s: characters outside the label set (utterances dropped): %s", manifest_path, dict(unknown))
    return kept, dict(counts)


def batch_plan(durations, batch_size, world_size=1, epoch=0, seed=0, sortagrad=True):
    """Split utterances into batches of similar duration, shared out over ranks.

    Returns ``plan[step][rank]`` = array of utterance indices. Utterances are sorted by duration and cut into
    ``steps * world_size`` contiguous groups whose sizes differ by at most one (all ≤ batch_size); group
    ``step * world_size + rank`` goes to ``rank``. So every utterance is used exactly once per epoch, every rank
    runs the same number of steps, and the ranks of one step get neighbouring lengths. Epoch 0 with SortaGrad
    keeps the steps in order of duration; otherwise their order is shuffled from (seed, epoch).
    """
    n = len(durations)
    steps = -(-n // (batch_size * world_size))
    if n < steps * world_size or n == 0:
        raise ValueError(f"{n} utterances cannot fill {world_size} rank(s) with at least one utterance each")
    order = np.argsort(np.asarray(durations), kind="stable")
    groups = np.array_split(order, steps * world_size)
    plan = [[groups[s * world_size + r] for r in range(world_size)] for s in range(steps)]
    if not (sortagrad and epoch == 0):
        perm = np.random.default_rng([seed, epoch]).permutation(steps)
        plan = [plan[i] for i in perm]
    return plan


def collate(feats, tokens, pad_to_multiple=1):
    """feats: list of [F, T_i]; tokens: list of [S_i] → :class:`Batch` (zero padding)."""
    lens = np.array([f.shape[1] for f in feats], dtype=np.int32)
    t_max = int(-(-lens.max() // pad_to_multiple) * pad_to_multiple)
    x = np.zeros((len(feats), 1, feats[0].shape[0], t_max), dtype=np.float32)
    for b, f in enumerate(feats):
        x[b, 0, :, :f.shape[1]] = f
    t_lens = np.array([len(t) for t in tokens], dtype=np.int32)
    y = np.zeros((len(tokens), max(1, int(t_lens.max()))), dtype=np.int32)
    for b, t in enumerate(tokens):
        y[b, :len(t)] = t
    return Batch(x, lens, y, t_lens)


def load_batch(utts, cfg, rng=None):
    """Read, featurise and pad ``utts`` (SpecAugment with ``rng`` if given) → (Batch or None, indices of the
    utterances in it, {index: message} for those whose audio could not be read)."""
    feats, tokens, kept, failures = [], [], [], {}
    for i, u in enumerate(utts):
        try:
            f = spectrogram(load_audio(u.audio_filepath, cfg.features.sample_rate), cfg.features)
        except AudioError as e:
            failures[i] = str(e)
            continue
        if rng is not None:
            f = spec_augment(f, cfg.augment, rng)
        feats.append(f)
        tokens.append(u.tokens)
        kept.append(i)
    batch = collate(feats, tokens, cfg.data.pad_to_multiple) if feats else None
    return batch, kept, failures


class BatchSource:
    """Random-access source of padded training batches for one rank and one epoch (what GeneratorDataset needs).

    Item i → the four arrays of a :class:`Batch`. SpecAugment masks are drawn from (seed, epoch, rank, batch), so
    a resumed run sees the same batches."""

    def __init__(self, utterances, batches, cfg, epoch=0, rank=0, augment=False, start=0):
        self.utts = utterances
        self.batches = batches
        self.cfg = cfg
        self.epoch, self.rank = epoch, rank
        self.augment = augment and cfg.augment.enabled
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
    pad = cfg.data.pad_to_multiple
    return Batch(np.full((1, 1, num_bins(cfg.features), pad), np.nan, np.float32), np.array([pad], np.int32),
                 np.ones((1, 1), np.int32), np.ones(1, np.int32))


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


def make_dataset(source, num_workers=1):
    """Wrap a BatchSource in a MindSpore GeneratorDataset (one row = one batch), in order, with worker processes."""
    import mindspore.dataset as ds
    workers = max(1, min(num_workers, len(source)))
    return ds.GeneratorDataset(source, column_names=list(Batch._fields), shuffle=False,
                               num_parallel_workers=workers, python_multiprocessing=workers > 1)
