import os

import pytest

from mindaudio.config import Config, ConfigError, load_config, to_dict

REPO_YAML = "deepspeech2.yaml"


def test_repo_yaml_loads_and_holds_required_keys():
    cfg = load_config(REPO_YAML)
    for section, key in [("data", "train_manifest"), ("data", "val_manifest"), ("data", "test_manifests"),
                         ("model", "conv_channels"), ("model", "rnn_hidden"), ("model", "rnn_layers"),
                         ("train", "device_target"), ("train", "epochs"), ("train", "batch_size"), ("train", "lr"),
                         ("train", "seed"), ("train", "output_dir"), ("train", "resume"), ("eval", "decoder"),
                         ("eval", "batch_size")]:
        assert hasattr(getattr(cfg, section), key)
    assert cfg.model.rnn_hidden == 1024 and cfg.model.rnn_layers == 5 and cfg.model.conv_channels == 32
    assert cfg.train.batch_size == 64 and cfg.train.device_target == "Ascend"
    assert isinstance(cfg.data.test_manifests, list) and len(cfg.data.test_manifests) == 2


def test_yaml_sets_every_key():
    """The full recipe is written out in the YAML, not left to code defaults."""
    import yaml
    with open(REPO_YAML) as f:
        data = yaml.safe_load(f)
    defaults = to_dict(Config())
    for section, values in defaults.items():
        assert set(data[section]) == set(values), section


def test_the_schema_defaults_are_the_recipe(tmp_path):
    """One source for the recipe: an empty YAML gives exactly deepspeech2.yaml's values, and so does -c deepspeech2
    (the packaged copy) from any directory."""
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    recipe = to_dict(load_config(REPO_YAML))
    assert to_dict(load_config(str(empty))) == recipe == to_dict(Config())
    short = tmp_path / "short.yaml"
    short.write_text("train:\n  batch_size: 8\n")
    assert to_dict(load_config(str(short)))["train"] == dict(recipe["train"], batch_size=8)
    here = os.getcwd()
    try:
        os.chdir(tmp_path)
        assert to_dict(load_config("deepspeech2")) == recipe
        assert load_config("demo").model.rnn_hidden == 256 and load_config("streaming.yaml").model.lookahead == 10
        with pytest.raises(ConfigError, match="packaged configs: deepspeech2, demo, streaming"):
            load_config("nonexistent")
    finally:
        os.chdir(here)


def test_overrides_are_typed():
    cfg = load_config(REPO_YAML, ["train.lr=1e-3", "train.epochs=3", "data.test_manifests=[a.json, b.json]",
                                  "train.device_target=CPU", "augment.enabled=false", "train.resume=auto"])
    assert cfg.train.lr == pytest.approx(1e-3) and isinstance(cfg.train.lr, float)
    assert cfg.train.epochs == 3
    assert cfg.data.test_manifests == ["a.json", "b.json"]
    assert cfg.train.device_target == "CPU" and cfg.augment.enabled is False and cfg.train.resume == "auto"


@pytest.mark.parametrize("override, message", [
    ("train.lrr=1", "did you mean 'train.lr'"),
    ("trian.lr=1", "did you mean 'train'"),
    ("train.epochs=abc", "train.epochs: expected int"),
    ("train.epochs=2.5", "train.epochs: expected int"),
    ("train.device_target=GPU", "must be one of"),
    ("data.test_manifests=x.json", "expected a list"),
    ("train.lr", "section.key=value"),
    ("lr=3", "section.key"),
])
def test_bad_overrides_are_clear_errors(override, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config(REPO_YAML, [override])


def test_bad_yaml_key(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("train:\n  batch_sise: 4\n")
    with pytest.raises(ConfigError, match="batch_sise"):
        load_config(str(p))
    with pytest.raises(ConfigError, match="not found"):
        load_config(str(tmp_path / "missing.yaml"))


def test_cli_reports_config_error():
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "train.py", "-c", REPO_YAML, "-o", "train.epoch=3"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "did you mean 'train.epochs'" in r.stderr
    for script in ("train.py", "eval.py"):
        r = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True)
        assert r.returncode == 0 and "--override" in r.stdout


@pytest.mark.parametrize("override, message", [
    ("train.val_every_epochs=0", "train.val_every_epochs must be ≥ 1"),
    ("train.keep_checkpoints=0", "train.keep_checkpoints must be ≥ 1"),
    ("data.pad_to_multiple=0", "data.pad_to_multiple must be ≥ 1"),
    ("train.lr=-1e-3", "train.lr must be > 0"),
    ("train.warmup_steps=-5", "train.warmup_steps must be ≥ 0"),
])
def test_bad_values_are_refused(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(REPO_YAML, [override])


def test_text_keys_accept_numbers_and_words():
    cfg = load_config(REPO_YAML, ["train.output_dir=2024", "train.resume=no"])
    assert cfg.train.output_dir == "2024" and cfg.train.resume == "no"
