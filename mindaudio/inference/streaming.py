"""Streaming recognition with the unidirectional model (``model.bidirectional: false``): audio in chunks of any
size, partial transcripts as they arrive, and a final transcript equal to the whole-utterance one.

    rec = Recognizer.from_checkpoint("runs/demo_streaming")
    stream = rec.stream()
    for chunk in chunks:                       # float samples at 16 kHz, any length (even one sample)
        print(stream.accept(chunk))            # the partial transcript so far
    result = stream.finish()                   # a Transcript, as Recognizer.transcribe gives

How the state is carried (exact, not approximate):
- features: STFT frames are cut as soon as their 20 ms window has arrived (the last one zero-padded at the end, as
  for a whole file); normalised with running statistics (``features.normalize: running``), a causal fold;
- convolutions: causal, so a chunk needs only the last 10 input frames of each convolution (kept, with zeros
  before the start, exactly the whole utterance's padding); frames go in pairs (the first convolution's stride);
- LSTMs: their hidden and cell states; lookahead: its last ``model.lookahead`` inputs, so an output frame is
  final once ``lookahead`` more frames (20 ms each) have been computed; at the end the stream is flushed with
  frames beyond the length, which are masked to zero as in the whole-utterance network.

:class:`~mindaudio.models.streaming_step.StreamingStep` is the network's side of it (a MindSpore cell, its state as
explicit inputs and outputs); this module is the host's side: samples → feature frames → steps → transcripts.
"""
import numpy as np
import mindspore as ms

from mindaudio.data import audio
from mindaudio.data.features import RunningNorm, log_power
from mindaudio.decoding import greedy_decode
from mindaudio.errors import AudioError, ConfigError
from mindaudio.geometry import frame_params, num_bins
from mindaudio.models.streaming_step import NOT_YET


class Stream:
    """One utterance being recognised as it arrives; see the module docstring. ``step``: a StreamingStep (or its
    MindIR GraphCell) and ``state`` its initial state; the recognizer decodes the final log-probabilities (greedy
    partials are always shown)."""

    def __init__(self, recognizer, step, state):
        self.rec, self.step, self.state = recognizer, step, state
        cfg = recognizer.cfg
        self.n_fft, self.hop = frame_params(cfg.features)
        self.stride = recognizer.geometry.time_stride                # feature frames per network output frame
        self.samples = np.zeros(self.n_fft // 2, np.float64)         # the centred framing's left padding
        self.consumed = 0                                           # samples received
        self.frames_cut = 0                                         # STFT frames computed
        if cfg.features.normalize == "utterance":
            raise ConfigError("streaming needs features.normalize: running (per-utterance statistics need the "
                              "whole utterance)")
        self.norm = RunningNorm(cfg.features) if cfg.features.normalize == "running" else None
        self.pending = np.zeros((0, num_bins(cfg.features)), np.float32)
        self.frames_fed = 0                                         # feature frames given to the network
        self.context = recognizer.cfg.model.lookahead
        self.log_probs = []                                         # final output frames, in order
        self.outputs = 0                                            # output frames produced (incl. pre-start)
        self.finished = False

    def _features(self, final):
        """The STFT frames whose window is complete (with ``final``, the zero-padded last ones too: as many as the
        whole file has) → normalised [k, F] float32."""
        if final:
            self.samples = np.concatenate([self.samples, np.zeros(self.n_fft // 2)])
        n = (len(self.samples) - self.n_fft) // self.hop + 1 if len(self.samples) >= self.n_fft else 0
        if n <= 0:
            return np.zeros((0, num_bins(self.rec.cfg.features)), np.float32)
        frames = np.lib.stride_tricks.sliding_window_view(self.samples, self.n_fft)[::self.hop][:n]
        feats = log_power(frames, self.rec.cfg.features)
        self.samples = self.samples[n * self.hop:]
        self.frames_cut += n
        if self.norm is not None:
            feats = self.norm(feats)
        return feats.astype(np.float32)

    def _run(self, feats, total):
        """Feed [2m, F] frames to the step; keep the output frames that exist (≥ 0, < total)."""
        position = self.frames_fed // self.stride
        inputs = [ms.Tensor(feats.T[None, None].copy()), ms.Tensor(np.array([position], np.int32)),
                  ms.Tensor(np.array([total], np.int32))] + [ms.Tensor(s) for s in self.state]
        out = self.step(*inputs)
        self.state = [o.asnumpy() for o in out[1:]]
        log_probs = out[0].asnumpy()[:, 0]
        first = position - self.context
        keep = [i for i in range(len(log_probs)) if 0 <= first + i < total]
        self.log_probs.extend(log_probs[keep])
        self.frames_fed += len(feats)

    def accept(self, samples):
        """Add samples at the model's rate (any dtype and channels, as ``mindaudio.data.audio.to_mono`` takes them)
        → the partial transcript (greedy) so far."""
        if self.finished:
            raise RuntimeError("this stream is finished; start another")
        samples = audio.to_mono(samples, "stream chunk") if np.size(samples) else np.zeros(0, np.float32)
        self.samples = np.concatenate([self.samples, samples.astype(np.float64)])
        self.consumed += len(samples)
        feats = np.concatenate([self.pending, self._features(final=False)])
        usable = len(feats) // self.stride * self.stride            # whole network frames only
        if usable:
            self._run(feats[:usable], NOT_YET)
        self.pending = feats[usable:]
        return self.partial()

    def partial(self):
        if not self.log_probs:
            return ""
        lp = np.stack(self.log_probs)
        return greedy_decode(lp[:, None], [len(lp)], self.rec.labels)[0]

    def finish(self, decoder=None, **settings):
        """End of the audio: the last frames, the lookahead flushed → :class:`~mindaudio.recognizer.Transcript`."""
        if self.finished:
            raise RuntimeError("this stream is already finished")
        self.finished = True
        if self.consumed == 0:
            raise AudioError("the stream held no samples")
        feats = np.concatenate([self.pending, self._features(final=True)])
        frames = self.frames_fed + len(feats)
        total = self.rec.geometry.output_frames(frames)
        if len(feats) % self.stride:                                                    # beyond the length
            feats = np.concatenate([feats, np.zeros((-len(feats) % self.stride, feats.shape[1]), np.float32)])
        flush = np.zeros((self.stride * self.context, feats.shape[1]), np.float32)     # masked: beyond the length
        feats = np.concatenate([feats, flush])
        if len(feats):
            self._run(feats, int(total))
        lp = np.stack(self.log_probs) if self.log_probs else np.zeros((0, len(self.rec.labels)), np.float32)
        return self.rec.transcript_of(lp, self.consumed, decoder, **settings)
