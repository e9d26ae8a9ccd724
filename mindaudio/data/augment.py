"""Augmentation of training utterances, on the feature workers (NumPy and soxr, no MindSpore). Validation and
evaluation never see it: only a :class:`Augmenter` made for a training batch applies any of it.

On the waveform, in this order:

- speed perturbation (``speed_factors``): one factor per batch, drawn uniformly from the list (per batch, not per
  utterance: utterances of one batch keep similar lengths, so padding stays as small as without it); the audio is
  resampled to play that many times faster (tempo and pitch together, as ``sox speed`` and Kaldi/ESPnet recipes);
  an utterance that a factor above 1 would leave with too few output frames for its transcript plays at 1;
- additive noise (``noise_manifest``, ``noise_prob``, ``noise_snr_db``): a random stretch of a random noise file
  (looped if shorter) at an SNR drawn uniformly from the range, in dB of mean power;
- gain (``gain_db``): a factor drawn uniformly from ±gain_db dB. With ``features.normalize: utterance`` the
  normalisation takes almost all of it back (only ``log_eps`` and the noise level see it).

On the features [F, T], after normalisation:

- vocal-tract-length perturbation (``vtlp_warp``): the frequency axis warped by a factor α drawn uniformly from
  [1 - w, 1 + w] with Jaitly & Hinton's piecewise-linear map (α·f below a boundary, a line to the Nyquist frequency
  above it), by linear interpolation between bins;
- SpecAugment (``enabled``): frequency and time masks.

Every draw comes from the generator the batch source seeds with (seed, epoch, rank, batch), so a resumed run sees
the same batches.
"""
import functools
import logging
import math

import numpy as np
import soxr

from mindaudio.data import audio
from mindaudio.data.manifest import read_manifest
from mindaudio.errors import ManifestError

log = logging.getLogger(__name__)

NOISE_SECONDS = 120          # the most of each noise file read (and kept in a worker's cache)


def speed_perturb(samples, factor):
    """samples: [S] → [≈ S / factor]: the same audio played ``factor`` times faster (pitch rises with it)."""
    if factor == 1:
        return samples
    return soxr.resample(samples, 1000 * factor, 1000, quality="HQ")


def add_noise(samples, noise, snr_db, start):
    """samples: [S]; noise: [N] → samples + noise[start:start + S] (looped) scaled to ``snr_db`` below the signal's
    mean power. Silence in either leaves the samples as they are."""
    piece = np.take(noise, np.arange(start, start + len(samples)), mode="wrap")
    p_signal, p_noise = float(np.mean(samples ** 2)), float(np.mean(piece ** 2))
    if p_signal == 0 or p_noise == 0:
        return samples
    return samples + piece * math.sqrt(p_signal / (p_noise * 10 ** (snr_db / 10)))


def vtlp(feats, alpha, sample_rate, boundary_hz):
    """feats: [F, T] → [F, T] whose bin at frequency g holds what ``feats`` has at the frequency the warp maps to g,
    so a component at f moves to α·f below the knee (``boundary_hz``·min(α, 1)/α), and along the straight line from
    there to (Nyquist, Nyquist) above it."""
    if alpha == 1:
        return feats
    n_bins = feats.shape[0]
    nyquist = sample_rate / 2
    bins = np.linspace(0, nyquist, n_bins)
    knee = boundary_hz * min(alpha, 1) / alpha
    source = np.interp(bins, [0, alpha * knee, nyquist], [0, knee, nyquist]) / (nyquist / (n_bins - 1))
    low = np.minimum(np.floor(source).astype(int), n_bins - 2)
    frac = (source - low)[:, None].astype(feats.dtype)
    return feats[low] * (1 - frac) + feats[low + 1] * frac


