"""The network: parameter count, a full-size forward pass, and padding invariance."""
import numpy as np
import pytest

import mindspore as ms

from mindaudio.config import Config
from mindaudio.data.dataset import collate
from mindaudio.geometry import Geometry
from mindaudio.models.deepspeech2 import build_model

pytestmark = pytest.mark.usefixtures("cpu")


def cpu_config(**model):
    cfg = Config()
    cfg.train.device_target = "CPU"
    for k, v in model.items():
        setattr(cfg.model, k, v)
    return cfg


def expected_parameters(channels=32, kernel=(41, 11), hidden=1024, layers=5, classes=29, features=161):
    conv1 = channels * 1 * kernel[0] * kernel[1]             # no bias
    conv2 = channels * channels * kernel[0] * kernel[1]
    bn = 2 * (2 * channels)                                  # gamma and beta of two BatchNorms
    freq = features
    for _ in range(2):
        freq = (freq - 1) // 2 + 1                           # 161 → 81 → 41
    rnn_in = channels * freq                                 # 32 × 41 = 1312

    def lstm(inp):                                           # one direction: 4 gates, input + hidden weights, 2 biases
        return 4 * hidden * (inp + hidden) + 2 * 4 * hidden
    rnns = 2 * lstm(rnn_in) + (layers - 1) * 2 * lstm(hidden)
    fc = hidden * classes + classes
    return conv1 + conv2 + bn + rnns + fc


def count(net):
    return sum(int(np.prod(p.shape)) for p in net.trainable_params())


@pytest.mark.slow
def test_full_network_parameter_count_and_forward():
    # 14,432 + 461,824 + 128 + 2·(4·1024·2336 + 8192) + 4·2·(4·1024·2048 + 8192) + 29,725 = 86,833,405
    assert expected_parameters() == 86_833_405
    net = build_model(cpu_config())
    assert count(net) == 86_833_405
    net.set_train(False)
    x = np.random.default_rng(0).standard_normal((1, 1, 161, 40)).astype(np.float32)
    log_probs, lengths = net(ms.Tensor(x), ms.Tensor(np.array([40], np.int32)))
    assert log_probs.shape == (20, 1, 29) and lengths.asnumpy().tolist() == [20]
    np.testing.assert_allclose(np.exp(log_probs.asnumpy()).sum(-1), 1.0, rtol=1e-5)


def test_small_network_parameter_count():
    net = build_model(cpu_config(conv_channels=4, rnn_hidden=16, rnn_layers=2))
    assert count(net) == expected_parameters(4, (41, 11), 16, 2)


def test_padding_never_changes_results():
    """Each utterance alone equals the same utterance inside a padded batch, on every valid frame."""
    cfg = cpu_config(conv_channels=4, rnn_hidden=16, rnn_layers=2)
    net = build_model(cfg)
    net.set_train(False)
    net.set_inputs(*net.input_signature())
    rng = np.random.default_rng(1)
    # give BatchNorm non-trivial statistics so that its output at padded positions is not zero
    for cell in (net.conv1.bn, net.conv2.bn):
        cell.moving_mean.set_data(ms.Tensor(rng.standard_normal(4).astype(np.float32)))
        cell.moving_variance.set_data(ms.Tensor(rng.uniform(0.5, 2, 4).astype(np.float32)))
    lengths = [37, 64, 50, 9]
    feats = [rng.standard_normal((161, t)).astype(np.float32) for t in lengths]
    dummy = [np.zeros(1, np.int32)] * len(feats)
    x, xl, _, _ = collate(feats, dummy, pad_to_multiple=16)
    batch_out, batch_lens = net(ms.Tensor(x), ms.Tensor(xl))
    batch_out = batch_out.asnumpy()
    assert batch_lens.asnumpy().tolist() == Geometry(cfg.model, 161).output_frames(np.array(lengths)).tolist()
    for b, f in enumerate(feats):
        x1, xl1, _, _ = collate([f], dummy[:1], pad_to_multiple=1)
        alone, n = net(ms.Tensor(x1), ms.Tensor(xl1))
        n = int(n.asnumpy()[0])
        assert alone.shape[0] == n
        np.testing.assert_allclose(batch_out[:n, b], alone.asnumpy()[:, 0], atol=2e-5)


@pytest.mark.slow
def test_one_compilation_for_every_batch_shape():
    """Cell.compile_cache holds one entry per compiled graph: dynamic shapes give one for all (B, T)."""
    from mindaudio.training.step import build_train_step
    cfg = cpu_config(conv_channels=4, rnn_hidden=16, rnn_layers=1, conv_kernel=[7, 3])
    net = build_model(cfg)
    step = build_train_step(cfg, net, total_steps=10)
    rng = np.random.default_rng(0)
    for b, t, s in [(1, 32, 3), (2, 48, 5), (3, 80, 2)]:
        step(ms.Tensor(rng.standard_normal((b, 1, 161, t)).astype(np.float32)), ms.Tensor(np.full(b, t, np.int32)),
             ms.Tensor(rng.integers(1, 29, (b, s)).astype(np.int32)), ms.Tensor(np.full(b, s, np.int32)))
    assert len(step.compile_cache) == 1
    plain = build_model(cfg)                      # the control: without set_inputs every shape compiles
    plain.set_train(False)
    for b, t in [(1, 32), (2, 48)]:
        plain(ms.Tensor(np.zeros((b, 1, 161, t), np.float32)), ms.Tensor(np.full(b, t, np.int32)))
    assert len(plain.compile_cache) == 2


