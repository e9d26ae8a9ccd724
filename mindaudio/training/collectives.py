"""Collectives of a data-parallel training (after :func:`setup`): exact copies of rank 0's state, sums and means over
the ranks. MindSpore's CPU all-reduce takes float32 only, so integers travel as four exact 16-bit parts."""
import numpy as np
import mindspore as ms
from mindspore import ops
from mindspore.communication import get_group_size, get_rank, init

from mindaudio.training.launch import is_distributed


def setup():
    """Initialise communication when launched on several ranks; returns (rank, size)."""
    if not is_distributed():
        return 0, 1
    init()
    return get_rank(), get_group_size()


def sync_from_rank0(state, values):
    """Give every rank rank 0's copy of ``state`` (name → Parameter, the same names on every rank) and of the
    integers ``values``; returns the integers. Done with sum all-reduces to which the other ranks contribute
    zeros, which is exact, so every rank starts from bit-identical weights, optimizer moments and run position
    whatever it initialised or could read itself (only rank 0 reads checkpoints)."""
    names = list(state)                                # same order on every rank: the model's own order
    arrays = [state[n].asnumpy() for n in names] + [np.asarray(values, dtype=np.int64)]
    # CPU all-reduce takes float32/float16 only: floats travel as float32, integers as four exact 16-bit parts
    encoded = [_to_float32(a) for a in arrays]
    flat = np.concatenate([e.reshape(-1) for e in encoded])
    if get_rank() != 0:
        flat = np.zeros_like(flat)
    allreduce, chunk = ops.AllReduce(), 1 << 26       # ≤ 256 MB per all-reduce
    flat = np.concatenate([allreduce(ms.Tensor(flat[i:i + chunk])).asnumpy() for i in range(0, len(flat), chunk)])
    offset = 0
    for i, (a, e) in enumerate(zip(arrays, encoded)):
        decoded = _from_float32(flat[offset:offset + e.size].reshape(e.shape), a)
        offset += e.size
        if i < len(names):
            state[names[i]].set_data(ms.Tensor(decoded, state[names[i]].dtype))
    return [int(v) for v in decoded]


def all_reduce_sum(values):
    """Sum the 1-D NumPy array ``values`` over all ranks; exact for integers (int64), float32 for floats.
    (CPU all-reduce takes float32 only: integers travel as four 16-bit parts, each sum exact below 2^24.)"""
    values = np.asarray(values)
    encoded = _to_float32(values)
    total = ops.AllReduce()(ms.Tensor(encoded.reshape(-1))).asnumpy().reshape(encoded.shape)
    return _from_float32(total, values)


def average_over_ranks(params):
    """Replace each Parameter of ``params`` by its mean over the ranks (the same value on every rank)."""
    if not params:
        return
    flat = np.concatenate([p.asnumpy().astype(np.float32).reshape(-1) for p in params])
    mean = all_reduce_sum(flat) / np.float32(get_group_size())
    offset = 0
    for p in params:
        n = int(np.prod(p.shape))
        p.set_data(ms.Tensor(mean[offset:offset + n].reshape(p.shape), p.dtype))
        offset += n


def _to_float32(a):
    if a.dtype in (np.float32, np.float16):
        return a.astype(np.float32)
    v = a.astype(np.int64).view(np.uint64)
    return np.stack([((v >> np.uint64(s)) & np.uint64(0xFFFF)).astype(np.float32) for s in (0, 16, 32, 48)])


def _from_float32(f, like):
    if like.dtype in (np.float32, np.float16):
        return f.astype(like.dtype)
    f = f.reshape(4, -1).astype(np.uint64)
    v = f[0] | (f[1] << np.uint64(16)) | (f[2] << np.uint64(32)) | (f[3] << np.uint64(48))
    return v.view(np.int64).astype(like.dtype).reshape(like.shape)


def all_gather(values):
    """Every rank's 1-D integer vector ``values`` (the same length on every rank) → [size, len] int64, row r being
    rank r's: each rank fills its own row of a zero matrix, and a sum all-reduce (exact for integers) joins them."""
    values = np.asarray(values, np.int64)
    rows = np.zeros((get_group_size(), len(values)), np.int64)
    rows[get_rank()] = values
    return all_reduce_sum(rows)


def who_has(flags):
    """``flags``: this rank's [N] booleans (the same N on every rank) → [size, N] booleans, row r being rank r's.
    Packed as bits, 48 ranks per all-reduce (integer sums stay exact)."""
    flags = np.asarray(flags, bool)
    size, rank = get_group_size(), get_rank()
    out = np.zeros((size, len(flags)), bool)
    for first in range(0, size, 48):
        mine = flags.astype(np.int64) << (rank - first) if first <= rank < first + 48 else \
            np.zeros(len(flags), np.int64)
        total = all_reduce_sum(mine)
        for r in range(first, min(size, first + 48)):
            out[r] = (total >> (r - first)) & 1
    return out
