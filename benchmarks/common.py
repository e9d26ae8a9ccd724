"""Shared pieces of the benchmark scripts: configs, synthetic batches, the machine's GEMM peak, JSON output."""
import json
import os
import platform
import statistics
import time

import numpy as np

from mindaudio.config import load_config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = {"full": os.path.join(REPO, "deepspeech2.yaml"), "demo": os.path.join(REPO, "examples", "demo", "demo.yaml")}


def config(model, device="CPU", overrides=()):
    return load_config(CONFIGS[model], [f"train.device_target={device}", *overrides])


def build_train_step(cfg, device="CPU"):
    """Graph mode on ``device``, the network of ``cfg`` and its train step compiled for dynamic shapes → (net, step)."""
    from mindaudio.device import set_device
    from mindaudio.models.deepspeech2 import build_model
    from mindaudio.training.step import build_train_step as build
    set_device(device)
    net = build_model(cfg)
    return net, build(cfg, net, total_steps=1000)


def gemm_peak_gflops(n=2048, repeats=10):
    """Best single-precision GEMM rate NumPy's BLAS reaches on this machine (n × n × n, best of ``repeats``)."""
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    b = np.random.default_rng(1).standard_normal((n, n)).astype(np.float32)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * n ** 3 / best / 1e9


def timed_calls(fn, args, repeats):
    """Call ``fn(*args)`` once (compiling), then ``repeats`` times → (median, best) seconds; each call is waited for
    by reading its first output back (MindSpore runs asynchronously)."""
    def call():
        out = fn(*args)
        (out[0] if isinstance(out, tuple) else out).asnumpy()
    call()
    times = [_timed(call) for _ in range(repeats)]
    return statistics.median(times), min(times)


def _timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def synthetic_batch(batch, frames, num_features=161, num_classes=29, seed=0):
    """Random features [B, 1, F, T] with full lengths, and random targets of a realistic length (~0.15 per frame)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, 1, num_features, frames)).astype(np.float32)
    lens = np.full(batch, frames, np.int32)
    s = max(1, int(frames * 0.15))
    y = rng.integers(1, num_classes, (batch, s)).astype(np.int32)
    return x, lens, y, np.full(batch, s, np.int32)


def machine():
    return {"machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version()}


def emit(record):
    print(json.dumps(record), flush=True)