def spec_augment(feats, cfg, rng):
    """feats: [F, T] valid frames of one utterance → masked copy. Masked cells are set to 0, the utterance mean
    after normalisation. Mask sizes are drawn uniformly from [0, width]; time masks are also limited to
    ``time_ratio * T`` frames so that short utterances keep most of their content."""
    out = feats.copy()
    n_freq, n_time = out.shape
    for _ in range(cfg.freq_masks):
        width = int(rng.integers(0, min(cfg.freq_width, n_freq) + 1))
        start = int(rng.integers(0, n_freq - width + 1))
        out[start:start + width, :] = 0.0
    max_time = min(cfg.time_width, int(cfg.time_ratio * n_time))
    for _ in range(cfg.time_masks):
        width = int(rng.integers(0, max_time + 1))
        start = int(rng.integers(0, n_time - width + 1))
        out[:, start:start + width] = 0.0
    return out


def slowest_speed(cfg):
    """The smallest speed factor training may draw (1 without speed perturbation): training utterances are planned
    at their length divided by it, so that a batch stays within the frame budget whatever is drawn."""
    return min([1.0] + list(cfg.augment.speed_factors))


@functools.lru_cache(maxsize=4)
def noise_files(path):
    """The audio files a noise manifest lists (any JSON-lines file with ``audio_filepath``)."""
    return tuple(e["audio_filepath"] for e in read_manifest(path, required=("audio_filepath",)))


@functools.lru_cache(maxsize=16)
def noise_audio(path, sample_rate):
    return audio.read(path, sample_rate, first_seconds=NOISE_SECONDS)


def check_noise(cfg):
    """Read the noise manifest and the first second of each of its files, before training starts: a missing or
    unreadable noise file is an error then, not a worker's crash mid-epoch. Returns the number of files."""
    paths = noise_files(cfg.augment.noise_manifest)
    if not paths:
        raise ManifestError(f"augment.noise_manifest {cfg.augment.noise_manifest} lists no audio file")
    for path in paths:
        audio.read(path, cfg.features.sample_rate, first_seconds=1)
    log.info("noise: %d file(s) from %s, added to %.0f %% of training utterances at %g–%g dB SNR", len(paths),
             cfg.augment.noise_manifest, 100 * cfg.augment.noise_prob, *cfg.augment.noise_snr_db)
    return len(paths)


class Augmenter:
    """What one training batch does to its utterances, drawn from ``rng``."""

    def __init__(self, cfg, rng):
        self.cfg, self.aug, self.rng = cfg, cfg.augment, rng
        self.noises = noise_files(self.aug.noise_manifest) if self.aug.noise_manifest else ()
        self.speed = float(rng.choice(self.aug.speed_factors)) if self.aug.speed_factors else 1.0

    def waveform(self, samples, fits):
        """samples: [S] → augmented samples. ``fits(n)``: whether n samples still hold the transcript."""
        aug, rng, rate = self.aug, self.rng, self.cfg.features.sample_rate
        if self.speed != 1 and (self.speed < 1 or fits(int(len(samples) / self.speed))):
            samples = speed_perturb(samples, self.speed)
        if self.noises and rng.random() < aug.noise_prob:
            noise = noise_audio(self.noises[int(rng.integers(len(self.noises)))], rate)
            low, high = aug.noise_snr_db
            samples = add_noise(samples, noise, float(rng.uniform(low, high)), int(rng.integers(len(noise))))
        if aug.gain_db:
            samples = samples * 10 ** (float(rng.uniform(-aug.gain_db, aug.gain_db)) / 20)
        return samples

    def features(self, feats):
        """feats: [F, T] → augmented [F, T]."""
        aug = self.aug
        if aug.vtlp_warp:
            alpha = float(self.rng.uniform(1 - aug.vtlp_warp, 1 + aug.vtlp_warp))
            feats = vtlp(feats, alpha, self.cfg.features.sample_rate, aug.vtlp_boundary_hz)
        if aug.enabled:
            feats = spec_augment(feats, aug, self.rng)
        return feats
