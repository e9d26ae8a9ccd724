"""The streaming DeepSpeech2 (``model.bidirectional: false``) one chunk at a time, its state as explicit inputs and
outputs: what ``mindaudio.inference.streaming.Stream`` runs, and what ``mindaudio-export`` writes to MindIR beside
the whole-utterance graph.

The state makes chunked decoding exact, not approximate: each causal convolution keeps its last k − 1 input frames
(zeros before the start: the whole utterance's padding), each LSTM its hidden and cell states, the lookahead
convolution its last ``model.lookahead`` inputs. Frames go in pairs (the first convolution's time stride).
"""
import numpy as np
import mindspore as ms
from mindspore import nn, ops

NOT_YET = 2 ** 30          # ``total`` while the stream's length is unknown


class StreamingStep(nn.Cell):
    """One chunk through a unidirectional :class:`~mindaudio.models.deepspeech2.DeepSpeech2` ``net``.

    Inputs: feats [1, 1, F, 2m] (normalised frames, m ≥ 1), position [1] int32 (index of the chunk's first network
    output frame = frames before the chunk / 2), total [1] int32 (the stream's output length once known, else
    NOT_YET), then the state (:meth:`state_signature`): conv1_cache [1, 1, F, k-1], conv2_cache [1, C, F', k-1],
    h and c [layers, 1, H], look_cache [max(lookahead, 1), 1, H] (k: the time kernel).
    Outputs: log_probs [m, 1, classes] of output frames position − lookahead … position + m − lookahead − 1,
    then the new state in the same order."""

    def __init__(self, net):
        super().__init__()
        if not net.streaming:
            raise ValueError("streaming needs a unidirectional model (model.bidirectional: false)")
        self.net = net
        self.blocks = nn.CellList([net.conv1, net.conv2])
        self.convs = nn.CellList([block.unpadded_in_time() for block in self.blocks])
        self.lookahead = net.lookahead

    def state_signature(self):
        """Shapes of the state tensors, in input order (all float32)."""
        net, k = self.net, self.net.conv1.spec.kernel[1]
        hidden, layers = net.fc.in_channels, len(net.rnns)
        context = max(1, self.lookahead.context if self.lookahead is not None else 0)   # unused without lookahead
        return ([1, 1, net.num_features, k - 1], [1, net.conv2.spec.in_channels, net.geometry.freq_sizes[0], k - 1],
                [layers, 1, hidden], [layers, 1, hidden], [context, 1, hidden])

    def input_signature(self):
        """Any chunk length; everything else fixed."""
        return (ms.Tensor(shape=[1, 1, self.net.num_features, None], dtype=ms.float32),
                ms.Tensor(shape=[1], dtype=ms.int32), ms.Tensor(shape=[1], dtype=ms.int32),
                *[ms.Tensor(shape=s, dtype=ms.float32) for s in self.state_signature()])

    def initial_state(self):
        """Zero caches and states: exactly the padding and initial states of the whole-utterance network."""
        return [np.zeros(s, np.float32) for s in self.state_signature()]

    def _block(self, i, cache, x, position, total):
        """Causal convolution over [cache, x] → (output [1, C, F', m] zeroed beyond ``total``, new cache)."""
        joined = ops.concat((cache, x), axis=3)
        y = self.blocks[i].activate(self.convs[i](joined))
        positions = position + ops.cumsum(ops.ones_like(y[0, 0, 0, :], dtype=ms.float32), 0).astype(ms.int32) - 1
        y = y * (positions < total).astype(y.dtype).reshape(1, 1, 1, -1)
        return y, joined[:, :, :, joined.shape[3] - cache.shape[3]:]

    def construct(self, feats, position, total, conv1_cache, conv2_cache, h, c, look_cache):
        u, conv1_cache = self._block(0, conv1_cache, feats, position, total)
        v, conv2_cache = self._block(1, conv2_cache, u, position, total)
        x = self.net.to_sequence(v)                                               # [m, 1, C·F']
        valid = (position + ops.cumsum(ops.ones_like(x[:, 0, 0], dtype=ms.float32), 0).astype(ms.int32) - 1
                 < total).reshape(-1, 1, 1)                                   # [m, 1, 1]: frames before the end
        hs, cs = [], []
        for i, rnn in enumerate(self.net.rnns):
            x, h_i, c_i = rnn.step(x, h[i:i + 1], c[i:i + 1])
            x = x * valid.astype(x.dtype)
            hs.append(h_i)
            cs.append(c_i)
        if self.lookahead is not None:
            x, look_cache = self.lookahead.step(look_cache, x)
        return (self.net.project(x), conv1_cache, conv2_cache, ops.concat(hs, 0), ops.concat(cs, 0), look_cache)


def streaming_step(net):
    """The :class:`StreamingStep` of ``net`` in evaluation mode, compiled once for any chunk length."""
    step = StreamingStep(net)
    step.set_train(False)
    step.set_inputs(*step.input_signature())
    return step
