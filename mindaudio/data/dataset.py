"""Manifests → filtered utterances → length-bucketed, sharded batch plans → padded batches.

The plan (which utterances form which batch on which rank, in which order) is pure NumPy and a function of
(durations, batch size, world size, seed, epoch), so every rank computes the same plan without talking to the
others, and a resumed run can skip exactly the batches it has already trained on.
"""
import dataclasses
import logging

import numpy as np

from mindaudio.data.augment import spec_augment
from mindaudio.data.features import AudioError, load_audio, num_bins, num_frames, spectrogram
from mindaudio.data.manifest import read_manifest

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Utterance:
    id: str
    audio_filepath: str
    duration: float
    text: str
    frames: int            # spectrogram frames
    tokens: np.ndarray     # [S] int32 class indices


def output_frames(frames, time_kernel=11):
    """Frames after the network's convolutions (time stride 2, then 1, 'same' padding): T → ⌊(T − 1) / 2⌋ + 1."""
    pad = time_kernel // 2
    return (np.asarray(frames) + 2 * pad - time_kernel) // 2 + 1


def ctc_min_frames(tokens):
    """Shortest output CTC can align to ``tokens``: one frame per label plus a blank between repeated labels."""
    tokens = np.asarray(tokens)
    return len(tokens) + int(np.sum(tokens[1:] == tokens[:-1]))


def load_utterances(manifest_path, cfg, labels, for_training=True):
    """Read a manifest and keep the utterances the trainer can use; every dropped utterance is counted by reason
    and the counts are logged. Returns (utterances, counts)."""
    entries = read_manifest(manifest_path)
    counts = {"total": len(entries), "kept": 0, "too_short": 0, "too_long": 0, "empty_text": 0,
              "unknown_characters": 0, "audio_shorter_than_transcript": 0}
    unknown = {}
    kept = []
    for e in entries:
        duration = float(e["duration"])
        if for_training and duration < cfg.data.min_duration:
            counts["too_short"] += 1
            continue
        if for_training and duration > cfg.data.max_duration:
            counts["too_long"] += 1
            continue
        text = labels.normalize(e["text"])
        bad = labels.unknown_chars(text)
        if bad:
            counts["unknown_characters"] += 1
            for ch, n in bad.items():
                unknown[ch] = unknown.get(ch, 0) + n
            continue
        if for_training and not text:
            counts["empty_text"] += 1
            continue
        tokens = np.asarray(labels.encode(text), dtype=np.int32)
        frames = num_frames(int(round(duration * cfg.features.sample_rate)), cfg.features)
        if for_training and output_frames(frames, cfg.model.conv_kernel[1]) < ctc_min_frames(tokens):
            counts["audio_shorter_than_transcript"] += 1
            continue
        kept.append(Utterance(str(e["id"]), e["audio_filepath"], duration, text, frames, tokens))
    counts["kept"] = len(kept)
    dropped = {k: v for k, v in counts.items() if k not in ("total", "kept") and v}
    log.info("%s: %d of %d utterances kept (%.2f h)%s", manifest_path, len(kept), len(entries),
             sum(u.duration for u in kept) / 3600, f"; dropped {dropped}" if dropped else "")
    if unknown:
        log.warning("%s: characters outside the label set (utterances dropped): %s", manifest_path, unknown)
    return kept, counts


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


class BatchSource:
    """Random-access source of padded batches for one rank and one epoch (what GeneratorDataset needs).

    Item i → (feats [B, 1, F, T] float32, feat_lens [B] int32, targets [B, S] int32, target_lens [B] int32),
    T = the longest utterance's frames rounded up to ``data.pad_to_multiple``; padding is zero.
    """

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
        rng = np.random.default_rng([self.cfg.train.seed, self.epoch, self.rank, index])
        feats, tokens = [], []
        for u in utts:
            try:
                audio = load_audio(u.audio_filepath, self.cfg.features.sample_rate)
            except AudioError as e:  # a file broken after preparation: leave it out of this batch, loudly
                log.warning("utterance %s left out of epoch %d batch %d: %s", u.id, self.epoch, index, e)
                continue
            f = spectrogram(audio, self.cfg.features)
            if self.augment:
                f = spec_augment(f, self.cfg.augment, rng)
            feats.append(f)
            tokens.append(u.tokens)
        if not feats:
            raise AudioError(f"epoch {self.epoch} batch {index}: no readable audio among {[u.id for u in utts]}")
        return collate(feats, tokens, self.cfg.data.pad_to_multiple)


def collate(feats, tokens, pad_to_multiple=1):
    """feats: list of [F, T_i]; tokens: list of [S_i] → padded batch (see BatchSource)."""
    lens = np.array([f.shape[1] for f in feats], dtype=np.int32)
    t_max = int(-(-lens.max() // pad_to_multiple) * pad_to_multiple)
    x = np.zeros((len(feats), 1, feats[0].shape[0], t_max), dtype=np.float32)
    for b, f in enumerate(feats):
        x[b, 0, :, :f.shape[1]] = f
    t_lens = np.array([len(t) for t in tokens], dtype=np.int32)
    y = np.zeros((len(tokens), max(1, int(t_lens.max()))), dtype=np.int32)
    for b, t in enumerate(tokens):
        y[b, :len(t)] = t
    return x, lens, y, t_lens


def make_dataset(source, num_workers=1):
    """Wrap a BatchSource in a MindSpore GeneratorDataset (one row = one batch), in order, with worker processes."""
    import mindspore.dataset as ds
    workers = max(1, min(num_workers, len(source)))
    return ds.GeneratorDataset(source, column_names=["feats", "feat_lens", "targets", "target_lens"],
                               shuffle=False, num_parallel_workers=workers,
                               python_multiprocessing=workers > 1)


def feature_dim(cfg):
    return num_bins(cfg.features)
