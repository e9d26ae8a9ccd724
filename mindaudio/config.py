"""One configuration schema: YAML file + ``-o section.key=value`` overrides, checked against typed dataclasses.

The schema's defaults ARE the full recipe (8 Ascend cards, LibriSpeech 960 h): ``configs/deepspeech2.yaml`` is
their commented copy (a test keeps the two equal), so a short YAML of your own changes only what it names.
Every entry point calls :func:`load_config`; an unknown section or key, or a value of the wrong type or out of its
range, is a :class:`ConfigError` naming the key and, where one is close, the key that was probably meant.
"""
import argparse
import dataclasses
import difflib
import math
import os
import typing
from dataclasses import dataclass, field
from typing import List

import yaml

from mindaudio.errors import ConfigError
from mindaudio.fileio import atomic_write

PACKAGED_CONFIGS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")


def num(default, low=None, high=None, low_open=False):
    """A numeric key with its valid range: [low, high], or (low, high] when ``low_open``; None = unbounded. Every
    number must also be finite (YAML's .inf and .nan are refused)."""
    return field(default=default, metadata={"range": (low, high, low_open)})


def choice(default, *options):
    return field(default=default, metadata={"choices": (default, *options)})


@dataclass
class DataConfig:
    train_manifest: str = "data/LibriSpeech/train/libri_train_manifest.json"
    val_manifest: str = "data/LibriSpeech/val/libri_val_manifest.json"
    test_manifests: List[str] = field(default_factory=lambda: [
        "data/LibriSpeech/test_clean/libri_test_clean_manifest.json",
        "data/LibriSpeech/test_other/libri_test_other_manifest.json"])
    min_duration: float = num(0.0, 0)          # seconds; shorter utterances are dropped (and counted)
    max_duration: float = num(40.0, 0, low_open=True)   # seconds; longer ones dropped and counted, never cropped
    sortagrad: bool = True                     # first epoch in order of duration
    pad_to_multiple: int = num(16, 1)          # pad T up to a multiple of this many frames (bounds the shapes seen)
    max_frames_per_batch: int = num(0, 0)      # cap on padded frames per batch (size × padded length); 0: from memory
    static_pad_multiple: int = num(256, 1)     # with train.dynamic_shapes false: pad T to this multiple (few graphs)
    num_workers: int = num(8, 1)               # feature-extraction worker processes (at most the cores)


@dataclass
class FeatureConfig:
    sample_rate: int = num(16000, 1000, 192000)
    window_ms: float = num(20.0, 1, 200)       # 320 samples at 16 kHz → 161 frequency bins
    hop_ms: float = num(10.0, 1, 100)
    window: str = choice("hamming", "hann")    # the same window for training, validation, evaluation, inference
    normalize: str = choice("utterance", "running", "none")   # mean/variance: per utterance | causal | none
    norm_prior_mean: float = num(-10.8, -100, 100)     # running normalisation starts from these statistics
    norm_prior_std: float = num(4.4, 0, 100, low_open=True)   # (the demo corpus's log power: mean -10.8, std 4.4)
    norm_prior_frames: int = num(50, 0)                # ...worth this many frames
    log_eps: float = num(1e-10, 0, 1, low_open=True)   # log(power + eps)


@dataclass
class TextConfig:
    alphabet: str = "'ABCDEFGHIJKLMNOPQRSTUVWXYZ "     # every output symbol except the CTC blank
    blank_index: int = num(0, 0)                       # where the blank sits among the classes


@dataclass
class ModelConfig:
    conv_channels: int = num(32, 1)
    conv_kernel: List[int] = field(default_factory=lambda: [41, 11])   # (frequency, time)
    rnn_hidden: int = num(1024, 1)
    rnn_layers: int = num(5, 1)
    relu_clip: float = num(20.0, 0, low_open=True)
    bidirectional: bool = True                 # false: the streaming model (causal convolutions, forward LSTMs)...
    lookahead: int = num(0, 0, 200)            # ...with a lookahead convolution over this many future output frames


