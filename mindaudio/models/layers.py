"""Network layers shared by the DeepSpeech2 model.

ReverseWithinLengths: each sequence of a padded batch reversed within its own length, as a gather (an AI-Core
operator on Ascend, where ``ReverseSequence`` is AI-CPU only); its gradient is the same gather.

Conv2d: a bias-free NCHW convolution with 'pad' padding (symmetric in frequency; in time symmetric, or causal for
the streaming model) that is fast on MindSpore's CPU backend
(MindSpore's CPU Conv2D is 40-150x slower than a matmul formulation for DeepSpeech2's 41x11 kernels) and uses the
native Conv2D primitive elsewhere (Ascend).  The parameter is ``weight`` [C_out, C_in, kF, kT] in both cases, exactly
like ``nn.Conv2d``, so checkpoints move between the two paths.
"""
import math

import mindspore as ms
from mindspore import nn, ops
from mindspore.common.initializer import HeUniform, initializer

__all__ = ["Conv2d", "ReverseWithinLengths"]


def _pair(v):
    if isinstance(v, int):
        return (v, v)
    v = tuple(int(e) for e in v)
    if len(v) != 2:
        raise ValueError(f"expected an int or a pair, got {v}")
    return v


class ReverseWithinLengths(nn.Cell):
    """x [T, B, D], lengths [B] → y with y[t, b] = x[len_b − 1 − t, b] for t < len_b and x[t, b] beyond: one
    gather of the rows of x.reshape(T·B, D), row (t, b) reading (len_b − 1 − t if t < len_b else t)·B + b.
    Reversal is its own inverse, so the gradient is the same gather of the incoming gradient. Primitives only (a
    Cell's bprop cannot call functional wrappers); positions come from float32 cumulative sums (dynamic-shape safe,
    exact below 2^24, and AI-Core kernels on Ascend, which int32 CumSum may not have)."""

    def __init__(self):
        super().__init__()
        self.cumsum, self.gather, self.select = ops.CumSum(), ops.Gather(), ops.Select()
        self.ones_like, self.zeros_like = ops.OnesLike(), ops.ZerosLike()

    def _index(self, x, lengths):
        ones = self.ones_like(x[:, :, 0].astype(ms.float32))                  # [T, B]
        steps = (self.cumsum(ones, 0) - 1).astype(ms.int32)                   # t
        batch = (self.cumsum(ones, 1) - 1).astype(ms.int32)                   # b
        lens = lengths.astype(ms.int32).reshape(1, -1)
        source = self.select(steps < lens, lens - 1 - steps, steps)
        return (source * x.shape[1] + batch).reshape(-1)

    def _reverse(self, x, lengths):
        t, b = x.shape[0], x.shape[1]
        return self.gather(x.reshape(t * b, -1), self._index(x, lengths), 0).reshape(t, b, -1)

    def construct(self, x, lengths):
        return self._reverse(x, lengths)

    def bprop(self, x, lengths, out, dout):
        return self._reverse(dout, lengths), self.zeros_like(lengths)


