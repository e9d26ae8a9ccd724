"""Shared fixtures. Tests marked ``slow`` train past a few steps, start mpirun/msrun, or drive a browser:
``python -m pytest tests -q -m "not slow"`` is the everyday tier, the full suite the one CI runs."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from tests.helpers import DEMO, REPO, TINY_MODEL, overrides


@pytest.fixture(scope="session")
def cpu():
    """MindSpore on the CPU in graph mode, for tests that build cells themselves."""
    from mindaudio.device import set_device
    set_device("CPU")


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory):
    """The bundled demo corpus prepared by the real preparation command into a temporary directory.
    Returns a dict of manifest paths: train, val, test_clean, plus train_small (the 48 shortest training lines) and
    val_small (32 validation lines)."""
    root = tmp_path_factory.mktemp("demo")
    os.symlink(os.path.join(REPO, "examples", "demo_corpus", "LibriSpeech"), root / "LibriSpeech")
    subprocess.run([sys.executable, "-m", "mindaudio.cli.prepare", "--root-path", str(root), "--data-ready",
                    "--num-workers", "2", "--no-progress"], check=True, capture_output=True)
    paths = {split: str(root / split / f"libri_{split}_manifest.json") for split in ("train", "val", "test_clean")}
    with open(paths["train"]) as f:
        lines = sorted(f, key=lambda line: json.loads(line)["duration"])
    paths["train_small"] = str(root / "train_small.json")
    with open(paths["train_small"], "w") as f:
        f.writelines(sorted(lines[:48]))
    with open(paths["val"]) as f:
        val = f.readlines()
    paths["val_small"] = str(root / "val_small.json")
    with open(paths["val_small"], "w") as f:
        f.writelines(val[::4][:32])
    return paths


@pytest.fixture(scope="session")
def tiny_run(demo_data, tmp_path_factory):
    """A tiny DeepSpeech2 (TINY_MODEL) trained by train.py for 12 steps on the 48 shortest demo utterances with
    every augmentation, validated once on val: a run directory with ``checkpoints/best.ckpt`` (config in its
    metadata) and ``config.yaml``. Barely trained: good for plumbing, batch invariance and export tests."""
    run_dir = tmp_path_factory.mktemp("tiny_run")
    noise_dir = tmp_path_factory.mktemp("noise")          # every augmentation on: the feature workers' path
    with open(noise_dir / "noise.json", "w") as f:
        for i in range(2):
            sf.write(noise_dir / f"noise{i}.wav", np.random.default_rng(i).normal(0, 0.1, 24000), 16000)
            f.write(json.dumps({"audio_filepath": str(noise_dir / f"noise{i}.wav")}) + "\n")
    cmd = [sys.executable, os.path.join(REPO, "train.py"), "-c", DEMO,
           *overrides(f"data.train_manifest={demo_data['train_small']}", f"data.val_manifest={demo_data['val']}",
                      f"data.test_manifests=[{demo_data['test_clean']}]", f"train.output_dir={run_dir}",
                      *TINY_MODEL, "train.epochs=1", "train.batch_size=4", "train.lr=3e-3", "train.warmup_steps=2",
                      "train.log_every=4", "data.num_workers=8",   # more workers than cores: clamped, logged
                      "augment.speed_factors=[0.9,1.0,1.1]", "augment.gain_db=6", "augment.vtlp_warp=0.1",
                      f"augment.noise_manifest={noise_dir / 'noise.json'}", "augment.enabled=true")]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "data.num_workers=8 but this machine has" in proc.stderr or (os.cpu_count() or 1) >= 8
    assert os.path.isfile(run_dir / "checkpoints" / "best.ckpt")
    assert "noise: 2 file(s)" in proc.stderr
    return {"run_dir": str(run_dir), "checkpoint": str(run_dir / "checkpoints" / "best.ckpt"),
            "config": str(run_dir / "config.yaml"), **demo_data}


@pytest.fixture(scope="session")
def chatty_checkpoint(tiny_run, tmp_path_factory):
    """The tiny checkpoint with a random output projection (seeded, N(0, 1), zero bias). After 12 steps the
    trained one emits only blanks; this one emits characters that depend on the network's hidden features, so
    comparing transcripts (batch sizes, export, transcription) is not vacuous."""
    import mindspore as ms
    import numpy as np
    from mindaudio import checkpoint
    params, meta = checkpoint.load(tiny_run["checkpoint"])
    shape = params["fc.weight"].shape
    rng = np.random.default_rng(0)
    params["fc.weight"].set_data(ms.Tensor(rng.normal(size=shape).astype(np.float32)))
    params["fc.bias"].set_data(ms.Tensor(np.zeros(shape[0], np.float32)))
    run_dir = tmp_path_factory.mktemp("chatty_run")
    os.makedirs(run_dir / "checkpoints")
    path = str(run_dir / "checkpoints" / "best.ckpt")             # a run directory, as training leaves one
    checkpoint.save(path, params, meta)
    return path


@pytest.fixture(scope="session")
def batch_results(tiny_run, chatty_checkpoint):
    """Greedy eval of test_clean with the chatty checkpoint at eval.batch_size 1 and 32 (in-process)."""
    import io
    from mindaudio.inference.evaluate import evaluate
    from mindaudio.inference.network import config_for
    results = {}
    for bs in (1, 32):
        cfg = config_for(chatty_checkpoint, None, [f"eval.batch_size={bs}"])
        out = os.path.join(os.path.dirname(chatty_checkpoint), f"bs{bs}.jsonl")
        evaluate(cfg, chatty_checkpoint, [tiny_run["test_clean"]], out, out=io.StringIO())
        results[bs] = [json.loads(line) for line in open(out)]
    return results