@dataclass
class AugmentConfig:
    """Augmentation of training batches only (mindaudio/data/augment.py); each kind is off at its neutral value."""
    speed_factors: List[float] = field(default_factory=list)   # speed perturbation, e.g. [0.9, 1.0, 1.1]; []: off
    gain_db: float = num(0.0, 0, 40)           # gain drawn from ±gain_db dB; 0: off
    noise_manifest: str = ""                   # JSON lines with audio_filepath: noise added to training audio; "": off
    noise_prob: float = num(0.5, 0, 1)         # ...to this fraction of the utterances
    noise_snr_db: List[float] = field(default_factory=lambda: [10.0, 30.0])  # ...at an SNR drawn from this range
    vtlp_warp: float = num(0.0, 0, 0.5)        # vocal-tract-length perturbation: α from [1 - w, 1 + w]; 0: off
    vtlp_boundary_hz: float = num(4800.0, 0, low_open=True)   # where the warp's α·f part ends (for α ≤ 1)
    enabled: bool = True                       # SpecAugment's masks:
    freq_masks: int = num(2, 0)
    freq_width: int = num(27, 0)               # max bins per frequency mask
    time_masks: int = num(2, 0)
    time_width: int = num(40, 0)               # max frames per time mask
    time_ratio: float = num(0.05, 0, 1)        # ...and at most this fraction of the utterance's frames
    start_epoch: int = num(0, 0)               # first epoch (0-based) with any augmentation


@dataclass
class TrainConfig:
    device_target: str = choice("Ascend", "CPU")
    device_id: int = num(0, 0)
    epochs: int = num(30, 1)
    batch_size: int = num(64, 1)               # per device
    lr: float = num(5e-4, 0, 1, low_open=True)
    optimizer: str = choice("adam", "adamw")
    adam_eps: float = num(1e-5, 0, 1, low_open=True)
    weight_decay: float = num(0.0, 0, 1)
    warmup_steps: int = num(0, 0)              # linear warm-up from 0, then the schedule
    schedule: str = choice("exponential", "cosine", "constant")   # lr_decay per epoch | cosine to lr·final_lr_ratio
    lr_decay: float = num(0.93, 0, 1, low_open=True)   # per epoch, exponential schedule only
    final_lr_ratio: float = num(0.01, 0, 1)    # the lowest lr, as a fraction of lr
    grad_clip: float = num(5.0, 0, low_open=True)      # global gradient norm (of the per-character loss)
    mixed_precision: bool = True               # fp16 on Ascend; CPU always runs fp32
    dynamic_shapes: bool = True                # one graph for every batch shape; false: one graph per padded shape
    loss_scale: float = num(1024.0, 1, 2.0 ** 24)      # initial dynamic loss scale
    loss_scale_window: int = num(1000, 1)
    seed: int = num(1234, 0, 2 ** 32 - 1)
    output_dir: str = "runs/deepspeech2"
    resume: str = ""                           # "" (fresh run) | auto | path to a checkpoint
    log_every: int = num(50, 1)                # steps between metrics lines
    tensorboard: bool = True                   # event files in output_dir/tensorboard (rank 0)
    ckpt_every: int = num(2000, 0)             # steps between checkpoints (plus one at each epoch end); 0: epochs only
    keep_checkpoints: int = num(3, 1)          # the newest step checkpoints kept...
    keep_best: int = num(5, 0)                 # ...and those of the best validations (scripts/average_checkpoints.py)
    val_every_epochs: int = num(1, 1)


@dataclass
class EvalConfig:
    decoder: str = choice("greedy", "beam")
    batch_size: int = num(32, 1)
    beam_width: int = num(128, 1, 10000)
    alpha: float = num(0.5, 0, 100)            # LM weight
    beta: float = num(1.0, -100, 100)          # word insertion bonus
    lm_path: str = ""                          # KenLM ARPA or binary; empty = no LM


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    text: TextConfig = field(default_factory=TextConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)


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
    if (section, key) == ("features", "normalize") and isinstance(value, bool):
        value = "utterance" if value else "none"          # the boolean of configs written before "running"
    sub = getattr(cfg, section)
    fields = {f.name: f for f in dataclasses.fields(sub)}
    if key not in fields:
        raise _unknown(f"{section}.", key, list(fields))
    hints = typing.get_type_hints(type(sub))
    value = _check_value(f"{section}.{key}", hints[key], value)
    _check_range(f"{section}.{key}", fields[key].metadata, value)
    setattr(sub, key, value)


def _check_range(where, metadata, value):
    choices = metadata.get("choices")
    if choices and value not in choices:
        raise ConfigError(f"{where}: must be one of {list(choices)}, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where}: must be a finite number, got {value}")
    if "range" in metadata:
        low, high, low_open = metadata["range"]
        if (low is not None and (value <= low if low_open else value < low)) or (high is not None and value > high):
            lo = "" if low is None else f"{'>' if low_open else '≥'} {low:g}"
            hi = "" if high is None else f"≤ {high:g}"
            raise ConfigError(f"{where} must be {' and '.join(x for x in (lo, hi) if x)}, got {value!r}")