class Conv2d(nn.Cell):
    """Conv2d without bias, NCHW, 'pad' mode with padding (pad_f, pad_t) or (pad_f, pad_t_left, pad_t_right).

    Same parameter name/shape as nn.Conv2d: ``self.weight`` [C_out, C_in, kF, kT] (default init HeUniform(sqrt(5)),
    nn.Conv2d's), so checkpoints move between CPU and Ascend.  x: [N, C_in, F, T] -> [N, C_out, F_out, T_out] with
    F_out = (F + 2*pad_f - kF) // stride_f + 1 and T_out = (T + 2*pad_t - kT) // stride_t + 1.

    fast_cpu=False: the native Conv2D primitive (the Ascend path).
    fast_cpu=True:  a matmul formulation for MindSpore's CPU backend, whose Conv2D runs at ~1 GFLOP/s on these
        kernels.  Only pad, reshape/unstack (stride phases), contiguous slices, stack, transpose and one 2-D MatMul
        per time-stride phase; equal to the native conv up to float32 summation order, forward and backward; graph
        mode with dynamic N and T (C and F static).  "Frequency unfold + time shift":
          A[(c, kf), (n, f, l)]  = xpad[n, c, s_f*f + kf, s_t*l + p]            (kF slices, stacked)
          Y[(j, o), (n, f, l)]   = sum_{c,kf} w[o, c, kf, p + s_t*j] * A         (one MatMul, K = C_in*kF)
          out[n, o, f, t]       += Y[(j, o), (n, f, t + j)]                      (kT shifted slices, summed)
        for each time-stride phase p (taps kt = p + s_t*j).  Memory ~kF/s_f x input + ~kT x output (full im2col
        needs kF*kT x output).  Measured on 2 cores, batch 8, 32 channels, graph mode, forward / forward+backward:
          conv1 [8,1,161,400]:  0.09 / 0.22 s  (native 5.2 / 11 s; ops.unfold+matmul 0.07 / 0.41 s)
          conv2 [8,32,81,200]:  0.50 / 1.25 s  (native ~50 / ~100 s extrapolated from N=1; unfold ~1.3 / ~12 s)
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, fast_cpu: bool,
                 weight_init=None):
        super().__init__()
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride)
        padding = tuple(int(p) for p in padding) if not isinstance(padding, int) else (padding, padding)
        self.padding = padding if len(padding) == 3 else (padding[0], padding[1], padding[1])
        self.fast_cpu = bool(fast_cpu)
        if weight_init is None:
            weight_init = HeUniform(math.sqrt(5))  # nn.Conv2d's default (= PyTorch's kaiming_uniform_(a=sqrt(5)))
        shape = [self.out_channels, self.in_channels, *self.kernel_size]
        self.weight = ms.Parameter(initializer(weight_init, shape, ms.float32), name="weight")

        p_f, p_left, p_right = self.padding
        # Primitive MatMul, not ops.matmul: the latter (MatMulExt) transposes its inputs explicitly in the backward
        # pass (~0.2 s per call at DS2 sizes); MatMul's bprop uses the transpose flags instead.
        self.matmul = ops.MatMul()
        self.conv2d = ops.Conv2D(out_channel=self.out_channels, kernel_size=self.kernel_size, mode=1,
                                 pad_mode="pad", pad=(p_f, p_f, p_left, p_right), stride=self.stride)

    def extend_repr(self):
        return (f"in_channels={self.in_channels}, out_channels={self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, fast_cpu={self.fast_cpu}")

    def _out_sizes(self, f, t):
        k_f, k_t = self.kernel_size
        s_f, s_t = self.stride
        p_f, p_left, p_right = self.padding
        return (f + 2 * p_f - k_f) // s_f + 1, (t + p_left + p_right - k_t) // s_t + 1

    def _phase_split(self, x):
        """x [C, N, F, T] -> zero-padded stride phases, without any step>1 StridedSlice.

        (MindSpore 2.10's CPU StridedSliceGrad fails -- "input memory out of bounds" -- for a step on a non-last
        axis when the trailing axes are whole, and step slices are slow; reshape + unstack is neither.)
        Returns (phase, f_out, t_out, length): phase[q][p] [C, N, M_f, length] with
            phase[q][p][c, n, m, l] = xpad[n, c, s_f*m + q, s_t*l + p],   length = t_out + ceil(kT/s_t) - 1.
        """
        k_f, k_t = self.kernel_size
        s_f, s_t = self.stride
        p_f, p_left, p_right = self.padding
        c, n, f, t = x.shape
        f_out, t_out = self._out_sizes(f, t)
        m_f = f_out - 1 + -(-k_f // s_f)          # rows per frequency phase
        length = t_out - 1 + -(-k_t // s_t)       # columns per time phase
        rows = s_f * m_f
        f_pad = f + 2 * p_f
        extra_f = max(rows - f_pad, 0)
        extra_t = s_t * -(-k_t // s_t) - k_t      # static bound on the missing columns (< s_t)
        xp = ops.pad(x, (p_left, p_right + extra_t, p_f, p_f + extra_f))
        if rows < f_pad + extra_f:
            xp = xp[:, :, :rows]
        if s_t > 1:
            xp = xp[:, :, :, :s_t * length]      # dynamic end (T is dynamic)
        if s_f == 1 and s_t == 1:
            return [[xp]], f_out, t_out, length
        xp = xp.reshape(c, n, m_f, s_f, length, s_t)
        fph = ops.unstack(xp, axis=3) if s_f > 1 else [xp.squeeze(3)]
        phase = [ops.unstack(xq, axis=4) if s_t > 1 else [xq.squeeze(4)] for xq in fph]
        return phase, f_out, t_out, length

    def _freq_unfold(self, phase, p, f_out):
        """A[c, kf, n, f, l] = xpad[n, c, s_f*f + kf, s_t*l + p]  ([C, kF, N, F_out, length])."""
        s_f = self.stride[0]
        cols = []
        for kf in range(self.kernel_size[0]):
            q, i = kf % s_f, kf // s_f
            cols.append(phase[q][p][:, :, i:i + f_out, :])
        return ops.stack(cols, axis=1)

    def _fast_conv(self, x):
        k_f, k_t = self.kernel_size
        s_t = self.stride[1]
        c_out = self.out_channels
        n, c = x.shape[0], x.shape[1]
        phase, f_out, t_out, length = self._phase_split(x.transpose(1, 0, 2, 3))
        n_max = -(-k_t // s_t)  # taps of the largest time phase; length - t_out == n_max - 1
        # "shift": for each time phase p (taps kt = p + s_t*j, j < n_p):
        #   Y_p[(j, o), (n, f, l)] = sum_{c, kf} w[o, c, kf, p + s_t*j] * xpad[n, c, s_f*f + kf, p + s_t*l]
        #   out[n, o, f, t] += Y_p[(j, o), (n, f, t + j)]
        wts = ops.unstack(self.weight.transpose(3, 0, 1, 2), axis=0)  # kT x [C_out, C_in, kF]
        out = None
        for p in range(min(s_t, k_t)):
            taps = list(range(p, k_t, s_t))
            w = ops.stack([wts[kt] for kt in taps], axis=0).reshape(len(taps) * c_out, c * k_f)
            a = self._freq_unfold(phase, p, f_out).reshape(c * k_f, n * f_out * length)
            y = self.matmul(w, a).reshape(len(taps), c_out, n, f_out, length)
            ys = ops.unstack(y, axis=0)
            for j in range(len(taps)):
                stop = j + 1 - n_max
                yj = ys[j][..., j:stop] if stop < 0 else ys[j][..., j:]
                out = yj if out is None else out + yj
        return out.transpose(1, 0, 2, 3)

    def construct(self, x):
        if self.fast_cpu:
            return self._fast_conv(x)
        return self.conv2d(x, self.weight)
