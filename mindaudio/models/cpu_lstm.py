"""The compiled CPU LSTM: one direction as a MindSpore ahead-of-time custom operator (``ops.Custom``,
``func_type="aot"``), forward and backward in C++ (``lstm_kernel.cc``) on OpenBLAS (the ``scipy-openblas32`` wheel)
and OpenMP. Parameters as ``nn.LSTM``'s (``weight_ih_l0 [4H, D]``, ``weight_hh_l0 [4H, H]``, ``bias_ih_l0``,
``bias_hh_l0``; gates i, f, g, o), so checkpoints move between it, ``nn.LSTM`` and Ascend's DynamicRNN unchanged.
Zero initial state; graph mode with dynamic T and B (shape inference in C++: ``LstmFwdInferShape``).

Which kernel (:func:`wanted`): measured here, the compiled one is faster than MindSpore's CPU LSTM (oneDNN) for the
full network's 1024 hidden units at small batches, and slower for the demo's 256 (docs/performance.md); so it runs
where ``hidden >= COMPILED_MIN_HIDDEN``. ``MINDAUDIO_CPU_LSTM=compiled`` or ``native`` overrides that.

The library is compiled by g++ on first use into ``$MINDAUDIO_CACHE`` (default ``~/.cache/mindaudio``), named by a
hash of the source and flags, written atomically (ranks may build at once). Where it cannot be built (no g++, no
BLAS), :func:`lstm` gives ``nn.LSTM`` and logs why, once.
"""
import ctypes
import functools
import hashlib
import logging
import math
import os
import shutil
import subprocess

import numpy as np
from mindspore import Parameter, Tensor, nn, ops
from mindspore.ops import CustomRegOp, DataType

from mindaudio.fileio import atomic_path

log = logging.getLogger(__name__)

COMPILED_MIN_HIDDEN = 1024
SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lstm_kernel.cc")
CXXFLAGS = ["-O3", "-std=c++17", "-shared", "-fPIC", "-fopenmp"]


def _build():
    """Compile the kernel once per (source, flags, BLAS) → (path of the .so, None) or (None, why not)."""
    compiler = shutil.which(os.environ.get("CXX", "g++"))
    if compiler is None:
        return None, "no C++ compiler (g++) on PATH"
    try:
        import scipy_openblas32 as blas
    except ImportError:
        return None, "scipy-openblas32 is not installed"
    include, libdir = blas.get_include_dir(), blas.get_lib_dir()
    with open(SOURCE, "rb") as f:
        text = f.read()
    flags = CXXFLAGS + [f"-I{include}", f"-L{libdir}", f"-l{blas.get_library()}", f"-Wl,-rpath,{libdir}"]
    key = hashlib.sha256(text + "\0".join(flags).encode()).hexdigest()[:16]
    cache = os.environ.get("MINDAUDIO_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "mindaudio")
    path = os.path.join(cache, f"lstm_kernel_{key}.so")
    if os.path.isfile(path):
        return path, None
    if ":" in path:
        return None, f"the cache path {cache} holds ':' (MindSpore reads the kernel as 'path:function')"
    try:
        with atomic_path(path) as tmp:
            proc = subprocess.run([compiler, SOURCE, "-o", tmp, *flags], capture_output=True, text=True,
                                  timeout=300)
            if proc.returncode:
                raise RuntimeError(f"g++ failed: {proc.stderr.strip()[-500:]}")
    except RuntimeError as e:
        return None, str(e)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, f"cannot build it in {cache} ({e})"
    return path, None


def wanted(hidden):
    """Whether a CPU LSTM of ``hidden`` units should use the compiled kernel (see the module docstring)."""
    mode = os.environ.get("MINDAUDIO_CPU_LSTM", "auto")
    return mode == "compiled" or (mode == "auto" and hidden >= COMPILED_MIN_HIDDEN)


@functools.lru_cache(maxsize=1)
def kernel():
    """The compiled library's path, or None (logged once, with the reason) where ``nn.LSTM`` is used instead."""
    path, reason = _build()
    if path is None:
        log.warning("CPU LSTM: the compiled kernel is unavailable (%s); using nn.LSTM, slower", reason)
    return path


def set_threads(n):
    """OpenMP threads of the kernels, process-wide (e.g. the cores of one rank); OpenBLAS stays single-threaded."""
    if kernel():
        ctypes.CDLL(kernel()).LstmSetNumThreads(int(n))


def _reg_info(name, inputs, outputs):
    """Needed: it names the primitive (runtime shape inference reads that) and marks it multi-output."""
    reg = CustomRegOp(name)
    for i, n in enumerate(inputs):
        reg = reg.input(i, n)
    for i, n in enumerate(outputs):
        reg = reg.output(i, n)
    return reg.dtype_format(*[DataType.F32_Default] * (len(inputs) + len(outputs))).target("CPU").get_op_info()


def _lstm_op(path):
    """y, gates, c = op(x, w_ih, w_hh, b_ih, b_hh), differentiable (the backward kernel is its bprop)."""
    backward = ops.Custom(f"{path}:LstmBwd", out_shape=None, out_dtype=lambda x, *_: (x, x, x, x), func_type="aot",
                          reg_info=_reg_info("mindaudio_lstm_bwd", ["x", "w_ih", "w_hh", "y", "gates", "c", "dy"],
                                             ["dx", "dw_ih", "dw_hh", "db"]))

    def bprop(x, w_ih, w_hh, b_ih, b_hh, out, dout):
        # gates and c are saved for the backward only: their incoming gradients are not used
        dx, dw_ih, dw_hh, db = backward(x, w_ih, w_hh, out[0], out[1], out[2], dout[0])
        return dx, dw_ih, dw_hh, db, db

    return ops.Custom(f"{path}:LstmFwd", out_shape=None, out_dtype=lambda x, *_: (x, x, x), func_type="aot",
                      bprop=bprop, reg_info=_reg_info("mindaudio_lstm_fwd", ["x", "w_ih", "w_hh", "b_ih", "b_hh"],
                                                      ["y", "gates", "c"]))


class CompiledLSTM(nn.Cell):
    """One LSTM direction: x [T, B, D] → (y [T, B, H], c [T, B, H]), zero initial state; initialised as
    ``nn.LSTM`` (uniform ±1/√H)."""

    def __init__(self, input_size, hidden, path):
        super().__init__()
        bound, gates = 1 / math.sqrt(hidden), 4 * hidden

        def param(shape, name):
            return Parameter(Tensor(np.random.uniform(-bound, bound, shape).astype(np.float32)), name=name)
        self.weight_ih_l0 = param((gates, input_size), "weight_ih_l0")
        self.weight_hh_l0 = param((gates, hidden), "weight_hh_l0")
        self.bias_ih_l0 = param((gates,), "bias_ih_l0")
        self.bias_hh_l0 = param((gates,), "bias_hh_l0")
        self.op = _lstm_op(path)

    def construct(self, x):
        y, _, c = self.op(x, self.weight_ih_l0, self.weight_hh_l0, self.bias_ih_l0, self.bias_hh_l0)
        return y, c


def lstm(input_size, hidden, compiled):
    """One LSTM direction for the bidirectional layers: the compiled kernel when ``compiled`` (the CPU) and
    :func:`wanted`, and it could be built; else ``nn.LSTM``. Both are called ``y, _ = cell(x)``, x [T, B, D]."""
    path = kernel() if compiled and wanted(hidden) else None
    if path:
        return CompiledLSTM(input_size, hidden, path)
    return nn.LSTM(input_size, hidden, num_layers=1, has_bias=True, batch_first=False)
