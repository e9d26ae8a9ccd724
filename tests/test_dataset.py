import json
import os

import numpy as np
import pytest
import soundfile

from mindaudio.config import Config
from mindaudio.data import audio
from mindaudio.data.dataset import BatchSource, batch_plan, collate, load_utterances
from mindaudio.data.features import spectrogram
from mindaudio.data.manifest import read_manifest, write_manifest
from mindaudio.text import Labels


@pytest.mark.parametrize("n, batch, world, budget", [(37, 4, 1, 0), (37, 4, 2, 0), (37, 4, 3, 0), (100, 8, 8, 0),
                                                   (9, 4, 2, 0), (8, 1, 8, 0), (200, 16, 3, 8000), (64, 64, 2, 20000),
                                                   (500, 64, 8, 90000)])
@pytest.mark.parametrize("epoch", [0, 1, 5])
def test_plan_uses_every_utterance_once_and_equal_steps(n, batch, world, budget, epoch):
    frames = np.random.default_rng(n).integers(100, 2000, n)
    plan = batch_plan(frames, batch, world, epoch, seed=7, max_frames=budget, pad_to_multiple=16)
    assert all(len(step) == world for step in plan)                  # same number of batches on every rank
    used = np.concatenate([b for step in plan for b in step])
    assert sorted(used.tolist()) == list(range(n))                   # each utterance exactly once
    assert all(1 <= len(b) <= batch for step in plan for b in step)
    if budget:                                                       # the padded frames of a batch fit the budget
        padded = [len(b) * -(-frames[b].max() // 16) * 16 for step in plan for b in step]
        assert max(padded) <= budget
    if not budget:                                                   # no budget: sizes as even as they can be
        sizes = [len(b) for step in plan for b in step]
        assert max(sizes) - min(sizes) <= 1


def test_frame_budget_makes_long_batches_smaller():
    """With a budget, batches of long utterances hold fewer of them; without one every batch is full."""
    frames = np.concatenate([np.full(64, 300), np.full(64, 1500)])
    plan = batch_plan(frames, 32, 1, max_frames=16000, pad_to_multiple=16)
    long = [len(b) for step in plan for b in step if frames[b].max() == 1500]
    short = [len(b) for step in plan for b in step if frames[b].max() == 300]
    assert long == [10] * 7 and len(short) == 2 and min(short) > 10   # 16000 // 1504 = 10 utterances of 15 s
    assert len(batch_plan(frames, 32, 1)) == 4                       # no budget: 128 / 32
    with pytest.raises(ValueError, match="exceeds the frame budget"):
        batch_plan(frames, 32, 1, max_frames=1000, pad_to_multiple=16)


def test_sortagrad_then_shuffled_buckets():
    durations = np.random.default_rng(0).uniform(1, 20, 64)
    first = batch_plan(durations, 4, 2, epoch=0, seed=1)
    means = [durations[np.concatenate(s)].mean() for s in first]
    assert means == sorted(means)                                    # epoch 0: in order of duration
    later = batch_plan(durations, 4, 2, epoch=1, seed=1)
    assert [durations[np.concatenate(s)].mean() for s in later] != means
    assert later[0][0].tolist() == batch_plan(durations, 4, 2, epoch=1, seed=1)[0][0].tolist()  # reproducible
    assert batch_plan(durations, 4, 2, epoch=2, seed=1)[0][0].tolist() != later[0][0].tolist() or \
        batch_plan(durations, 4, 2, epoch=2, seed=1)[1][0].tolist() != later[1][0].tolist()
    # buckets keep padding small: within a step, durations are neighbours in sorted order
    spread = [np.ptp(durations[np.concatenate(s)]) for s in later]
    assert max(spread) < 0.25 * np.ptp(durations)


def test_plan_refuses_fewer_utterances_than_ranks():
    with pytest.raises(ValueError, match="cannot fill"):
        batch_plan([1.0], 4, 2)


def test_collate_pads_and_keeps_lengths():
    feats = [np.ones((5, 7), np.float32), 2 * np.ones((5, 3), np.float32)]
    x, xl, y, yl = collate(feats, [np.array([1, 2, 3]), np.array([4])], pad_to_multiple=4)
    assert x.shape == (2, 1, 5, 8) and xl.tolist() == [7, 3] and yl.tolist() == [3, 1]
    assert (x[1, 0, :, 3:] == 0).all() and (x[1, 0, :, :3] == 2).all() and y.tolist() == [[1, 2, 3], [4, 0, 0]]


def _write_corpus(tmp_path, specs):
    """specs: list of (id, seconds, text) → manifest path."""
    entries = []
    for uid, seconds, text in specs:
        path = tmp_path / f"{uid}.wav"
        n = int(seconds * 16000)
        soundfile.write(path, (np.random.default_rng(len(uid)).standard_normal(n) * 0.1).astype(np.float32), 16000)
        entries.append({"id": uid, "audio_filepath": str(path), "duration": n / 16000, "text": text})
    manifest = tmp_path / "m.json"
    write_manifest(str(manifest), entries)
    return str(manifest)


def test_filters_count_every_dropped_utterance(tmp_path, caplog):
    cfg = Config()
    cfg.data.min_duration, cfg.data.max_duration = 0.5, 3.0
    cfg.data.max_frames_per_batch, cfg.data.pad_to_multiple = 200, 16
    manifest = _write_corpus(tmp_path, [
        ("ok", 1.0, "HELLO THERE"), ("short", 0.3, "HI"), ("long", 3.5, "TOO LONG"), ("empty", 1.0, ""),
        ("odd", 1.0, "CAFÉ, NO"), ("tight", 0.6, "A TRANSCRIPT FAR TOO LONG FOR SIX TENTHS OF A SECOND"),
        ("apos", 1.0, "don't"), ("huge", 2.5, "ALONE IT PADS TO TWO HUNDRED AND FIFTY SIX FRAMES")])
    utts, counts = load_utterances(manifest, cfg, Labels.from_config(cfg.text))
    assert [u.id for u in utts] == ["ok", "apos"]
    assert counts == {"total": 8, "kept": 2, "too_short": 1, "too_long": 1, "empty_text": 1,
                      "unknown_characters": 1, "audio_shorter_than_transcript": 1, "over_frame_budget": 1}
    assert utts[1].text == "DON'T" and utts[1].tokens[3] == 1
    assert "É" in caplog.text and "dropped" in caplog.text


def test_batch_source_and_specaugment(tmp_path):
    cfg = Config()
    cfg.augment.time_width, cfg.augment.time_ratio = 20, 0.2
    manifest = _write_corpus(tmp_path, [("a", 1.0, "AB"), ("b", 2.0, "CD")])
    utts, _ = load_utterances(manifest, cfg, Labels.from_config(cfg.text))
    plain = BatchSource(utts, [np.array([0, 1])], cfg, augment=False)[0]
    aug = BatchSource(utts, [np.array([0, 1])], cfg, augment=True)[0]
    again = BatchSource(utts, [np.array([0, 1])], cfg, augment=True)[0]
    x, xl = plain[0], plain[1]
    assert xl.tolist() == [101, 201] and x.shape[-1] % cfg.data.pad_to_multiple == 0
    ref = spectrogram(audio.read(utts[0].audio_filepath, 16000), cfg.features)
    np.testing.assert_array_equal(x[0, 0, :, :101], ref)             # no augmentation unless asked
    np.testing.assert_array_equal(aug[0], again[0])                   # deterministic from (seed, epoch, rank, batch)
    changed = aug[0] != x
    assert changed.any()
    for b, n in enumerate(xl):
        assert not changed[b, 0, :, n:].any()                         # masks never touch padding
        assert (aug[0][b, 0, :, n:] == 0).all()


def test_unreadable_audio_is_left_out_loudly(tmp_path, caplog):
    cfg = Config()
    manifest = _write_corpus(tmp_path, [("a", 1.0, "AB"), ("b", 2.0, "CD")])
    utts, _ = load_utterances(manifest, cfg, Labels.from_config(cfg.text))
    with open(utts[1].audio_filepath, "wb") as f:
        f.write(b"RIFF garbage")
    x, xl, y, yl = BatchSource(utts, [np.array([0, 1])], cfg)[0]
    assert xl.tolist() == [101] and yl.tolist() == [2]
    assert "utterance b left out" in caplog.text
    x, xl, y, yl = BatchSource(utts, [np.array([1])], cfg)[0]      # nothing readable: a batch every rank skips
    assert np.isnan(x).all() and xl.tolist() == [x.shape[-1]] and "no readable audio among ['b']" in caplog.text


def test_file_headers_are_checked_before_training(tmp_path, caplog):
    """A duration that lies is corrected from the file (then filtered by its real length), a missing file and one at
    another sample rate are dropped and counted: nothing untrusted reaches a batch."""
    cfg = Config()
    cfg.data.max_duration = 2.0
    manifest = _write_corpus(tmp_path, [("ok", 1.0, "FINE"), ("liar", 3.0, "SAYS ONE SECOND"), ("gone", 1.0, "X"),
                                        ("rate", 1.0, "EIGHT KILOHERTZ")])
    entries = read_manifest(manifest)
    entries[1]["duration"] = 1.0                                   # a 3 s file labelled 1 s
    os.remove(entries[2]["audio_filepath"])
    soundfile.write(entries[3]["audio_filepath"], np.zeros(8000, np.float32), 8000)
    write_manifest(manifest, entries)
    utts, counts = load_utterances(manifest, cfg, Labels.from_config(cfg.text))
    assert [u.id for u in utts] == ["ok"]
    assert counts == {"total": 4, "kept": 1, "duration_corrected": 1, "too_long": 1, "unreadable_audio": 1,
                      "wrong_sample_rate": 1}
    assert "manifest says 1 s, the file holds 3.00 s" in caplog.text and "8000 Hz, expected 16000" in caplog.text
    val, _ = load_utterances(manifest, cfg, Labels.from_config(cfg.text), purpose="validate")
    assert [(u.id, round(u.duration, 2)) for u in val] == [("ok", 1.0), ("liar", 3.0)]   # no duration filter there


def test_a_plan_that_cannot_give_every_rank_a_batch_says_so():
    """9 utterances, batches of at most 1, 8 ranks: 2 steps would need 16 (it used to fail with an IndexError)."""
    with pytest.raises(ValueError, match="9 utterances cannot fill 2 step"):
        batch_plan(np.arange(9) + 100, 1, 8)
