"""Every device-specific choice in one place: selecting the device and compilation mode, and reading its memory.

Ascend 910A compiles graphs with GE (jit_level O2) by default, which does not take dynamic shapes; with
``train.dynamic_shapes`` the kernel-by-kernel level O0 (910B's default) is chosen explicitly.
"""
import logging
import os

log = logging.getLogger(__name__)


def set_device(device_target, device_id=0, dynamic_shapes=True):
    """Select the device and graph mode; call before building a network (nn.LSTM picks its kernel then)."""
    import mindspore as ms
    ms.set_device(device_target, device_id)
    ms.set_context(mode=ms.GRAPH_MODE)
    if device_target == "Ascend" and dynamic_shapes:
        ms.set_context(jit_config={"jit_level": "O0"})


def usable_cores():
    """Cores this process may run on (its CPU affinity; mpirun may have pinned it to one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def memory_gib(device_target, local_ranks=1):
    """Memory one rank may use: the Ascend card's (after the device is initialised), or on CPU the machine's
    RAM shared by the ranks on it."""
    if device_target == "Ascend":
        try:
            import mindspore as ms
            ms.Tensor([1.0]) + 1                                 # initialise the device
            total = ms.hal.get_device_properties(0).total_memory
            if total:
                return total / 2 ** 30
        except Exception as e:  # noqa: BLE001 - deprecated API; any failure means "unknown"
            log.warning("cannot read the card's memory (%s)", e)
        log.warning("assuming a 32 GB Ascend 910 card; set data.max_frames_per_batch to be sure")
        return 32.0
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    return ram / max(1, local_ranks)


def peak_memory_mb(device_target):
    """Peak memory of this process so far: the device memory pool's on Ascend, the resident set size on CPU."""
    if device_target == "Ascend":
        import mindspore as ms
        return ms.runtime.max_memory_allocated() / 2 ** 20
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
