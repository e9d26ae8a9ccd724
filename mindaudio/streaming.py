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

:class:`StreamingStep` is that step as one MindSpore cell, the state as explicit inputs and outputs: it is what
``mindaudio-export --streaming`` writes to MindIR.
"""
import numpy as np

from mindaudio.data.features import AudioError, RunningNorm, frame_params, log_power

NOT_YET = 2 ** 30          # "total" while the stream's length is unknown


def _step_cell_class():
    import mindspore as ms
    from mindspore import nn, ops
    from mindaudio.models.deepspeech2 import length_mask
    from mindaudio.models.layers import Conv2d

    class StreamingStep(nn.Cell):
        """One chunk through the streaming network.

        Inputs: feats [1, 1, F, 2m] (normalised frames, m ≥ 1), position [1] int32 (index of the chunk's first
        network output frame = frames before the chunk / 2), total [1] int32 (the stream's output length once known,
        else NOT_YET), then the state: conv1_cache [1, 1, F, k-1], conv2_cache [1, C, F', k-1], h and c
        [layers, 1, H], look_cache [lookahead, 1, H] (k: the time kernel).
        Outputs: log_probs [m, 1, classes] of output frames position − lookahead … position + m − lookahead − 1,
        then the new state in the same order."""

        def __init__(self, net):
            super().__init__()
            self.net = net
            self.convs = nn.CellList()
            for block in (net.conv1, net.conv2):
                spec = block.spec
                conv = Conv2d(spec.in_channels, spec.out_channels, spec.kernel, spec.stride,
                              (spec.padding[0], 0, 0), block.conv.fast_cpu)      # valid in time: the cache pads
                conv.weight = block.conv.weight
                self.convs.append(conv)
            self.context = net.lookahead.context if net.lookahead is not None else 0

        def _block(self, i, block, cache, x, position, total):
            """Causal conv over [cache, x] → (masked output [1, C, F', m], new cache)."""
            joined = ops.concat((cache, x), axis=3)
            y = ops.clamp(block.bn(self.convs[i](joined)), 0.0, block.relu_clip)
            positions = position + ops.cumsum(ops.ones_like(y[0, 0, 0, :], dtype=ms.float32), 0).astype(ms.int32) - 1
            y = y * (positions < total).astype(y.dtype).reshape(1, 1, 1, -1)
            keep = cache.shape[3]
            return y, joined[:, :, :, joined.shape[3] - keep:]

        def construct(self, feats, position, total, conv1_cache, conv2_cache, h, c, look_cache):
            u, conv1_cache = self._block(0, self.net.conv1, conv1_cache, feats, position, total)
            v, conv2_cache = self._block(1, self.net.conv2, conv2_cache, u, position, total)
            b, ch, f, t = v.shape
            x = v.reshape(b, ch * f, t).transpose(2, 0, 1)                       # [m, 1, C·F']
            m = x.shape[0]
            valid = length_mask(total - position, x[:, :, 0].transpose(1, 0)).transpose(1, 0).expand_dims(-1)
            hs, cs = [], []
            for i, rnn in enumerate(self.net.rnns):
                x, (h_i, c_i) = rnn.fwd(x, (h[i:i + 1], c[i:i + 1]))
                x = x * valid.astype(x.dtype)
                hs.append(h_i)
                cs.append(c_i)
            if self.context:
                joined = ops.concat((look_cache, x), axis=0)                     # [lookahead + m, 1, H]
                x = self.net.lookahead.window_sum(joined, m)
                look_cache = joined[m:]
            logits = self.net.fc(x).astype(ms.float32)
            return (ops.log_softmax(logits, axis=-1), conv1_cache, conv2_cache, ops.concat(hs, 0), ops.concat(cs, 0),
                    look_cache)

    return StreamingStep


def streaming_step(net):
    """The :class:`StreamingStep` of a unidirectional DeepSpeech2, compiled for any chunk length."""
    if not getattr(net, "streaming", False):
        raise ValueError("streaming needs a unidirectional model (model.bidirectional: false)")
    step = _step_cell_class()(net)
    step.set_train(False)
    step.set_inputs(*step_signature(net))
    return step


def step_signature(net):
    import mindspore as ms
    spec1, spec2 = net.conv1.spec, net.conv2.spec
    k, hidden, layers = spec1.kernel[1], net.fc.in_channels, len(net.rnns)
    context = max(1, net.lookahead.context if net.lookahead is not None else 0)   # without lookahead: unused
    freq1 = net.geometry.freq_sizes[0]
    return (ms.Tensor(shape=[1, 1, net.num_features, None], dtype=ms.float32),
            ms.Tensor(shape=[1], dtype=ms.int32), ms.Tensor(shape=[1], dtype=ms.int32),
            ms.Tensor(shape=[1, 1, net.num_features, k - 1], dtype=ms.float32),
            ms.Tensor(shape=[1, spec2.in_channels, freq1, k - 1], dtype=ms.float32),
            ms.Tensor(shape=[layers, 1, hidden], dtype=ms.float32),
            ms.Tensor(shape=[layers, 1, hidden], dtype=ms.float32),
            ms.Tensor(shape=[context, 1, hidden], dtype=ms.float32))


def initial_state(net):
    """Zero caches and states: exactly the padding and initial states of the whole-utterance network."""
    return [np.zeros(t.shape, np.float32) for t in step_signature(net)[3:]]


class Stream:
    """One utterance being recognised as it arrives; see the module docstring. ``step``: a StreamingStep (or its
    MindIR GraphCell); ``decoder``: decodes the final log-probabilities (greedy partials are always shown)."""

    def __init__(self, recognizer, step, state):
        self.rec, self.step, self.state = recognizer, step, state
        cfg = recognizer.cfg
        self.n_fft, self.hop = frame_params(cfg.features)
        self.samples = np.zeros(self.n_fft // 2, np.float64)         # the centred framing's left padding
        self.consumed = 0                                           # samples received
        self.frames_cut = 0                                         # STFT frames computed
        if cfg.features.normalize == "utterance":
            raise ValueError("streaming needs features.normalize: running (per-utterance statistics need the whole "
                             "utterance)")
        self.norm = RunningNorm(cfg.features) if cfg.features.normalize == "running" else None
        self.pending = np.zeros((0, self.n_fft // 2 + 1), np.float32)
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
            return np.zeros((0, self.n_fft // 2 + 1), np.float32)
        frames = np.lib.stride_tricks.sliding_window_view(self.samples, self.n_fft)[::self.hop][:n]
        feats = log_power(frames, self.rec.cfg.features)
        self.samples = self.samples[n * self.hop:]
        self.frames_cut += n
        if self.norm is not None:
            feats = self.norm(feats)
        return feats.astype(np.float32)

    def _run(self, feats, total):
        """Feed [2m, F] frames to the step; keep the output frames that exist (≥ 0, < total)."""
        import mindspore as ms
        position = self.frames_fed // 2
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
        """Add samples (float, at the model's rate) → the partial transcript (greedy) so far."""
        if self.finished:
            raise RuntimeError("this stream is finished; start another")
        samples = np.asarray(samples, dtype=np.float64).reshape(-1)
        self.samples = np.concatenate([self.samples, samples])
        self.consumed += len(samples)
        feats = np.concatenate([self.pending, self._features(final=False)])
        usable = len(feats) // 2 * 2                                # frames go in pairs (stride 2)
        if usable:
            self._run(feats[:usable], NOT_YET)
        self.pending = feats[usable:]
        return self.partial()

    def partial(self):
        from mindaudio.decoding import greedy_decode
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
        if len(feats) % 2:
            feats = np.concatenate([feats, np.zeros((1, feats.shape[1]), np.float32)])   # beyond the length
        flush = np.zeros((2 * self.context, feats.shape[1]), np.float32)               # masked: beyond the length
        feats = np.concatenate([feats, flush])
        if len(feats):
            self._run(feats, int(total))
        lp = np.stack(self.log_probs) if self.log_probs else np.zeros((0, len(self.rec.labels)), np.float32)
        return self.rec.transcript_of(lp, self.consumed, decoder, **settings)
