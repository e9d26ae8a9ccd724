"""The Python API: a trained model as a speech recognizer.

    from mindaudio import Recognizer
    rec = Recognizer.from_checkpoint("runs/demo")              # a run directory or a .ckpt (its config is inside)
    rec = Recognizer.from_mindir("model.mindir")               # or an exported graph (its .json sidecar beside it)
    for result in rec.transcribe(["talk.flac", samples_16k], decoder="beam", hotwords=["MINDSPORE"]):
        print(result.text)
        for w in result.words:
            print(f"{w.start:6.2f} {w.end:6.2f} {w.confidence:.2f} {w.word}")

Inputs are file paths (any format libsndfile reads, any rate, any channels), raw bytes of such a file, NumPy arrays
of samples at the model's rate (``features.sample_rate``, 16 kHz), or ``(samples, rate)`` pairs: the contract of
``mindaudio.data.audio`` (integers scaled by their full scale, channels averaged, non-finite samples refused). Long
recordings are
cut into chunks of at most ``chunk_seconds`` at the quietest point of each chunk's last ``search_seconds`` (so
cuts fall in pauses); the chunks' log-probabilities are joined and decoded in one pass. Word times are in seconds
from the start of the audio (one network frame = 20 ms).
"""
import dataclasses
import math

import numpy as np

from mindaudio.config import config_from_dict
from mindaudio.data import audio as audio_io
from mindaudio.data.features import spectrogram
from mindaudio.decoding import build_decoder, word_confidence
from mindaudio.device import set_device
from mindaudio.errors import AudioError, ConfigError
from mindaudio.geometry import Geometry, frame_params
from mindaudio.inference.network import (config_for, forward, load_mindir, load_network, load_streaming_step,
                                         mindir_sidecar, resolve_checkpoint)
from mindaudio.inference.streaming import Stream
from mindaudio.models.streaming_step import streaming_step
from mindaudio.text import Labels


@dataclasses.dataclass
class Word:
    word: str
    start: float          # seconds
    end: float            # seconds
    confidence: float     # 0..1: exp of the mean best-class log-probability over the word's frames


@dataclasses.dataclass
class Transcript:
    text: str
    words: list
    duration: float       # seconds of audio
    decoder: str

    def to_dict(self):
        return dataclasses.asdict(self)


