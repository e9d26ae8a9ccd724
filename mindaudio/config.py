"""One configuration schema: YAML file + ``-o section.key=value`` overrides, checked against typed dataclasses.

Every entry point calls :func:`load_config`; an unknown section or key, or a value of the wrong type, is a
:class:`ConfigError` naming the key and, where one is close, the key that was probably meant.
"""
import argparse
import dataclasses
import difflib
import typing
from dataclasses import dataclass, field
from typing import List

import yaml


class ConfigError(ValueError):
    pass


@dataclass
class DataConfig:
    train_manifest: str = "data/LibriSpeech/train/libri_train_manifest.json"
    val_manifest: str = "data/LibriSpeech/val/libri_val_manifest.json"
    test_manifests: List[str] = field(default_factory=lambda: [
        "data/LibriSpeech/test_clean/libri_test_clean_manifest.json",
        "data/LibriSpeech/test_other/libri_test_other_manifest.json"])
    min_duration: float = 0.0          # seconds; shorter utterances are dropped (and counted)
    max_duration: float = 40.0         # seconds; longer utterances are dropped (and counted), never cropped
    sortagrad: bool = True             # first epoch in order of duration
    pad_to_multiple: int = 16          # pad T up to a multiple of this many frames (bounds the shapes seen)
    max_frames_per_batch: int = 0      # cap on padded frames per batch (size × padded length); 0: from device memory
    static_pad_multiple: int = 256     # with train.dynamic_shapes false: pad T to this multiple (fewer graphs)
    num_workers: int = 4               # feature-extraction worker processes


@dataclass
class FeatureConfig:
    sample_rate: int = 16000
    window_ms: float = 20.0            # 320 samples at 16 kHz → 161 frequency bins
    hop_ms: float = 10.0
    window: str = "hamming"            # the same window for training, validation, evaluation and inference
    normalize: bool = True             # per-utterance mean/variance normalisation
    log_eps: float = 1e-10             # log(power + eps)


@dataclass
class TextConfig:
    alphabet: str = "'ABCDEFGHIJKLMNOPQRSTUVWXYZ "   # every output symbol except the CTC blank
    blank_index: int = 0                               # where the blank sits among the classes


@dataclass
class ModelConfig:
    conv_channels: int = 32
    conv_kernel: List[int] = field(default_factory=lambda: [41, 11])   # (frequency, time)
    rnn_hidden: int = 1024
    rnn_layers: int = 5
    relu_clip: float = 20.0


@dataclass
class AugmentConfig:
    """SpecAugment, applied to training batches only."""
    enabled: bool = True
    freq_masks: int = 2
    freq_width: int = 27               # max bins per frequency mask
    time_masks: int = 2
    time_width: int = 40               # max frames per time mask
    time_ratio: float = 0.05           # ...and at most this fraction of the utterance's frames


@dataclass
class TrainConfig:
    device_target: str = "Ascend"      # Ascend | CPU
    device_id: int = 0
    epochs: int = 70
    batch_size: int = 64               # per device
    lr: float = 3e-4
    optimizer: str = "adam"            # adam | adamw
    adam_eps: float = 1e-5
    weight_decay: float = 0.0
    warmup_steps: int = 1000           # linear warm-up from 0, then cosine annealing to lr * final_lr_ratio
    final_lr_ratio: float = 0.01
    grad_clip: float = 400.0           # global gradient norm
    mixed_precision: bool = True       # fp16 on Ascend; CPU always runs fp32
    dynamic_shapes: bool = True        # one graph for every batch shape; false: one graph per padded shape
    loss_scale: float = 1024.0         # initial dynamic loss scale
    loss_scale_window: int = 1000
    seed: int = 1234
    output_dir: str = "runs/deepspeech2"
    resume: str = ""                   # "" (fresh run) | auto | path to a checkpoint
    log_every: int = 50                # steps between metrics lines
    ckpt_every: int = 2000             # steps between checkpoints (plus one at each epoch end)
    keep_checkpoints: int = 3          # the newest step checkpoints kept...
    keep_best: int = 5                 # ...and those of the best validations (scripts/average_checkpoints.py)
    val_every_epochs: int = 1


@dataclass
class EvalConfig:
    decoder: str = "greedy"            # greedy | beam
    batch_size: int = 32
    beam_width: int = 128
    alpha: float = 0.5                 # LM weight
    beta: float = 1.0                  # word insertion bonus
    lm_path: str = ""                  # KenLM ARPA or binary; empty = no LM


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    text: TextConfig = field(default_factory=TextConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)


_CHOICES = {
    ("train", "device_target"): ("Ascend", "CPU"),
    ("train", "optimizer"): ("adam", "adamw"),
    ("eval", "decoder"): ("greedy", "beam"),
    ("features", "window"): ("hamming", "hann"),
}


