"""mindaudio.models.layers: the fast CPU Conv2d equals nn.Conv2d (forward, gradients, dynamic shapes); the gather
reverse equals ReverseSequence."""
import numpy as np
import pytest

import mindspore as ms
from mindspore import Tensor, nn, ops

from mindaudio.models.layers import Conv2d, ReverseWithinLengths

KERNEL = (41, 11)
PAD = (20, 5)
# (C_in, C_out, stride, F): DeepSpeech2's conv1 and conv2 with few channels, on 81 frequency bins instead of 161
# (half the time of MindSpore's slow native CPU convolution; the kernel still spans the padded edges)
CONV1 = (1, 4, (2, 2), 81)
CONV2 = (4, 4, (2, 1), 41)
CONFIGS = {"conv1": CONV1, "conv2": CONV2}


@pytest.fixture(scope="module", autouse=True)
def graph_mode(cpu):
    old = ms.get_context("mode")
    ms.set_context(mode=ms.GRAPH_MODE)
    yield
    ms.set_context(mode=old)


def _pair_conv(cfg, seed=0):
    """(fast Conv2d, native nn.Conv2d) sharing the same weight values."""
    c_in, c_out, stride, _ = cfg
    fast = Conv2d(c_in, c_out, KERNEL, stride, PAD, fast_cpu=True)
    native = nn.Conv2d(c_in, c_out, KERNEL, stride, pad_mode="pad", padding=(PAD[0], PAD[0], PAD[1], PAD[1]),
                       has_bias=False)
    w = np.random.default_rng(seed).standard_normal(native.weight.shape).astype(np.float32) * 0.05
    native.weight.set_data(Tensor(w))
    fast.weight.set_data(Tensor(w))
    return fast, native


def _np_conv(x, w, stride, pad):
    """Independent float64 reference: zero pad, sliding windows, tensordot."""
    x = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    win = np.lib.stride_tricks.sliding_window_view(x, w.shape[2:], axis=(2, 3))[:, :, ::stride[0], ::stride[1]]
    return np.einsum("ncftij,ocij->noft", win, w.astype(np.float64))


def _close(a, b, tol=1e-4):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    err = np.abs(a - b).max() / max(np.abs(b).max(), 1e-12)
    assert err < tol, err


def _x(n, cfg, t, seed=1):
    return Tensor(np.random.default_rng(seed).standard_normal((n, cfg[0], cfg[3], t)).astype(np.float32))


def _value_and_grad(net):
    def loss(x, g):
        return (net(x) * g).sum()
    return ms.jit(ms.value_and_grad(loss, grad_position=0, weights=[net.weight]))


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_parameter_matches_nn_conv2d(name):
    cfg = CONFIGS[name]
    native = nn.Conv2d(cfg[0], cfg[1], KERNEL, cfg[2], pad_mode="pad", padding=(20, 20, 5, 5), has_bias=False)
    for fast_cpu in (True, False):
        conv = Conv2d(cfg[0], cfg[1], KERNEL, cfg[2], PAD, fast_cpu)
        params = [(n, tuple(p.shape)) for n, p in conv.parameters_and_names()]
        assert params == [(n, tuple(p.shape)) for n, p in native.parameters_and_names()] == \
            [("weight", (cfg[1], cfg[0], *KERNEL))]
        # a native checkpoint loads into either path
        assert ms.load_param_into_net(conv, native.parameters_dict()) == ([], [])
        np.testing.assert_array_equal(conv.weight.asnumpy(), native.weight.asnumpy())


def test_default_init_like_nn_conv2d():
    """HeUniform(sqrt(5)): uniform in +-1/sqrt(fan_in)."""
    conv = Conv2d(32, 32, KERNEL, (2, 1), PAD, True)
    w = conv.weight.asnumpy()
    bound = 1 / np.sqrt(32 * 41 * 11)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(w.std() - bound / np.sqrt(3)) < 0.05 * bound


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_forward_equals_native(name):
    cfg = CONFIGS[name]
    fast, native = _pair_conv(cfg)
    for n, t in ((2, 23), (1, 16)):
        x = _x(n, cfg, t)
        want = native(x).asnumpy()
        got = fast(x).asnumpy()
        _close(got, want)
        _close(got, _np_conv(x.asnumpy(), fast.weight.asnumpy(), cfg[2], PAD))