def chunk_bounds(audio, sample_rate, chunk_seconds=30.0, search_seconds=10.0, window_seconds=0.1):
    """Cut points for long audio: [(start, end)] sample ranges covering ``audio`` with no gap or overlap, each at
    most ``chunk_seconds`` long. Each cut is placed at the centre of the quietest ``window_seconds`` window (mean
    power) in the last ``search_seconds`` of the chunk."""
    n = len(audio)
    max_len = int(chunk_seconds * sample_rate)
    if max_len < 1:
        raise ValueError(f"chunk_seconds {chunk_seconds!r} is shorter than one sample")
    if n <= max_len:
        return [(0, n)]
    search = min(int(search_seconds * sample_rate), max_len // 2)
    win = max(1, int(window_seconds * sample_rate))
    power = np.asarray(audio, dtype=np.float64) ** 2
    cumulative = np.concatenate([[0.0], np.cumsum(power)])
    bounds, start = [], 0
    while n - start > max_len:
        lo, hi = start + max_len - search, start + max_len      # the cut lies in [lo, hi]
        centres = np.arange(lo, hi + 1)
        left = np.clip(centres - win // 2, 0, n)
        right = np.clip(centres + (win - win // 2), 0, n)
        energy = (cumulative[right] - cumulative[left]) / np.maximum(right - left, 1)
        cut = int(centres[int(np.argmin(energy))])
        bounds.append((start, cut))
        start = cut
    bounds.append((start, n))
    return bounds


class Recognizer:
    """A trained DeepSpeech2 and its features, label set and decoders. Build with :meth:`from_checkpoint` or
    :meth:`from_mindir`; see the module docstring."""

    def __init__(self, cfg, network, source, chunk_seconds=30.0, search_seconds=10.0):
        self.cfg, self.network, self.source = cfg, network, source
        self.labels = Labels.from_config(cfg.text)
        self.sample_rate = cfg.features.sample_rate
        self.geometry = Geometry.of(cfg)
        hop = frame_params(cfg.features)[1]
        self.frame_seconds = hop * self.geometry.time_stride / self.sample_rate
        shortest = self.geometry.receptive_frames * hop / self.sample_rate      # one output frame's whole input
        if not (math.isfinite(chunk_seconds) and chunk_seconds >= shortest):
            raise ConfigError(f"chunk_seconds must be a finite number of at least {shortest:g} s (the input one output "
                              f"frame of this network sees), got {chunk_seconds!r}")
        if not (math.isfinite(search_seconds) and search_seconds >= 0):
            raise ConfigError(f"search_seconds must be a finite number ≥ 0, got {search_seconds!r}")
        self.chunk_seconds, self.search_seconds = chunk_seconds, search_seconds
        self._decoders = {}
        self._step, self._state0 = None, None          # the streaming step (MindIR: loaded with its initial state)

    @classmethod
    def from_checkpoint(cls, path, config=None, overrides=(), **kwargs):
        """``path``: a checkpoint file or a run directory (its best checkpoint). The config stored in the checkpoint
        is used unless ``config`` (a YAML path) is given; ``overrides`` as on the command line."""
        checkpoint = resolve_checkpoint(path)
        cfg = config_for(checkpoint, config, overrides)
        return cls(cfg, load_network(cfg, checkpoint), checkpoint, **kwargs)

    @classmethod
    def from_mindir(cls, path, overrides=(), **kwargs):
        """``path``: a MindIR file written by ``mindaudio-export``; its settings come from the JSON beside it."""
        meta = mindir_sidecar(path)
        cfg = config_from_dict({k: meta[k] for k in ("features", "text", "model")},
                               [f"train.device_target={meta.get('device_target', 'CPU')}", *overrides], path)
        set_device(cfg.train.device_target)
        recognizer = cls(cfg, load_mindir(path, meta["num_features"]), path, **kwargs)
        if "streaming_step" in meta:
            recognizer._step, recognizer._state0 = load_streaming_step(path, meta)
        return recognizer

    def decoder(self, name=None, **settings):
        """The decoder ``name`` (greedy | beam; default ``eval.decoder``) with ``eval`` settings overridden by
        ``settings`` (beam_width, alpha, beta, lm_path), built once and kept."""
        eval_cfg = dataclasses.replace(self.cfg.eval, decoder=name or self.cfg.eval.decoder, **settings)
        key = (eval_cfg.decoder, eval_cfg.beam_width, eval_cfg.alpha, eval_cfg.beta, eval_cfg.lm_path)
        if key not in self._decoders:
            self._decoders[key] = build_decoder(eval_cfg, self.labels)
        return self._decoders[key]

    def load(self, item, channel_axis=None):
        """A path, bytes, samples or (samples, rate) → mono float32 samples at the model's rate (the contract of
        ``mindaudio.data.audio``)."""
        return audio_io.read(item, self.sample_rate, channel_axis=channel_axis)

    def log_probs(self, audio):
        """audio [S] at the model's rate → log-probs [T', C] of the whole recording (chunks joined)."""
        hop = frame_params(self.cfg.features)[1]
        parts = []
        for start, end in chunk_bounds(audio, self.sample_rate, self.chunk_seconds, self.search_seconds):
            chunk = audio[start:end]
            if len(chunk) < hop and parts:                   # a sliver at the very end: nothing to hear
                continue
            lp, lens = forward(self.network, [spectrogram(chunk, self.cfg.features)], self.cfg)
            parts.append(lp[:int(lens[0]), 0])
        return np.concatenate(parts, axis=0)

    def transcribe_audio(self, audio, decoder=None, hotwords=None, hotword_weight=10.0, **settings):
        """Samples at the model's rate → :class:`Transcript`."""
        if len(audio) == 0:
            raise AudioError("the audio holds no samples")
        return self.transcript_of(self.log_probs(audio), len(audio), decoder, hotwords, hotword_weight, **settings)

    def transcript_of(self, log_probs, num_samples, decoder=None, hotwords=None, hotword_weight=10.0, **settings):
        """Log-probs [T', C] of ``num_samples`` samples → :class:`Transcript` (words with times and confidence)."""
        dec = self.decoder(decoder, **settings)
        text, spans = dec.decode_words(log_probs, hotwords=hotwords, hotword_weight=hotword_weight)
        words = [Word(w, round(a * self.frame_seconds, 3), round(b * self.frame_seconds, 3),
                      round(word_confidence(log_probs, a, b), 4)) for w, a, b in spans]
        return Transcript(text, words, round(num_samples / self.sample_rate, 3), dec.name)

    @property
    def streaming(self):
        return bool(getattr(self.network, "streaming", False) or self._step is not None)

    def stream(self):
        """A new :class:`~mindaudio.inference.streaming.Stream` (unidirectional models only)."""
        if self._step is None:
            if not self.streaming:
                raise ConfigError("streaming needs a unidirectional model (model.bidirectional: false)")
            self._step = streaming_step(self.network)
            self._state0 = self._step.initial_state()
        return Stream(self, self._step, [s.copy() for s in self._state0])

    def transcribe(self, inputs, decoder=None, hotwords=None, hotword_weight=10.0, channel_axis=None, **settings):
        """One input or a list → one :class:`Transcript` or a list of them. ``decoder``: greedy | beam;
        ``hotwords``: words the beam search favours (weight ``hotword_weight``); ``channel_axis``: for 2-D arrays
        whose channel axis cannot be told from the shape; ``settings``: beam_width, alpha, beta, lm_path. Raises
        AudioError naming an input that cannot be read."""
        single = not isinstance(inputs, list)
        results = []
        for item in [inputs] if single else inputs:
            audio = self.load(item, channel_axis)
            results.append(self.transcribe_audio(audio, decoder, hotwords, hotword_weight, **settings))
        return results[0] if single else results
