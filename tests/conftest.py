import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory):
    """The bundled demo corpus prepared by the real preparation script into a temporary directory.
    Returns a dict of manifest paths: train, val, test_clean, plus train_small (the 48 shortest training lines)."""
    root = tmp_path_factory.mktemp("demo")
    os.symlink(os.path.join(REPO, "examples", "demo_corpus", "LibriSpeech"), root / "LibriSpeech")
    subprocess.run([sys.executable, os.path.join(REPO, "mindaudio", "data", "librispeech.py"), "--root_path",
                    str(root), "--data_ready", "True", "--num_workers", "2", "--no_progress"], check=True,
                   capture_output=True)
    paths = {split: str(root / split / f"libri_{split}_manifest.json") for split in ("train", "val", "test_clean")}
    with open(paths["train"]) as f:
        lines = sorted(f, key=lambda line: json.loads(line)["duration"])
    paths["train_small"] = str(root / "train_small.json")
    with open(paths["train_small"], "w") as f:
        f.writelines(sorted(lines[:48]))
    return paths