def _check_value(where, annotation, value):
    """Return ``value`` converted to ``annotation`` or raise ConfigError. Ints are accepted for floats."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union:  # Optional[X]
        if value is None:
            return None
        (inner,) = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _check_value(where, inner, value)
    if origin in (list, List):
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (inner,) = typing.get_args(annotation)
        return [_check_value(f"{where}[{i}]", inner, v) for i, v in enumerate(value)]
    if annotation is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if annotation is float and isinstance(value, str):
        try:  # YAML 1.1 reads "1e-3" (no dot) as a string
            return float(value)
        except ValueError:
            pass
    if annotation is str and value is None:
        return ""
    if annotation in (int, str, bool) and type(value) is annotation:
        return value
    if annotation is str and isinstance(value, (int, float, bool)):
        return str(value)  # "-o train.output_dir=2024": YAML reads a number, the key wants text
    raise ConfigError(f"{where}: expected {annotation.__name__}, got {value!r} ({type(value).__name__})")


def _unknown(where, key, known):
    hint = difflib.get_close_matches(key, known, n=1)
    msg = f"unknown config key '{where}{key}'"
    msg += f" (did you mean '{where}{hint[0]}'?)" if hint else f"; valid keys: {', '.join(sorted(known))}"
    return ConfigError(msg)


def _apply(cfg, section, key, value):
    sub = getattr(cfg, section)
    fields = {f.name: f for f in dataclasses.fields(sub)}
    if key not in fields:
        raise _unknown(f"{section}.", key, list(fields))
    hints = typing.get_type_hints(type(sub))
    value = _check_value(f"{section}.{key}", hints[key], value)
    choices = _CHOICES.get((section, key))
    if choices and value not in choices:
        raise ConfigError(f"{section}.{key}: must be one of {list(choices)}, got {value!r}")
    setattr(sub, key, value)


def _merge(cfg, data, source):
    if data is None:
        return
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections")
    sections = [f.name for f in dataclasses.fields(cfg)]
    for section, values in data.items():
        if section not in sections:
            raise _unknown("", section, sections)
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: section '{section}' must be a mapping")
        for key, value in values.items():
            _apply(cfg, section, key, value)


def parse_override(text):
    """``"train.lr=1e-3"`` → ``("train", "lr", 0.001)``; the value is read as YAML (numbers, lists, booleans)."""
    if "=" not in text:
        raise ConfigError(f"override '{text}' must look like section.key=value")
    path, raw = text.split("=", 1)
    parts = path.strip().split(".")
    if len(parts) != 2 or not all(parts):
        raise ConfigError(f"override '{text}': the key must be section.key, e.g. train.lr=1e-4")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return parts[0], parts[1], value


def load_config(path=None, overrides=()):
    """Defaults ← YAML file ← overrides, validated. Returns a :class:`Config`."""
    data = None
    if path:
        try:
            with open(path, encoding="utf-8") as f:
                data = yaml.safe_load(f)
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML: {e}") from None
    return config_from_dict(data, overrides, path)


def config_from_dict(data, overrides=(), source="config"):
    """Defaults ← ``data`` (a {section: {key: value}} mapping, e.g. a stored config) ← overrides, validated."""
    cfg = Config()
    _merge(cfg, data, source)
    for text in overrides:
        section, key, value = parse_override(text)
        sub = getattr(cfg, section, None)
        if dataclasses.is_dataclass(sub) and typing.get_type_hints(type(sub)).get(key) is str:
            value = text.split("=", 1)[1].strip()  # a text key takes the text as written ("2024", "no")
        _merge(cfg, {section: {key: value}}, f"override '{text}'")
    validate(cfg)
    return cfg


def validate(cfg):
    """Checks that span several keys."""
    if not 0 <= cfg.text.blank_index <= len(cfg.text.alphabet):
        raise ConfigError("text.blank_index must lie between 0 and len(text.alphabet)")
    if len(set(cfg.text.alphabet)) != len(cfg.text.alphabet):
        raise ConfigError("text.alphabet has a repeated character")
    if len(cfg.model.conv_kernel) != 2 or min(cfg.model.conv_kernel) < 1:
        raise ConfigError("model.conv_kernel must be [frequency, time], both ≥ 1")
    at_least_one = [("train", "epochs"), ("train", "batch_size"), ("train", "log_every"), ("train", "keep_checkpoints"),
                    ("train", "val_every_epochs"), ("train", "loss_scale_window"), ("model", "rnn_layers"),
                    ("model", "rnn_hidden"), ("model", "conv_channels"), ("data", "pad_to_multiple"),
                    ("data", "num_workers"), ("eval", "batch_size"), ("eval", "beam_width")]
    for section, key in at_least_one:
        if getattr(getattr(cfg, section), key) < 1:
            raise ConfigError(f"{section}.{key} must be ≥ 1")
    non_negative = [("train", "warmup_steps"), ("train", "ckpt_every"), ("train", "weight_decay"),
                    ("train", "final_lr_ratio"), ("data", "min_duration"), ("train", "device_id")]
    for section, key in non_negative:
        if getattr(getattr(cfg, section), key) < 0:
            raise ConfigError(f"{section}.{key} must be ≥ 0")
    for section, key in [("train", "lr"), ("train", "grad_clip"), ("train", "loss_scale"), ("train", "adam_eps")]:
        if not getattr(getattr(cfg, section), key) > 0:
            raise ConfigError(f"{section}.{key} must be > 0")
    if cfg.data.max_duration <= cfg.data.min_duration:
        raise ConfigError("data.max_duration must be greater than data.min_duration")


def to_dict(cfg):
    return dataclasses.asdict(cfg)


def save_config(cfg, path):
    from mindaudio.data.manifest import atomic_write_text
    atomic_write_text(path, yaml.safe_dump(to_dict(cfg), sort_keys=False))


def add_config_args(parser: argparse.ArgumentParser, default=None):
    parser.add_argument("-c", "--config", default=default, help="YAML config file (default: %(default)s)")
    parser.add_argument("-o", "--override", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one config value, e.g. -o train.lr=1e-4 (repeatable)")
    return parser