def option(kind, low=None, high=None, low_open=False):
    """An argparse ``type`` for a number on a command line, checked as config values are (finite, in its range):
    every command's options go through the same rules as the config's keys, and a bad one is a usage error."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                             f"got {text!r}") from None
        try:
            _check_range("the value", {"range": (low, high, low_open)}, value)
        except ConfigError as e:
            raise argparse.ArgumentTypeError(str(e).replace("the value: ", "").replace("the value ", "")) from None
        return value
    parse.__name__ = kind.__name__
    return parse


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


def packaged_configs():
    """Names of the configs shipped with the package (usable as ``-c NAME``)."""
    return sorted(os.path.splitext(n)[0] for n in os.listdir(PACKAGED_CONFIGS) if n.endswith(".yaml"))


def resolve_config_path(path):
    """``path`` if it exists; else a packaged config of that name (``deepspeech2``, ``demo``, ``streaming``, with or
    without ``.yaml``), so ``-c demo`` works wherever the package is installed."""
    if os.path.exists(path):
        return path
    name = os.path.basename(path)
    packaged = os.path.join(PACKAGED_CONFIGS, name if name.endswith(".yaml") else name + ".yaml")
    if os.path.dirname(path) in ("", ".") and os.path.isfile(packaged):
        return packaged
    raise ConfigError(f"config file not found: {path} (packaged configs: {', '.join(packaged_configs())})")


def load_config(path=None, overrides=()):
    """Defaults ← YAML file ← overrides, validated. Returns a :class:`Config`."""
    data = None
    if path:
        path = resolve_config_path(path)
        try:
            with open(path, encoding="utf-8") as f:
                data = yaml.safe_load(f)
        except IsADirectoryError:
            raise ConfigError(f"config {path} is a directory, not a YAML file") from None
        except UnicodeDecodeError:
            raise ConfigError(f"config {path} is not UTF-8 text (is it a YAML file?)") from None
        except OSError as e:
            raise ConfigError(f"cannot read config {path}: {e.strerror}") from None
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
    """The ranges of every key (written once, on the schema above; defaults included), then checks that span
    several keys."""
    for section in dataclasses.fields(cfg):
        sub = getattr(cfg, section.name)
        for f in dataclasses.fields(sub):
            _check_range(f"{section.name}.{f.name}", f.metadata, getattr(sub, f.name))
    if not 0 <= cfg.text.blank_index <= len(cfg.text.alphabet):
        raise ConfigError("text.blank_index must lie between 0 and len(text.alphabet)")
    if not cfg.text.alphabet or len(set(cfg.text.alphabet)) != len(cfg.text.alphabet):
        raise ConfigError("text.alphabet must be non-empty without a repeated character")
    if len(cfg.model.conv_kernel) != 2 or min(cfg.model.conv_kernel) < 1:
        raise ConfigError("model.conv_kernel must be [frequency, time], both ≥ 1")
    if cfg.data.max_duration <= cfg.data.min_duration:
        raise ConfigError("data.max_duration must be greater than data.min_duration")
    if cfg.features.hop_ms > cfg.features.window_ms:
        raise ConfigError("features.hop_ms must not exceed features.window_ms (frames would skip samples)")
    aug = cfg.augment
    if any(not 0.5 <= f <= 2 for f in aug.speed_factors):
        raise ConfigError(f"augment.speed_factors must lie in [0.5, 2], got {aug.speed_factors}")
    if len(aug.noise_snr_db) != 2 or not all(map(math.isfinite, aug.noise_snr_db)) or \
            not aug.noise_snr_db[0] <= aug.noise_snr_db[1]:
        raise ConfigError(f"augment.noise_snr_db must be [low, high] in dB, got {aug.noise_snr_db}")
    if aug.vtlp_boundary_hz >= cfg.features.sample_rate / 2:
        raise ConfigError("augment.vtlp_boundary_hz must lie below the Nyquist frequency (features.sample_rate / 2)")
    if cfg.model.bidirectional and cfg.model.lookahead:
        raise ConfigError("model.lookahead is the streaming model's: it needs model.bidirectional: false (a "
                          "bidirectional model already sees the whole utterance)")


def to_dict(cfg):
    return dataclasses.asdict(cfg)


def save_config(cfg, path):
    atomic_write(path, yaml.safe_dump(to_dict(cfg), sort_keys=False))
