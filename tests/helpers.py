"""What several test modules share: paths, the tiny network's overrides, a subprocess runner, and independent
reference computations (kept apart from the library code they check). Fixtures are in conftest.py."""
import os
import re
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(REPO, "mindaudio", "configs", "demo.yaml")
# The tiny network of the plumbing tests (training, resume, data parallel, evaluation): the code paths of the real
# one, with small convolution kernels so that each process compiles in seconds.
# one line of eval.py's report per manifest
EVAL_LINE = re.compile(r"^(\S+): WER (\d+\.\d\d) CER (\d+\.\d\d) CER-nospace (\d+\.\d\d) \((\d+) utterances, "
                       r"(greedy|beam)\)$", re.M)
TINY_MODEL = ["model.conv_channels=4", "model.rnn_hidden=16", "model.rnn_layers=1", "model.conv_kernel=[7,3]"]


def overrides(*items):
    """["a=1", "b=2"] → ["-o", "a=1", "-o", "b=2"]."""
    return [a for item in items for a in ("-o", item)]


def run(cmd, **kw):
    """A command in the repository, its output captured as text, Python's output unbuffered."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", **kw.pop("env", {}))
    return subprocess.run(cmd, capture_output=True, text=True, cwd=kw.pop("cwd", REPO), env=env, **kw)


def python(*args, **kw):
    return run([sys.executable, *args], **kw)


def edit_distance(a, b):
    """Plain Levenshtein DP over two sequences (strings or word lists), independent of the library the metric uses."""
    row = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        prev, row[0] = row[0], i
        for j in range(1, len(b) + 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] != b[j - 1]))
    return row[-1]


def linear_loss_cell():
    """A Cell with loss = Σ w·c over a 4-vector parameter w (zeros): the gradient is the constant c, so Adam's
    (bias-corrected) update is exactly lr · sign(c). Takes (c, unused, unused, unused) like the train step."""
    import numpy as np
    import mindspore as ms
    from mindspore import nn

    class LinearLoss(nn.Cell):
        def __init__(self):
            super().__init__()
            self.w = ms.Parameter(ms.Tensor(np.zeros(4, np.float32)), name="w")

        def construct(self, c, unused1, unused2, unused3):
            return (self.w * c).sum()
    return LinearLoss()
