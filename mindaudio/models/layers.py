"""Network layers shared by the DeepSpeech2 model.

Conv2d: a bias-free NCHW convolution with symmetric 'pad' padding that is fast on MindSpore's CPU backend
(MindSpore's CPU Conv2D is 40-150x slower than a matmul formulation for DeepSpeech2's 41x11 kernels) and uses the
native Conv2D primitive elsewhere (Ascend).  The parameter is ``weight`` [C_out, C_in, kF, kT] in both cases, exactly
like ``nn.Conv2d``, so checkpoints move between the two paths.
"""
import math

import mindspore as ms
from mindspore import nn, ops
from mindspore.common.initializer import HeUniform, initializer

__all__ = ["Conv2d"]


def _pair(v):
    if isinstance(v, int):
        return (v, v)
    v = tuple(int(e) for e in v)
    if len(v) != 2:
        raise ValueError(f"expected an int or a pair, got {v}")
    return v


class Conv2d(nn.Cell):
    """Conv2d without bias, NCHW, 'pad' mode with symmetric padding (pad_f, pad_t).

    Same parameter name/shape as nn.Conv2d: ``self.weight`` [C_out, C_in, kF, kT], so checkpoints move between CPU
    and Ascend.  Input x: [N, C_in, F, T] -> [N, C_out, F_out, T_out] with
    F_out = (F + 2*pad_f - kF) // stride_f + 1 and T_out = (T + 2*pad_t - kT) // stride_t + 1.

    fast_cpu=False: the native Conv2D primitive (use on Ascend / GPU).
    fast_cpu=True:  a matmul formulation built from pad, strided slices, stack, reshape and one BatchMatMul per
                    time-stride phase (see ``_shift_conv``); numerically equal to the native conv up to float32
                    summation order, forward and backward, graph mode with dynamic N and T.
    method (fast_cpu only): "shift" (default) or "im2col" (full im2col + one matmul; needs C_in*kF*kT x output
                    memory, only sensible for C_in == 1).  "auto" picks "shift".
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, fast_cpu: bool,
                 weight_init=None, method="auto"):
        super().__init__()
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride)
        self.padding = _pair(padding)
        self.fast_cpu = bool(fast_cpu)
        if weight_init is None:
            weight_init = HeUniform(math.sqrt(5))  # nn.Conv2d's default (PyTorch's kaiming_uniform(a=sqrt(5)))
        shape = [self.out_channels, self.in_channels, *self.kernel_size]
        self.weight = ms.Parameter(initializer(weight_init, shape, ms.float32), name="weight")

        k_f, k_t = self.kernel_size
        s_f, s_t = self.stride
        p_f, p_t = self.padding
        if method == "auto":
            method = "shift"
        if method not in ("shift", "im2col", "unfold"):
            raise ValueError(f"unknown method {method}")
        self.method = method
        self.conv2d = ops.Conv2D(out_channel=self.out_channels, kernel_size=self.kernel_size, mode=1,
                                 pad_mode="pad", pad=(p_f, p_f, p_t, p_t), stride=self.stride)
        # time-stride phases: tap kt = p + s_t * j reads phase p of the padded input at position t + j
        self.phases = tuple((p, len(range(p, k_t, s_t))) for p in range(min(s_t, k_t)))

    # ------------------------------------------------------------------ helpers
    def _out_sizes(self, f, t):
        k_f, k_t = self.kernel_size
        s_f, s_t = self.stride
        p_f, p_t = self.padding
        return (f + 2 * p_f - k_f) // s_f + 1, (t + 2 * p_t - k_t) // s_t + 1

    def _shift_conv(self, x):
        """Unfold the frequency axis (kF strided slices, stacked), keep time taps as shifted sums.

        For each time-stride phase p (taps kt = p + s_t*j, j < n_p):
            A_p[n, (c, kf), (f, i)] = xpad[n, c, s_f*f + kf, p + s_t*i]          i < T_out + n_p - 1
            Y_p = W_p @ A_p,   W_p[(j, o), (c, kf)] = w[o, c, kf, p + s_t*j]        (BatchMatMul, W broadcast)
            out[n, o, f, t] += Y_p[n, j, o, f, t + j]
        Memory: kF x the (phase-cropped) input and kT x the output, instead of kF*kT x for im2col.
        """
        k_f, k_t = self.kernel_size
        s_f, s_t = self.stride
        p_f, p_t = self.padding
        n, c, f, t = x.shape
        f_out, t_out = self._out_sizes(f, t)
        c_out = self.out_channels
        xp = ops.pad(x, (p_t, p_t, p_f, p_f))
        f_end = s_f * (f_out - 1) + 1
        out = None
        for p, n_p in self.phases:
            length = t_out + n_p - 1
            t_end = p + s_t * (length - 1) + 1
            cols = [xp[:, :, kf:kf + f_end:s_f, p:t_end:s_t] for kf in range(k_f)]
            a = ops.stack(cols, axis=2).reshape(n, c * k_f, f_out * length)
            w = self.weight[:, :, :, p::s_t] if s_t > 1 else self.weight
            w = w.transpose(3, 0, 1, 2).reshape(n_p * c_out, c * k_f)
            y = ops.matmul(w, a).reshape(n, n_p, c_out, f_out, length)
            ys = ops.unstack(y, axis=1)
            for j in range(n_p):
                yj = ys[j][:, :, :, j:j + t_out]
                out = yj if out is None else out + yj
        return out

    def _im2col_conv(self, x):
        k_f, k_t = self.kernel_size
        s_f, s_t = self.stride
        p_f, p_t = self.padding
        n, c, f, t = x.shape
        f_out, t_out = self._out_sizes(f, t)
        xp = ops.pad(x, (p_t, p_t, p_f, p_f))
        f_end = s_f * (f_out - 1) + 1
        t_end = s_t * (t_out - 1) + 1
        t_len = s_t * (t_out - 1) + k_t
        fcols = [xp[:, :, kf:kf + f_end:s_f, :t_len] for kf in range(k_f)]
        a = ops.stack(fcols, axis=2)  # [n, c, kF, F_out, T']
        tcols = [a[:, :, :, :, kt:kt + t_end:s_t] for kt in range(k_t)]
        a = ops.stack(tcols, axis=3).reshape(n, c * k_f * k_t, f_out * t_out)
        w = self.weight.reshape(self.out_channels, c * k_f * k_t)
        return ops.matmul(w, a).reshape(n, self.out_channels, f_out, t_out)

    def _unfold_conv(self, x):
        n, c, f, t = x.shape
        f_out, t_out = self._out_sizes(f, t)
        cols = ops.unfold(x, self.kernel_size, 1, self.padding, self.stride)  # [n, c*kF*kT, L]
        w = self.weight.reshape(self.out_channels, -1)
        return ops.matmul(w, cols).reshape(n, self.out_channels, f_out, t_out)

    def construct(self, x):
        if not self.fast_cpu:
            return self.conv2d(x, self.weight)
        if self.method == "im2col":
            return self._im2col_conv(x)
        if self.method == "unfold":
            return self._unfold_conv(x)
        return self._shift_conv(x)
