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


# --- waveform and feature augmentation, each against an independent computation --------------------------------

import math  # noqa: E402

import pytest  # noqa: E402
import soundfile as sf  # noqa: E402
from scipy import interpolate, optimize, signal  # noqa: E402

from mindaudio.data.augment import Augmenter, add_noise, speed_perturb, vtlp  # noqa: E402
from mindaudio.data.dataset import Utterance, epoch_plan, load_batch  # noqa: E402
from mindaudio.data.features import spectrogram  # noqa: E402

RATE = 16000


def tone(hz, seconds=1.0):
    return np.sin(2 * np.pi * hz * np.arange(int(RATE * seconds)) / RATE)


def peak_hz(samples):
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return np.argmax(spectrum) * RATE / len(samples)


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_speed_perturbation_is_resampling(factor):
    """Played `factor` times faster: 1/factor as long, every frequency × factor, and the same signal as SciPy's
    polyphase resampler gives (an independent implementation)."""
    x = tone(1000) + 0.5 * tone(2500)
    y = speed_perturb(x, factor)
    assert abs(len(y) - len(x) / factor) <= 1
    assert abs(peak_hz(y) - 1000 * factor) < 3
    up, down = (10, 9) if factor == 0.9 else (10, 11)
    reference = signal.resample_poly(x, up, down)
    n = min(len(y), len(reference)) - 400                     # away from the filters' edges
    assert np.corrcoef(y[200:n], reference[200:n])[0, 1] > 0.999
    assert speed_perturb(x, 1.0) is x


@pytest.mark.parametrize("snr", [0.0, 10.0, 25.0])
def test_noise_is_added_at_the_snr_drawn(snr):
    rng = np.random.default_rng(0)
    speech, noise = tone(440, 0.5), rng.normal(size=3000)       # noise shorter than the speech: looped
    out = add_noise(speech, noise, snr, start=2500)
    added = out - speech
    np.testing.assert_allclose(10 * np.log10(np.mean(speech ** 2) / np.mean(added ** 2)), snr, atol=1e-9)
    expected = np.array([noise[(2500 + i) % 3000] for i in range(len(speech))])   # the looped stretch, by hand
    np.testing.assert_allclose(added / expected, added[0] / expected[0], rtol=1e-9)
    assert add_noise(speech, np.zeros(100), snr, 0) is speech                        # silent noise: nothing


def paper_warp(f, alpha, f_hi, nyquist):
    """Jaitly & Hinton (2013), eq. 1, as printed: the frequency f (Hz) maps to f' ."""
    if f <= f_hi * min(alpha, 1) / alpha:
        return f * alpha
    return nyquist - (nyquist - f_hi * min(alpha, 1)) / (nyquist - f_hi * min(alpha, 1) / alpha) * (nyquist - f)


@pytest.mark.parametrize("alpha", [0.9, 1.12])
def test_vtlp_moves_each_component_where_the_paper_maps_it(alpha):
    """A bin holding 1 at frequency f lands at the paper's f' (linear interpolation between bins, done here by
    SciPy), and a tone's spectral peak moves from 1000 Hz to 1000·α."""
    cfg = Config()
    n_bins, nyquist = 161, RATE / 2
    freqs = np.linspace(0, nyquist, n_bins)
    feats = np.random.default_rng(1).normal(size=(n_bins, 7)).astype(np.float32)
    warped = vtlp(feats, alpha, RATE, 4800)
    # independent: the paper's map inverted by root finding at each bin, then SciPy's linear interpolation
    source_of = np.array([optimize.brentq(lambda f: paper_warp(f, alpha, 4800, nyquist) - g, 0, nyquist)
                          for g in freqs[1:-1]])
    source_of = np.concatenate([[0], source_of, [nyquist]])
    expected = interpolate.interp1d(freqs, feats, axis=0)(source_of)
    np.testing.assert_allclose(warped, expected, rtol=1e-5, atol=1e-5)
    spec = spectrogram(tone(1000), cfg.features)
    peak = np.argmax(vtlp(spec, alpha, RATE, 4800).mean(axis=1)) * nyquist / (n_bins - 1)
    assert abs(peak - 1000 * alpha) <= nyquist / (n_bins - 1)
    assert vtlp(feats, 1.0, RATE, 4800) is feats


def write_tone_corpus(tmp_path, n=6, seconds=1.5):
    utts = []
    for i in range(n):
        path = tmp_path / f"u{i}.wav"
        sf.write(path, 0.3 * tone(300 + 100 * i, seconds), RATE)
        utts.append(Utterance(f"u{i}", str(path), seconds, "AB", 151, np.array([1, 2], np.int32)))
    noise = tmp_path / "noise.wav"
    sf.write(noise, 0.1 * np.random.default_rng(0).normal(size=RATE * 2), RATE)
    (tmp_path / "noise.json").write_text(f'{{"audio_filepath": "{noise}"}}\n')
    return utts, str(tmp_path / "noise.json")


def all_augmentations(noise_manifest):
    cfg = Config()
    a = cfg.augment
    a.speed_factors, a.gain_db, a.noise_manifest, a.noise_prob, a.vtlp_warp = [0.9, 1.1], 6.0, noise_manifest, 1.0, 0.1
    return cfg


