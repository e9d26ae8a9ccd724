"""eval.py, scripts/run_eval.sh, scripts/tune_lm.py, transcription and MindIR export, on a tiny model trained by the
``tiny_run`` fixture (barely trained: the tests check plumbing, counting, invariance and equality, not accuracy)."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import soundfile

from mindaudio.data.manifest import read_manifest
from tests.reference import edit_distance

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINE = re.compile(r"^(\S+): WER (\d+\.\d\d) CER (\d+\.\d\d) CER-nospace (\d+\.\d\d) \((\d+) utterances, (greedy|beam)\)$",
                  re.M)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=dict(os.environ, PYTHONUNBUFFERED="1"),
                          **kw)


@pytest.fixture(scope="session")
def broken_manifest(tiny_run, tmp_path_factory):
    """Four val utterances and one whose audio file is not audio."""
    d = tmp_path_factory.mktemp("broken")
    bad = d / "corrupt.wav"
    bad.write_bytes(b"RIFF....this is not a wav file")
    entries = read_manifest(tiny_run["val"])[:4]
    entries.insert(2, {"id": "corrupt-0000", "audio_filepath": str(bad), "duration": 1.0, "text": "NOT HEARD"})
    path = d / "broken_manifest.json"
    path.write_text("".join(json.dumps(e) + "\n" for e in entries))
    return str(path)


@pytest.fixture(scope="session")
def eval_output(tiny_run, chatty_checkpoint, broken_manifest, tmp_path_factory):
    """eval.py on a run directory (the chatty one), three manifests, one with an unreadable file."""
    out = tmp_path_factory.mktemp("eval") / "results.jsonl"
    run_dir = os.path.dirname(os.path.dirname(chatty_checkpoint))
    proc = run([sys.executable, "eval.py", "--checkpoint", run_dir, "--output", str(out),
                "--manifests", tiny_run["val"], tiny_run["test_clean"], broken_manifest])
    return proc, out


def test_eval_scores_every_utterance_once_and_reports_unreadable_audio(tiny_run, broken_manifest, eval_output):
    proc, out = eval_output
    assert proc.returncode == 3, proc.stderr                      # scored, but one file was unreadable
    lines = LINE.findall(proc.stdout)
    assert [m[0] for m in lines] == ["val", "test_clean", "broken_manifest"], proc.stdout
    rows = [json.loads(line) for line in open(out)]
    summary = json.load(open(str(out).replace(".jsonl", "_summary.json")))
    assert summary["checkpoint"].endswith(os.path.join("checkpoints", "best.ckpt"))   # run dir → its best
    for (name, wer, cer, cer_nospace, n, decoder), manifest in zip(lines, [tiny_run["val"], tiny_run["test_clean"],
                                                              broken_manifest]):
        entries = read_manifest(manifest)
        mine = [r for r in rows if r["manifest"] == name]
        assert int(n) == len(entries) == len(mine) == summary["results"][name]["utterances"]
        assert [r["id"] for r in mine] == [e["id"] for e in entries]  # each once, in manifest order
        assert [r["ref"] for r in mine] == [" ".join(e["text"].upper().split()) for e in entries]
        assert decoder == "greedy"
        for r in mine:                                             # the counts are those of the strings shown
            assert r["word_edits"] == edit_distance(r["ref"].split(), r["hyp"].split())
            assert r["char_edits"] == edit_distance(r["ref"], r["hyp"])
            assert r["char_edits_nospace"] == edit_distance(r["ref"].replace(" ", ""), r["hyp"].replace(" ", ""))
            assert r["ref"] == " ".join(r["ref"].split()) and r["hyp"] == " ".join(r["hyp"].split())
        want_wer = 100 * sum(edit_distance(r["ref"].split(), r["hyp"].split()) for r in mine) \
            / sum(len(r["ref"].split()) for r in mine)
        want_cer = 100 * sum(edit_distance(r["ref"], r["hyp"]) for r in mine) / sum(len(r["ref"]) for r in mine)
        want_nospace = 100 * sum(edit_distance(r["ref"].replace(" ", ""), r["hyp"].replace(" ", "")) for r in mine) \
            / sum(len(r["ref"].replace(" ", "")) for r in mine)
        assert float(wer) == pytest.approx(want_wer, abs=0.005) and float(cer) == pytest.approx(want_cer, abs=0.005)
        assert float(cer_nospace) == pytest.approx(want_nospace, abs=0.005) and want_nospace != want_cer
        assert summary["results"][name]["cer_nospace"] == pytest.approx(want_nospace)
        assert summary["results"][name]["wer"] == pytest.approx(want_wer)
        assert summary["results"][name]["cer"] == pytest.approx(want_cer)
    bad = [r for r in rows if r["id"] == "corrupt-0000"]
    assert len(bad) == 1 and bad[0]["hyp"] == "" and "corrupt.wav" in bad[0]["error"]
    assert bad[0]["word_edits"] == 2 and bad[0]["char_edits"] == len("NOT HEARD")   # counted as deletions
    assert summary["results"]["broken_manifest"]["unreadable"] == ["corrupt-0000"]
    assert "corrupt.wav" in proc.stderr and "1 of 5 utterances could not be read" in proc.stderr
    assert sum(len(r["hyp"]) for r in rows) > 100       # real hypotheses, so the recomputation means something


def test_results_do_not_depend_on_batch_size(tiny_run, batch_results):
    assert len(batch_results[1]) == len(read_manifest(tiny_run["test_clean"]))
    assert [(r["id"], r["hyp"]) for r in batch_results[1]] == [(r["id"], r["hyp"]) for r in batch_results[32]]
    assert sum(len(r["hyp"]) for r in batch_results[1]) > 100, "transcripts too short for a real comparison"


def test_eval_uses_the_stored_config_and_default_manifests(tiny_run):
    from mindaudio.evaluate import manifest_name
    from mindaudio.inference import config_for
    cfg = config_for(tiny_run["checkpoint"])
    assert cfg.model.rnn_hidden == 16 and cfg.data.test_manifests == [tiny_run["test_clean"]]
    assert manifest_name("/x/libri_test_other_manifest.json") == "test_other"
    assert manifest_name("/y/dev.json") == "dev"


@pytest.fixture(scope="session")
def demo_lm(tiny_run, tmp_path_factory):
    lm = tmp_path_factory.mktemp("lm") / "demo3.arpa"
    subprocess.run([sys.executable, os.path.join(REPO, "scripts", "build_arpa.py"), tiny_run["train"],
                    "-o", str(lm), "--order", "3"], check=True, capture_output=True)
    return str(lm)


def test_run_eval_wrapper_with_lm_beam_search(tiny_run, demo_lm, tmp_path):
    help_ = run(["bash", "scripts/run_eval.sh", "--help"])
    assert help_.returncode == 0 and "Usage: scripts/run_eval.sh" in help_.stdout and "--lm" in help_.stdout
    assert run(["bash", "scripts/run_eval.sh", "--bogus"]).returncode == 2
    out = tmp_path / "beam.jsonl"
    proc = run(["bash", "scripts/run_eval.sh", "--checkpoint", tiny_run["checkpoint"], "--lm", demo_lm,
                "--beam-width", "4", "--alpha", "0.5", "--beta", "1.0", "--output", str(out)])
    assert proc.returncode == 0, proc.stderr
    (line,) = LINE.findall(proc.stdout)
    assert line[0] == "test_clean" and int(line[4]) == len(read_manifest(tiny_run["test_clean"]))
    assert line[5] == "beam" and "LM " + demo_lm in proc.stdout
    summary = json.load(open(tmp_path / "beam_summary.json"))
    assert summary["decoder"] == "beam" and summary["eval"]["lm_path"] == demo_lm


def test_tune_lm_decodes_each_pair_and_reports_the_best(tiny_run, demo_lm, tmp_path):
    proc = run([sys.executable, "scripts/tune_lm.py", "--checkpoint", tiny_run["run_dir"], "--lm", demo_lm,
                "--manifest", tiny_run["val"], "--limit", "12", "--beam-width", "4", "--alphas", "0", "1",
                "--betas", "0", "2", "--output", str(tmp_path / "tune.json")])
    assert proc.returncode == 0, proc.stderr
    assert len(re.findall(r"^alpha .* WER .* CER", proc.stdout, re.M)) == 4
    best = re.search(r"^best: alpha (\S+) beta (\S+) WER (\S+) CER (\S+) \(12 utterances", proc.stdout, re.M)
    assert best, proc.stdout
    results = json.load(open(tmp_path / "tune.json"))
    assert len(results["results"]) == 4
    assert float(best.group(3)) == pytest.approx(min(r["wer"] for r in results["results"]), abs=0.005)


def test_chunk_bounds_cut_in_pauses():
    from mindaudio.recognizer import chunk_bounds
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


def test_transcribe_files_of_any_format(tiny_run, chatty_checkpoint, batch_results, tmp_path):
    hyps = {r["id"]: r["hyp"] for r in batch_results[32]}
    entries = read_manifest(tiny_run["test_clean"])
    e = max(entries[:10], key=lambda e: len(hyps[e["id"]]))
    audio, sr = soundfile.read(e["audio_filepath"], dtype="float32")
    assert sr == 16000
    stereo = tmp_path / "stereo16k.flac"
    soundfile.write(stereo, np.stack([audio, audio], axis=1), sr)
    import librosa
    resampled = tmp_path / "stereo44k.wav"
    soundfile.write(resampled, np.stack([librosa.resample(audio, orig_sr=sr, target_sr=44100)] * 2, axis=1), 44100)
    parts = []
    for other in entries[:6]:
        a, _ = soundfile.read(other["audio_filepath"], dtype="float32")
        parts += [a, np.zeros(sr // 2, np.float32)]
    long_file = tmp_path / "long.wav"
    soundfile.write(long_file, np.concatenate(parts), sr)
    missing = tmp_path / "missing.flac"
    proc = run([sys.executable, "-m", "mindaudio.transcribe", "--checkpoint", chatty_checkpoint,
                e["audio_filepath"], str(stereo), str(missing), str(resampled), str(long_file),
                "--chunk-seconds", "4", "--search-seconds", "2"])
    assert proc.returncode == 3, proc.stderr                    # partial: one of five files failed
    assert "missing.flac" in proc.stderr and proc.stderr.count("error:") == 2   # the file, then the count
    out = dict(line.split("\t", 1) for line in proc.stdout.splitlines())
    assert set(out) == {e["audio_filepath"], str(stereo), str(resampled), str(long_file)}
    assert out[e["audio_filepath"]] == hyps[e["id"]]        # the same features and decoder as eval.py
    assert out[str(stereo)] == hyps[e["id"]]                # stereo with equal channels = mono
    assert all(t == " ".join(t.split()) for t in out.values())


def test_export_mindir_gives_the_checkpoints_transcripts(tiny_run, chatty_checkpoint, tmp_path):
    import mindspore as ms
    from mindspore import nn
    from mindaudio.data.features import load_audio, spectrogram
    from mindaudio.decoding import greedy_decode
    from mindaudio.inference import config_for, forward, load_network
    from mindaudio.export import export_mindir, load_mindir
    from mindaudio.text import Labels
    cfg = config_for(chatty_checkpoint)
    path = export_mindir(cfg, chatty_checkpoint, str(tmp_path / "model"))
    assert path == str(tmp_path / "model.mindir") and os.path.isfile(tmp_path / "model.json")
    net = load_network(cfg, chatty_checkpoint)
    labels = Labels.from_config(cfg.text)
    entries = read_manifest(tiny_run["test_clean"])
    shortest, longest = min(entries, key=lambda e: e["duration"]), max(entries, key=lambda e: e["duration"])
    feats = [spectrogram(load_audio(e["audio_filepath"], 16000), cfg.features) for e in (shortest, longest)]
    assert feats[0].shape[1] != feats[1].shape[1]

    def check(graph, batch):
        want_lp, want_len = forward(net, batch, cfg)
        x = np.zeros((len(batch), 1, batch[0].shape[0], max(f.shape[1] for f in batch)), np.float32)
        for b, f in enumerate(batch):
            x[b, 0, :, :f.shape[1]] = f
        got_lp, got_len = graph(ms.Tensor(x), ms.Tensor(np.array([f.shape[1] for f in batch], np.int32)))
        got_lp, got_len = got_lp.asnumpy(), got_len.asnumpy()
        np.testing.assert_array_equal(got_len, want_len)
        for b, n in enumerate(want_len):
            np.testing.assert_allclose(got_lp[:n, b], want_lp[:n, b], atol=1e-4)
        texts = greedy_decode(got_lp, got_len, labels)
        assert texts == greedy_decode(want_lp, want_len, labels) and all(texts)

    plain = nn.GraphCell(ms.load(path))
    for batch in ([feats[0]], [feats[1]]):                        # two lengths
        check(plain, batch)
    dynamic = load_mindir(path)
    for batch in ([feats[1]], feats, [feats[0]]):                 # and batch sizes (needs set_inputs)
        check(dynamic, batch)
