import numpy as np

from mindaudio.config import Config
from mindaudio.data.augment import spec_augment


def test_spec_augment_mask_shapes():
    cfg = Config().augment
    cfg.freq_masks, cfg.freq_width, cfg.time_masks, cfg.time_width, cfg.time_ratio = 1, 10, 1, 5, 1.0
    feats = np.ones((161, 50), np.float32)
    out = spec_augment(feats, cfg, np.random.default_rng(3))
    zero_rows = np.where((out == 0).all(axis=1))[0]
    zero_cols = np.where((out == 0).all(axis=0))[0]
    assert len(zero_rows) <= 10 and len(zero_cols) <= 5
    assert ((out == 0) == (np.isin(np.arange(161), zero_rows)[:, None] | np.isin(np.arange(50), zero_cols))).all()
    assert (feats == 1).all()                                         # input untouched
