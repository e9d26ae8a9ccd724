"""The compiled CPU LSTM (mindaudio/models/cpu_lstm.py) against nn.LSTM: forward and every gradient, with dynamic
shapes compiled once; the whole network the same with either kernel; the fallback when it cannot be built."""
import os
import subprocess
import sys

import numpy as np
import mindspore as ms
import pytest
from mindspore import nn

from mindaudio.models import cpu_lstm
from tests.test_deepspeech2 import cpu_config

pytestmark = pytest.mark.skipif(cpu_lstm.kernel() is None, reason="the compiled LSTM could not be built here")


class LossAndGrads(nn.Cell):
    """(y, d/dx, d/dweights) of sum(y · r): r makes dy arbitrary."""

    def __init__(self, lstm):
        super().__init__()
        self.lstm = lstm
        self.weights = ms.ParameterTuple(lstm.trainable_params())
        self.grad = ms.value_and_grad(self.loss, grad_position=0, weights=self.weights, has_aux=True)

    def loss(self, x, r):
        y, _ = self.lstm(x)
        return (y * r).sum(), y

    def construct(self, x, r):
        (_, y), (dx, dw) = self.grad(x, r)
        return y, dx, dw


@pytest.fixture(autouse=True)
def compiled_at_any_size(monkeypatch):
    monkeypatch.setenv("MINDAUDIO_CPU_LSTM", "compiled")     # the tests' sizes are below the automatic threshold


def same_weights(d, h):
    native = nn.LSTM(d, h, num_layers=1, has_bias=True, batch_first=False)
    compiled = cpu_lstm.lstm(d, h, compiled=True)
    assert isinstance(compiled, cpu_lstm.CompiledLSTM)
    for mine, theirs in zip(compiled.trainable_params(), native.trainable_params()):
        assert mine.name.split(".")[-1] == theirs.name.split(".")[-1] and mine.shape == theirs.shape
        mine.set_data(ms.Tensor(theirs.asnumpy()))
    return native, compiled


@pytest.mark.parametrize("d, h", [(16, 16), pytest.param(40, 24, marks=pytest.mark.slow)])
def test_forward_and_gradients_equal_nn_lstm_for_every_shape_from_one_graph(cpu, d, h):
    native, compiled = same_weights(d, h)
    nets = LossAndGrads(native), LossAndGrads(compiled)
    for net in nets:
        net.set_inputs(ms.Tensor(shape=[None, None, d], dtype=ms.float32),
                       ms.Tensor(shape=[None, None, h], dtype=ms.float32))
    rng = np.random.default_rng(0)
    for t, b in [(7, 3), (12, 4), (1, 1), (3, 8), (7, 3)]:
        x = ms.Tensor(rng.standard_normal((t, b, d)).astype(np.float32))
        r = ms.Tensor(rng.standard_normal((t, b, h)).astype(np.float32))
        (y0, dx0, dw0), (y1, dx1, dw1) = nets[0](x, r), nets[1](x, r)
        for name, got, want in [("y", y1, y0), ("dx", dx1, dx0)] + [
                (f"d{p.name}", g1, g0) for p, g1, g0 in zip(compiled.trainable_params(), dw1, dw0)]:
            got, want = got.asnumpy(), want.asnumpy()
            assert got.shape == want.shape, name
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max(), err_msg=f"{name} {t}×{b}")
    assert len(nets[1].compile_cache) == 1


@pytest.mark.slow
def test_the_network_gives_the_same_results_with_either_kernel(cpu):
    """The same parameters in the network built with the compiled kernel and in the portable one (nn.LSTM, what
    export and other devices use): same log-probs and the same gradient of the loss, padding included."""
    from mindaudio.data.dataset import collate
    from mindaudio.models.deepspeech2 import CTCLossCell, build_model
    cfg = cpu_config(conv_channels=4, rnn_hidden=16, rnn_layers=2, conv_kernel=[7, 3])
    compiled, portable = build_model(cfg), build_model(cfg, portable=True)
    assert isinstance(compiled.rnns[0].fwd, cpu_lstm.CompiledLSTM) and isinstance(portable.rnns[0].fwd, nn.LSTM)
    names = [p.name for p in compiled.get_parameters()]
    assert names == [p.name for p in portable.get_parameters()]          # checkpoints move between the two
    for mine, theirs in zip(compiled.get_parameters(), portable.get_parameters()):
        theirs.set_data(ms.Tensor(mine.asnumpy()))
    rng = np.random.default_rng(2)
    feats = [rng.standard_normal((161, t)).astype(np.float32) for t in (40, 23, 31)]
    tokens = [rng.integers(1, 29, n).astype(np.int32) for n in (5, 3, 4)]
    batch = [ms.Tensor(a) for a in collate(feats, tokens, pad_to_multiple=16)]
    outputs = []
    for net in (compiled, portable):
        net.set_train(True)
        loss = CTCLossCell(net, blank=0)
        outputs.append(ms.value_and_grad(loss, None, net.trainable_params())(*batch))
    (loss0, grads0), (loss1, grads1) = outputs
    assert np.isfinite(loss0.asnumpy())
    np.testing.assert_allclose(loss0.asnumpy(), loss1.asnumpy(), rtol=1e-5)
    for p, g0, g1 in zip(compiled.trainable_params(), grads0, grads1):
        np.testing.assert_allclose(g0.asnumpy(), g1.asnumpy(), rtol=1e-3, atol=1e-5 * np.abs(g1.asnumpy()).max(),
                                   err_msg=p.name)


def test_the_kernel_is_chosen_by_size_unless_told(monkeypatch):
    monkeypatch.setenv("MINDAUDIO_CPU_LSTM", "auto")
    assert cpu_lstm.wanted(1024) and not cpu_lstm.wanted(256)
    assert isinstance(cpu_lstm.lstm(8, 256, compiled=True), nn.LSTM)
    assert isinstance(cpu_lstm.lstm(8, 1024, compiled=True), cpu_lstm.CompiledLSTM)
    assert isinstance(cpu_lstm.lstm(8, 1024, compiled=False), nn.LSTM)             # Ascend, or an exported graph
    monkeypatch.setenv("MINDAUDIO_CPU_LSTM", "native")
    assert isinstance(cpu_lstm.lstm(8, 1024, compiled=True), nn.LSTM)
    monkeypatch.setenv("MINDAUDIO_CPU_LSTM", "compiled")
    assert isinstance(cpu_lstm.lstm(8, 16, compiled=True), cpu_lstm.CompiledLSTM)


@pytest.mark.slow
def test_without_a_compiler_the_network_uses_nn_lstm_and_says_so_once(tmp_path):
    code = ("import logging; logging.basicConfig(level=logging.INFO)\n"
            "from mindaudio.device import set_device; set_device('CPU')\n"
            "from mindaudio.config import Config\nfrom mindaudio.models.deepspeech2 import build_model\n"
            "cfg = Config(); cfg.train.device_target = 'CPU'; cfg.model.rnn_hidden = 8; cfg.model.rnn_layers = 2\n"
            "cfg.model.conv_channels = 2\nnet = build_model(cfg)\nprint(type(net.rnns[1].bwd).__name__)\n")
    env = dict(os.environ, CXX="/nonexistent/g++", MINDAUDIO_CACHE=str(tmp_path / "cache"),
               MINDAUDIO_CPU_LSTM="compiled")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "LSTM"
    assert proc.stderr.count("the compiled kernel is unavailable (no C++ compiler (g++) on PATH); using nn.LSTM") == 1
    assert not os.path.exists(tmp_path / "cache")