def test_augmentation_is_drawn_from_the_seed_and_only_for_training(tmp_path):
    """The same generator gives the same batch; no generator (validation, evaluation) gives the plain features."""
    utts, noise = write_tone_corpus(tmp_path)
    cfg = all_augmentations(noise)
    plain, _, _ = load_batch(utts, Config())
    unaugmented, _, _ = load_batch(utts, cfg)                  # the path validation and evaluation take
    np.testing.assert_array_equal(unaugmented.feats, plain.feats)
    first, _, _ = load_batch(utts, cfg, np.random.default_rng([1, 2, 3]))
    again, _, _ = load_batch(utts, cfg, np.random.default_rng([1, 2, 3]))
    other, _, _ = load_batch(utts, cfg, np.random.default_rng([1, 2, 4]))
    np.testing.assert_array_equal(first.feats, again.feats)
    assert first.feats.shape != plain.feats.shape or not np.array_equal(first.feats, plain.feats)
    assert not np.array_equal(first.feat_lens, other.feat_lens) or not np.array_equal(first.feats, other.feats)
    assert len(set(first.feat_lens.tolist())) == 1             # one speed per batch: equal lengths stay equal
    assert set(first.feat_lens.tolist()) <= {137, 167}   # 1.5 s at speed 1.1, 0.9: 1 + 21818 // 160, 1 + 26667 // 160


def test_validation_and_evaluation_never_see_augmentation(tmp_path, monkeypatch):
    """Every augmentation switched on, an Augmenter that fails if used: the validation and evaluation batch
    paths run without touching it."""
    from mindaudio.data import dataset
    utts, noise = write_tone_corpus(tmp_path)
    cfg = all_augmentations(noise)

    class Forbidden:
        def __init__(self, *a):
            raise AssertionError("augmentation outside training")
    monkeypatch.setattr(dataset, "Augmenter", Forbidden)
    batches = list(dataset.eval_batches(utts, cfg, batch_size=4))
    assert sum(len(i) for i, _, _ in batches) == len(utts)
    with pytest.raises(AssertionError, match="outside training"):
        dataset.BatchSource(utts, [np.arange(3)], cfg, augment=True)[0]
    source = dataset.BatchSource(utts, [np.arange(3)], cfg, augment=False)
    assert source[0][0].shape[0] == 3


def test_speed_perturbation_keeps_batches_within_the_frame_budget(tmp_path):
    """Planned at frames / 0.9, a batch stays within the budget whatever speeds are drawn."""
    utts, noise = write_tone_corpus(tmp_path)
    cfg = all_augmentations(noise)
    cfg.data.max_frames_per_batch, cfg.data.pad_to_multiple, cfg.train.batch_size = 2 * 176, 16, 4
    plan = epoch_plan(utts, cfg)
    assert max(len(b) for step in plan for b in step) == 2          # 151 frames → 168 planned → 176 padded: 2 fit
    for seed in range(5):
        for step in plan:
            batch, _, _ = load_batch([utts[i] for i in step[0]], cfg, np.random.default_rng(seed))
            assert batch.feats.shape[0] * batch.feats.shape[-1] <= cfg.data.max_frames_per_batch


def test_a_fast_draw_that_would_leave_too_few_frames_for_the_transcript_plays_at_normal_speed(tmp_path):
    utts, noise = write_tone_corpus(tmp_path, n=1, seconds=0.5)
    cfg = Config()
    cfg.augment.speed_factors, cfg.augment.enabled = [1.5], False
    fits = Augmenter(cfg, np.random.default_rng(0))
    x = tone(500, 0.5)
    assert len(fits.waveform(x, lambda n: True)) == round(len(x) / 1.5)
    assert fits.waveform(x, lambda n: False) is x


def test_gain_is_a_factor_within_its_range():
    cfg = Config()
    cfg.augment.gain_db = 6.0
    x = tone(300, 0.2)
    gains = [Augmenter(cfg, np.random.default_rng(s)).waveform(x, lambda n: True)[100] / x[100] for s in range(50)]
    db = 20 * np.log10(gains)
    assert db.min() >= -6 and db.max() <= 6 and db.max() - db.min() > 6          # spread over the range
    assert math.isclose(np.mean(np.abs(db)), 3, abs_tol=1)                         # uniform: |dB| averages 3


def test_a_noise_manifest_that_lists_a_missing_file_stops_training_before_it_starts(tmp_path):
    from mindaudio.data.augment import check_noise
    from mindaudio.errors import AudioError, ManifestError
    cfg = Config()
    cfg.augment.noise_manifest = str(tmp_path / "none.json")
    with pytest.raises(ManifestError, match="none.json"):
        check_noise(cfg)
    (tmp_path / "bad.json").write_text('{"audio_filepath": "/nonexistent/noise.wav"}\n')
    cfg.augment.noise_manifest = str(tmp_path / "bad.json")
    with pytest.raises(AudioError, match="nonexistent/noise.wav"):
        check_noise(cfg)