def test_ascend_build_keeps_batchnorm_and_loss_in_fp32():
    """The Ascend network with mixed precision, built and run on CPU (PyNative): convolutions, LSTMs and projection
    compute in fp16, BatchNorm takes their fp16 output and computes in fp32, log-softmax (and so CTC) gets fp32."""
    cfg = cpu_config(conv_channels=2, rnn_hidden=8, rnn_layers=1)
    cfg.train.device_target, cfg.train.mixed_precision = "Ascend", True
    ms.set_context(mode=ms.PYNATIVE_MODE)
    try:
        net = build_model(cfg)
        assert not net.conv1.conv.fast_cpu                          # the native Conv2D of the Ascend path
        seen = {}

        def record(name):
            def hook(cell, inputs, output):
                outputs = output if isinstance(output, tuple) else (output,)
                seen[name] = (inputs[0].dtype, outputs[0].dtype)
            return hook
        for name in ("conv1.conv", "conv1.bn", "conv2.conv", "conv2.bn", "rnns.0.bwd", "fc"):
            dict(net.cells_and_names())[name].register_forward_hook(record(name))
        net.set_train(False)
        log_probs, _ = net(ms.Tensor(np.random.default_rng(0).standard_normal((1, 1, 161, 20)).astype(np.float32)),
                           ms.Tensor(np.array([20], np.int32)))
    finally:
        ms.set_context(mode=ms.GRAPH_MODE)
    assert seen["conv1.conv"][1] == seen["conv2.conv"][1] == ms.float16
    assert seen["conv1.bn"] == seen["conv2.bn"] == (ms.float16, ms.float32)   # fp16 in, computed and out in fp32
    assert seen["rnns.0.bwd"][1] == seen["fc"][1] == ms.float16
    assert log_probs.dtype == ms.float32                         # log-softmax and the CTC loss see fp32


@pytest.mark.slow
def test_static_shapes_give_the_dynamic_results():
    """train.dynamic_shapes=false pads to data.static_pad_multiple and compiles per shape; the valid frames'
    log-probabilities are those of the dynamic-shape network with the same weights."""
    from mindaudio.data.features import spectrogram
    from mindaudio.inference.network import build_network, forward
    cfg = cpu_config(conv_channels=4, rnn_hidden=16, rnn_layers=1, conv_kernel=[7, 3])
    static_cfg = cpu_config(conv_channels=4, rnn_hidden=16, rnn_layers=1, conv_kernel=[7, 3])
    static_cfg.train.dynamic_shapes = False
    dynamic, static = build_network(cfg), build_network(static_cfg)
    for (_, p), (_, q) in zip(dynamic.parameters_and_names(), static.parameters_and_names()):
        q.set_data(p.data)
    rng = np.random.default_rng(2)
    feats = [spectrogram(rng.standard_normal(n).astype(np.float32) * 0.1, cfg.features) for n in (8000, 14000)]
    a, a_lens = forward(dynamic, feats, cfg)
    b, b_lens = forward(static, feats, static_cfg)
    assert b.shape[0] == Geometry(cfg.model, 161).output_frames(256) and a.shape[0] < b.shape[0]
    np.testing.assert_array_equal(a_lens, b_lens)
    for i, n in enumerate(a_lens):
        np.testing.assert_allclose(a[:n, i], b[:n, i], atol=1e-5)


def test_lookahead_is_a_row_convolution_over_the_future_within_each_length():
    """y[t] = Σ_k w[k] ⊙ x[t + k], x zero beyond each length (NumPy reference); it starts as the identity."""
    from mindaudio.models.deepspeech2 import Lookahead
    look = Lookahead(3, 5)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((9, 2, 5)).astype(np.float32)
    mask = (np.arange(9)[:, None] < np.array([9, 6])[None, :]).astype(np.float32)[:, :, None]
    np.testing.assert_allclose(look(ms.Tensor(x), ms.Tensor(mask)).asnumpy(), x * mask, atol=1e-7)
    w = rng.standard_normal((4, 5)).astype(np.float32)
    look.weight.set_data(ms.Tensor(w))
    padded = np.concatenate([x * mask, np.zeros((3, 2, 5), np.float32)])
    want = sum(w[k] * padded[k:k + 9] for k in range(4))
    np.testing.assert_allclose(look(ms.Tensor(x), ms.Tensor(mask)).asnumpy(), want, rtol=1e-5, atol=1e-6)
