"""SpecAugment (frequency and time masks) for training batches. NumPy only."""


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