@pytest.mark.parametrize("kernel, stride, pad, f, t", [
    ((4, 3), (2, 2), (0, 1), 11, 9),   # frequency rows cropped, odd time
    ((3, 3), (1, 1), (1, 1), 7, 6),    # no stride phases
    ((5, 4), (1, 3), (2, 0), 6, 14),   # time stride only, even kernel
    ((3, 2), (3, 1), (1, 1), 10, 5),   # frequency stride only
])
def test_forward_other_geometries(kernel, stride, pad, f, t):
    conv = Conv2d(2, 3, kernel, stride, pad, fast_cpu=True)
    x = np.random.default_rng(3).standard_normal((2, 2, f, t)).astype(np.float32)
    _close(conv(Tensor(x)).asnumpy(), _np_conv(x, conv.weight.asnumpy(), stride, pad))


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_native_path_is_nn_conv2d(name):
    cfg = CONFIGS[name]
    _, native = _pair_conv(cfg)
    conv = Conv2d(cfg[0], cfg[1], KERNEL, cfg[2], PAD, fast_cpu=False)
    conv.weight.set_data(native.weight.data)
    x = _x(2, cfg, 23)
    np.testing.assert_allclose(conv(x).asnumpy(), native(x).asnumpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_gradients_equal_native(name):
    cfg = CONFIGS[name]
    fast, native = _pair_conv(cfg)
    x = _x(2, cfg, 23)
    g = Tensor(np.random.default_rng(2).standard_normal(native(x).shape).astype(np.float32))
    v1, (gx1, (gw1,)) = _value_and_grad(fast)(x, g)
    v2, (gx2, (gw2,)) = _value_and_grad(native)(x, g)
    _close(v1.asnumpy(), v2.asnumpy())
    _close(gx1.asnumpy(), gx2.asnumpy())
    _close(gw1.asnumpy(), gw2.asnumpy())


class _Loss(nn.Cell):
    def __init__(self, conv):
        super().__init__()
        self.conv = conv

    def construct(self, x, g):
        return (self.conv(x) * g).sum()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_dynamic_shapes(name):
    """Compiled once with batch and time dynamic: forward and gradients are right for two (N, T)."""
    cfg = CONFIGS[name]
    c_in, c_out, stride, f = cfg
    fast, _ = _pair_conv(cfg)
    fast.set_inputs(Tensor(shape=[None, c_in, f, None], dtype=ms.float32))
    grad_net = nn.ForwardValueAndGrad(_Loss(fast), weights=[fast.weight], get_all=True, get_by_list=True)
    grad_net.set_inputs(Tensor(shape=[None, c_in, f, None], dtype=ms.float32),
                        Tensor(shape=[None, c_out, None, None], dtype=ms.float32))
    w = fast.weight.asnumpy()
    for n, t in ((3, 30), (2, 17)):
        x = _x(n, cfg, t, seed=t)
        want = _np_conv(x.asnumpy(), w, stride, PAD)
        assert want.shape == (n, c_out, (f - 1) // stride[0] + 1, (t - 1) // stride[1] + 1)
        out = fast(x).asnumpy()
        _close(out, want)
        # gradients of sum(conv(x) * g): dw = correlation of x with g; dx checked through <dx, x> = loss (linearity)
        g = np.random.default_rng(t + 1).standard_normal(want.shape).astype(np.float32)
        loss, ((gx, _), (gw,)) = grad_net(x, Tensor(g))
        _close(loss.asnumpy(), (want * g).sum())
        assert gx.shape == x.shape and gw.shape == w.shape
        _close((gx.asnumpy() * x.asnumpy()).sum(), (want * g).sum())
        xp = np.pad(x.asnumpy().astype(np.float64), ((0, 0), (0, 0), (PAD[0], PAD[0]), (PAD[1], PAD[1])))
        win = np.lib.stride_tricks.sliding_window_view(xp, KERNEL, axis=(2, 3))[:, :, ::stride[0], ::stride[1]]
        _close(gw.asnumpy(), np.einsum("ncftij,noft->ocij", win, g))


def test_reverse_within_lengths_is_exactly_reverse_sequence():
    """The gather-based reverse (AI-Core on Ascend) equals ReverseSequence (AI-CPU only there), forward and
    gradient, on dynamic shapes."""
    class Both(nn.Cell):
        def __init__(self):
            super().__init__()
            self.gather_reverse = ReverseWithinLengths()
            self.reverse_sequence = ops.ReverseSequence(seq_dim=0, batch_dim=1)

        def construct(self, x, lengths, weights):
            a, b = self.gather_reverse(x, lengths), self.reverse_sequence(x, lengths)
            return a, b, (a * weights).sum(), (b * weights).sum()

    both = Both()

    def gather_loss(x, lengths, weights):
        return both(x, lengths, weights)[2]

    def reverse_sequence_loss(x, lengths, weights):
        return both(x, lengths, weights)[3]
    grads = ms.jit(ms.grad(gather_loss, grad_position=0))
    grads_ref = ms.jit(ms.grad(reverse_sequence_loss, grad_position=0))
    rng = np.random.default_rng(0)
    for t, lengths in [(7, [7, 3, 1]), (12, [5, 12]), (3, [1])]:
        x = ms.Tensor(rng.standard_normal((t, len(lengths), 5)).astype(np.float32))
        w = ms.Tensor(rng.standard_normal((t, len(lengths), 5)).astype(np.float32))
        lens = ms.Tensor(np.array(lengths, np.int32))
        a, b, _, _ = both(x, lens, w)
        np.testing.assert_array_equal(a.asnumpy(), b.asnumpy())
        np.testing.assert_array_equal(grads(x, lens, w).asnumpy(), grads_ref(x, lens, w).asnumpy())
        assert max(lengths) == 1 or not np.array_equal(a.asnumpy(), x.asnumpy())
