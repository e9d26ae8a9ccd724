"""The Python API (mindaudio.Recognizer) on the chatty tiny checkpoint: the same transcripts as eval.py, from a
checkpoint and from its MindIR export, word times that tile the transcript, every kind of input, hotwords."""
import io
import os

import numpy as np
import pytest
import soundfile

from mindaudio.data.manifest import read_manifest
from mindaudio.decoding import greedy_decode, greedy_words
from mindaudio.errors import AudioError
from mindaudio.inference.recognizer import chunk_bounds
from mindaudio.text import Labels
from tests.helpers import python


@pytest.fixture(scope="module")
def recognizer(chatty_checkpoint):
    from mindaudio import Recognizer
    return Recognizer.from_checkpoint(os.path.dirname(os.path.dirname(chatty_checkpoint)))   # the run directory


@pytest.fixture(scope="module")
def chatty_files(tiny_run, batch_results):
    """Five test_clean files with eval.py's greedy hypotheses (not all empty)."""
    hyps = {r["id"]: r["hyp"] for r in batch_results[32]}
    entries = sorted(read_manifest(tiny_run["test_clean"]), key=lambda e: -len(hyps[e["id"]]))[:5]
    assert all(hyps[e["id"]] for e in entries)
    return [(e["audio_filepath"], hyps[e["id"]]) for e in entries]


def test_greedy_words_spell_the_greedy_text():
    labels = Labels("'ABCDEFGHIJKLMNOPQRSTUVWXYZ ", 0)
    rng = np.random.default_rng(0)
    for _ in range(50):
        lp = np.log(rng.dirichlet(np.full(29, 0.3), size=60)).astype(np.float32)
        text, words = greedy_words(lp, labels)
        assert text == greedy_decode(lp[:, None], [60], labels)[0]
        assert [w for w, _, _ in words] == text.split()
        assert all(0 <= a < b <= 60 for _, a, b in words)
        assert all(b1 <= a2 for (_, _, b1), (_, a2, _) in zip(words, words[1:]))   # in order, no overlap


def test_recognizer_gives_evals_transcripts_and_word_times(recognizer, chatty_files):
    results = recognizer.transcribe([path for path, _ in chatty_files])
    for result, (path, hyp) in zip(results, chatty_files):
        assert result.text == hyp and result.decoder == "greedy"
        assert " ".join(w.word for w in result.words) == result.text
        info = soundfile.info(path)
        assert result.duration == pytest.approx(info.frames / info.samplerate, abs=1e-3)
        times = [(w.start, w.end) for w in result.words]
        assert all(0 <= a < b <= result.duration + 0.02 for a, b in times)
        assert all(b1 <= a2 for (_, b1), (a2, _) in zip(times, times[1:]))
        assert all(0 < w.confidence <= 1 for w in result.words)
        # times are multiples of one network frame: 10 ms hop × time stride 2
        assert all(abs(x / 0.02 - round(x / 0.02)) < 1e-6 for a, b in times for x in (a, b))


def test_every_kind_of_input_gives_the_same_text(recognizer, chatty_files):
    path, hyp = chatty_files[0]
    audio, sr = soundfile.read(path, dtype="float32")
    flac = io.BytesIO()
    soundfile.write(flac, np.stack([audio, audio], axis=1), sr, format="FLAC")   # stereo FLAC bytes
    for item in (path, audio, (audio, sr), flac.getvalue()):
        assert recognizer.transcribe(item).text == hyp
    with pytest.raises(AudioError):
        recognizer.transcribe(b"this is not audio")


def test_beam_search_with_hotwords(recognizer, chatty_files):
    path, _ = chatty_files[0]
    plain = recognizer.transcribe(path, decoder="beam", beam_width=8)
    assert " ".join(w.word for w in plain.words) == plain.text and plain.decoder == "beam"
    word = "ZYX"                                                  # favoured hard enough, it must appear
    boosted = recognizer.transcribe(path, decoder="beam", beam_width=8, hotwords=[word], hotword_weight=1e4)
    assert word in boosted.text.split() and word not in plain.text.split()


@pytest.mark.slow
def test_mindir_and_checkpoint_give_the_same_transcripts(recognizer, chatty_checkpoint, chatty_files, tmp_path):
    from mindaudio import Recognizer
    proc = python("-m", "mindaudio.cli.export", "--checkpoint", chatty_checkpoint, "--output",
                  str(tmp_path / "model.mindir"))
    assert proc.returncode == 0, proc.stderr
    exported = Recognizer.from_mindir(str(tmp_path / "model.mindir"))
    paths = [p for p, _ in chatty_files]
    assert [r.text for r in exported.transcribe(paths)] == [r.text for r in recognizer.transcribe(paths)]
    assert [w.start for w in exported.transcribe(paths[0]).words] == [w.start for w in recognizer.transcribe(paths[0]).words]


def test_chunk_bounds_cut_in_pauses():
    sr = 1000
    rng = np.random.default_rng(0)
    audio = rng.normal(size=95 * sr).astype(np.float32)
    pauses = [(24_000, 24_400), (50_100, 50_500), (78_000, 78_300)]
    for a, b in pauses:
        audio[a:b] = 0.0
    bounds = chunk_bounds(audio, sr, chunk_seconds=30, search_seconds=10)
    assert bounds[0][0] == 0 and bounds[-1][1] == len(audio)
    assert all(b0[1] == b1[0] for b0, b1 in zip(bounds, bounds[1:]))          # no gap, no overlap
    assert all(0 < e - s <= 30 * sr for s, e in bounds)
    for (_, cut), (a, b) in zip(bounds[:-1], pauses):
        assert a <= cut <= b, (cut, a, b)
    assert chunk_bounds(audio[:1000], sr) == [(0, 1000)]


def test_the_api_takes_audio_by_one_contract(recognizer, chatty_files):
    """Stereo in either layout, integer samples, and a (samples, rate) pair give the file's transcript; NaN samples
    and an ambiguous shape are refused by name; a chunk length that could never progress is refused at once."""
    from mindaudio import Recognizer
    from mindaudio.errors import ConfigError
    path, hyp = chatty_files[0]
    audio, rate = soundfile.read(path, dtype="float32")
    stereo = np.stack([audio, audio], axis=1)
    as_int16 = np.round(audio * 32767).astype(np.int16)
    for item in (stereo, stereo.T.copy(), (stereo, rate)):
        assert recognizer.transcribe(item).text == hyp
    int_text = recognizer.transcribe(as_int16).text
    assert int_text == recognizer.transcribe(as_int16.astype(np.float32) / 32768).text
    broken = audio.copy()
    broken[len(audio) // 2] = np.nan
    with pytest.raises(AudioError, match="NaN or infinite"):
        recognizer.transcribe(broken)
    with pytest.raises(AudioError, match="cannot tell the channel axis"):
        recognizer.transcribe(np.zeros((3, 3), np.float32))
    run_dir = os.path.dirname(os.path.dirname(recognizer.source))
    for seconds in (0, 1e-9, float("inf")):
        with pytest.raises(ConfigError, match="chunk_seconds must be a finite number of at least"):
            Recognizer.from_checkpoint(run_dir, chunk_seconds=seconds)
