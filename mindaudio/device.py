"""Every device-specific choice in one place: selecting the device and compilation mode, and reading its memory.

Ascend 910A compiles graphs with GE (jit_level O2) by default, which does not take dynamic shapes; with
``train.dynamic_shapes`` the kernel-by-kernel level O0 (910B's default) is chosen explicitly.
"""
import logging
import os
import re
import resource

from mindaudio.errors import ConfigError
from mindaudio.fileio import quiet_stderr

log = logging.getLogger(__name__)


def set_device(device_target, device_id=0, dynamic_shapes=True):
    """Select the device and graph mode; call before building a network (nn.LSTM picks its kernel then)."""
    import mindspore as ms
    try:
        with quiet_stderr():
            ms.set_device(device_target, device_id)
    except RuntimeError as e:
        reason = re.search(r"Load dynamic library: \S+ failed\. ([^\n]+)", str(e))
        why = f" (MindSpore could not load its {device_target} plugin: {reason.group(1).strip()})" if reason else ""
        hint = "; on a machine without an NPU, add -o train.device_target=CPU" if device_target == "Ascend" else ""
        raise ConfigError(f"this machine cannot run on {device_target}, device {device_id}{why}{hint}") from None
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
    """Memory one rank may use now: the Ascend card's free memory (after the device is initialised; its total if
    that cannot be read), or on CPU the machine's available RAM (``MemAvailable``: free plus reclaimable caches)
    shared by the ranks on this server, plus what this process already holds."""
    if device_target == "Ascend":
        try:
            import mindspore as ms
            ms.Tensor([1.0]) + 1                                 # initialise the device
            props = ms.hal.get_device_properties(0)
            free = getattr(props, "free_memory", 0) or props.total_memory
            if free:
                return free / 2 ** 30
        except Exception as e:  # noqa: BLE001 - deprecated API; any failure means "unknown"
            log.warning("cannot read the card's memory (%s)", e)
        log.warning("assuming a 32 GB Ascend 910 card; set data.max_frames_per_batch to be sure")
        return 32.0
    return available_ram_gib() / max(1, local_ranks) + rss_gib()


def available_ram_gib():
    """``MemAvailable`` of /proc/meminfo (the RAM a new allocation can get without swapping), else the total."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 2 ** 20
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30


def rss_gib():
    """This process's resident memory now."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 30
    except OSError:
        return 0.0


def peak_memory_mb(device_target):
    """Peak memory of this process so far, in MB: on Ascend {"allocated", "reserved"} of the device memory pool
    (reserved: what the pool took from the card, allocated: what tensors used of it); on CPU {"rss"}, the peak
    resident set size."""
    if device_target == "Ascend":
        import mindspore as ms
        return {"allocated": ms.runtime.max_memory_allocated() / 2 ** 20,
                "reserved": ms.runtime.max_memory_reserved() / 2 ** 20}
    return {"rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
