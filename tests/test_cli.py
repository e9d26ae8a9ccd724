"""The command lines around a trained model: the eval wrapper script with an LM, LM tuning, transcription of files
of any format (on the chatty tiny checkpoint: transcripts equal eval.py's)."""
import json
import os
import re
import sys

import numpy as np
import pytest
import soundfile

from mindaudio.data.manifest import read_manifest
from tests.helpers import EVAL_LINE as LINE, python, run


@pytest.fixture(scope="session")
def demo_lm(tiny_run, tmp_path_factory):
    lm = tmp_path_factory.mktemp("lm") / "demo3.arpa"
    proc = python(os.path.join("scripts", "build_arpa.py"), tiny_run["train"], "--output", str(lm), "--order", "3")
    assert proc.returncode == 0, proc.stderr
    return str(lm)


@pytest.mark.slow
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
    assert "Loading the LM will be faster" not in proc.stderr and "****" not in proc.stderr   # KenLM's banner hidden
    summary = json.load(open(tmp_path / "beam_summary.json"))
    assert summary["decoder"] == "beam" and summary["eval"]["lm_path"] == demo_lm


@pytest.mark.slow
def test_tune_lm_decodes_each_pair_and_reports_the_best(tiny_run, demo_lm, tmp_path):
    proc = python("scripts/tune_lm.py", "--checkpoint", tiny_run["run_dir"], "--lm", demo_lm,
                "--manifest", tiny_run["val"], "--limit", "12", "--beam-width", "4", "--alphas", "0", "1",
                  "--betas", "0", "2", "--output", str(tmp_path / "tune.json"))
    assert proc.returncode == 0, proc.stderr
    assert len(re.findall(r"^alpha .* WER .* CER", proc.stdout, re.M)) == 4
    best = re.search(r"^best: alpha (\S+) beta (\S+) WER (\S+) CER (\S+) \(12 utterances", proc.stdout, re.M)
    assert best, proc.stdout
    results = json.load(open(tmp_path / "tune.json"))
    assert len(results["results"]) == 4
    assert float(best.group(3)) == pytest.approx(min(r["wer"] for r in results["results"]), abs=0.005)


@pytest.mark.slow
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
    proc = python("-m", "mindaudio.cli.transcribe", "--checkpoint", chatty_checkpoint,
                  e["audio_filepath"], str(stereo), str(missing), str(resampled), str(long_file),
                  "--chunk-seconds", "4", "--search-seconds", "2")
    assert proc.returncode == 3, proc.stderr                    # partial: one of five files failed
    assert "missing.flac" in proc.stderr and proc.stderr.count("error:") == 2   # the file, then the count
    out = dict(line.split("\t", 1) for line in proc.stdout.splitlines())
    assert set(out) == {e["audio_filepath"], str(stereo), str(resampled), str(long_file)}
    assert out[e["audio_filepath"]] == hyps[e["id"]]        # the same features and decoder as eval.py
    assert out[str(stereo)] == hyps[e["id"]]                # stereo with equal channels = mono
    assert all(t == " ".join(t.split()) for t in out.values())
