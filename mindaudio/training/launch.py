"""Data-parallel launch: one training code path for a single process, ``mpirun`` and ``msrun``.

``mindaudio-train`` calls :func:`prepare` before anything imports mindspore, then the training loop calls
``collectives.setup``.

How the ranks of a job find each other:

- **single process**: nothing to do; rank 0 of 1.
- **msrun** (MindSpore's launcher; also a hand-made dynamic cluster): the launcher exports ``MS_ROLE``,
  ``MS_WORKER_NUM``, ``MS_SCHED_HOST``/``MS_SCHED_PORT`` (and ``MS_NODE_ID``). Workers call ``init()``. msrun
  also runs the script once with ``MS_ROLE=MS_SCHED``: there :func:`run_scheduler` serves the cluster and the
  script ends without training.
- **mpirun on CPU**: MindSpore's ``init()`` cannot use OpenMPI on CPU ("Failed to initialize communication
  library on device side"), so :func:`prepare` turns the mpirun ranks into a dynamic cluster before mindspore is
  imported: rank 0 picks the scheduler's address and a free port, starts the scheduler (this same command line
  with ``MS_ROLE=MS_SCHED`` and without the OpenMPI variables), waits until it listens and broadcasts the
  address with mpi4py; every rank exports ``MS_ROLE=MS_WORKER``, ``MS_WORKER_NUM``, ``MS_NODE_ID`` = its mpirun
  rank, ``MS_SCHED_HOST``/``MS_SCHED_PORT`` and drops the ``OMPI_*``/``PMIX_*`` variables; MPI is finalised
  right after this hand-shake. From then on the ranks are msrun workers in all but name.
- **mpirun on Ascend**: MindSpore's own OpenMPI support, its documented mpirun launch: ``init()`` reads
  ``OMPI_COMM_WORLD_RANK/SIZE/LOCAL_RANK`` and sets up HCCL through MPI; :func:`prepare` does nothing. This
  needs no scheduler address reachable from every server (the bridge does, see ``MS_SCHED_HOST``) and is the
  path MindSpore documents for mpirun on Ascend. ``MINDAUDIO_MPI_BRIDGE=1`` uses the bridge on Ascend too (the
  dynamic cluster is documented for Ascend, GPU and CPU; msrun is exactly that) should a site's OpenMPI not
  match MindSpore's MPI adapter; ``MINDAUDIO_MPI_BRIDGE=0`` never bridges.

After ``init()`` (``collectives.setup``) every launcher runs the same code: ``get_rank()``/``get_group_size()``,
rank 0's weights, optimizer state and run position copied to every rank (``collectives.sync_from_rank0``),
gradients averaged by ``nn.DistributedGradReducer``. This module imports no MindSpore.

When a rank dies the launcher ends the job: mpirun aborts every rank as soon as one exits non-zero or on a
signal (the bridge's scheduler dies with rank 0, ``PR_SET_PDEATHSIG``); msrun kills the remaining workers at
once and exits when its scheduler has timed the dead node out (~30 s). Without a launcher watching, MindSpore's
heartbeat (``MS_NODE_TIMEOUT``) ends the survivors.

"""
import os
import socket
import subprocess
import sys
import threading
import time

from mindaudio.device import usable_cores
from mindaudio.errors import LaunchError

# CPU collectives give up after MS_CPU_COMM_OP_TIMEOUT seconds of waiting (30 s by default, measured), which is
# less than rank 0 may spend validating or saving while the other ranks wait in the next step's all-reduce.
# Dead ranks are caught by the launchers and MindSpore's heartbeat, not by this timeout.
CPU_COMM_OP_TIMEOUT = "3600"
TOPO_TIMEOUT = "600"           # seconds the ranks wait for each other when the cluster forms (msrun's default)
_SCHEDULER_START_TIMEOUT = 300  # seconds rank 0 waits for its scheduler to listen

_scheduler = None              # the scheduler process rank 0 started for the mpirun bridge


def launched_ranks():
    """(rank, size) announced by a launcher's environment, before any communication is initialised."""
    for rank_key, size_key in (("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"), ("MS_NODE_ID", "MS_WORKER_NUM"),
                               ("RANK_ID", "RANK_SIZE")):
        if rank_key in os.environ and size_key in os.environ:
            return int(os.environ[rank_key]), int(os.environ[size_key])
    if os.environ.get("MS_ROLE") == "MS_WORKER":   # msrun on several servers without --node_rank: rank set by init()
        return 0, int(os.environ.get("MS_WORKER_NUM", "1"))
    return 0, 1


def local_ranks():
    """Ranks on this server, as the launcher announces them (1 for a single process)."""
    for key in ("OMPI_COMM_WORLD_LOCAL_SIZE", "MINDAUDIO_LOCAL_RANKS"):
        if key in os.environ:
            return int(os.environ[key])
    return launched_ranks()[1] if "MS_ROLE" in os.environ else 1


def is_distributed():
    return os.environ.get("MS_ROLE") == "MS_WORKER" or launched_ranks()[1] > 1


def device_id(device_target, configured):
    """The device of this rank: its local rank on the server when launched on several ranks (mpirun's
    OMPI_COMM_WORLD_LOCAL_RANK, msrun's DEVICE_ID), else ``train.device_id``."""
    if device_target == "CPU" or not is_distributed():
        return configured
    for key in ("OMPI_COMM_WORLD_LOCAL_RANK", "DEVICE_ID"):
        if key in os.environ:
            return int(os.environ[key])
    return configured


def prepare(device_target, run_dir):
    """Call before importing mindspore. Returns "scheduler" (serve the cluster, do not train), "worker" or "single"."""
    role = os.environ.get("MS_ROLE")
    if role == "MS_SCHED":
        return "scheduler"
    if role is None:
        rank, size = launched_ranks()
        if "OMPI_COMM_WORLD_SIZE" not in os.environ or size == 1:
            return "worker" if size > 1 else "single"     # single process, or a rank-table launch (RANK_ID/SIZE)
        _warn_if_pinned(rank)
        bridge = os.environ.get("MINDAUDIO_MPI_BRIDGE", "")
        if bridge == "0" or (device_target != "CPU" and bridge != "1"):
            return "worker"                                # Ascend: MindSpore's own OpenMPI path
        _bridge_mpirun(rank, size, int(os.environ.get("OMPI_COMM_WORLD_LOCAL_SIZE", size)), run_dir)
    if device_target == "CPU":
        os.environ.setdefault("MS_CPU_COMM_OP_TIMEOUT", CPU_COMM_OP_TIMEOUT)
    return "worker"


def run_scheduler():
    """The dynamic cluster's scheduler (MS_ROLE=MS_SCHED): ``init()`` serves the cluster until the workers are done;
    it never trains. (The one import of MindSpore in this module: it runs in the scheduler process only.)"""
    from mindspore.communication import init
    init()


# --- the mpirun → dynamic cluster bridge -------------------------------------------------------------------

_PDEATHSIG_EXEC = ("import ctypes, os, signal, sys; ctypes.CDLL(None).prctl(1, signal.SIGTERM); "  # PR_SET_PDEATHSIG
                   "os.getppid() == int(sys.argv[1]) or sys.exit(1); "
                   "os.execv(sys.executable, [sys.executable] + sys.argv[2:])")


def _bridge_mpirun(rank, size, local_size, run_dir):
    try:
        from mpi4py import MPI
    except ImportError:
        raise LaunchError("mpirun on CPU needs mpi4py to form MindSpore's cluster: pip install mpi4py") from None
    comm = MPI.COMM_WORLD
    bridged = bridge_environment(os.environ)
    os.environ.clear()
    os.environ.update(bridged)
    address = None
    if rank == 0:               # the scheduler listens before anybody learns its address
        host = os.environ.get("MS_SCHED_HOST") or ("127.0.0.1" if local_size == size else _host_address())
        address = (host, _start_scheduler(host, run_dir))
    host, port = comm.bcast(address, root=0)
    os.environ.update(MS_SCHED_HOST=host, MS_SCHED_PORT=str(port))
    # Nobody calls init() before the scheduler listens: a worker whose first attempt is refused keeps failing to
    # register for up to ~30 s more (measured), one that starts after it registers at once.
    comm.Barrier()
    MPI.Finalize()


def bridge_environment(env):
    """The environment an mpirun rank runs on as a dynamic-cluster worker: the ``OMPI_*``/``PMIX_*`` variables
    removed (MindSpore would otherwise also take the job for its own OpenMPI launch), the rank and size as
    ``MS_NODE_ID``/``MS_WORKER_NUM``, the ranks on this server as ``MINDAUDIO_LOCAL_RANKS``, and the card as
    ``DEVICE_ID`` = the local rank, read before the OpenMPI variables go (``device_id`` reads it: one card per
    rank, never every rank on card 0)."""
    rank, size = int(env["OMPI_COMM_WORLD_RANK"]), int(env["OMPI_COMM_WORLD_SIZE"])
    out = {k: v for k, v in env.items() if not k.startswith(("OMPI_", "PMIX_"))}
    out.update(MS_ROLE="MS_WORKER", MS_WORKER_NUM=str(size), MS_NODE_ID=str(rank),
               MINDAUDIO_LOCAL_RANKS=env.get("OMPI_COMM_WORLD_LOCAL_SIZE", str(size)))
    out["DEVICE_ID"] = env.get("OMPI_COMM_WORLD_LOCAL_RANK", str(rank))
    out.setdefault("MS_TOPO_TIMEOUT", TOPO_TIMEOUT)
    return out


def _start_scheduler(host, run_dir, attempts=5):
    """Start the scheduler on a free port of ``host`` and return the port once *this* scheduler listens on it. A
    free port can be taken by another process before the scheduler binds it: then another port is tried (unless
    MS_SCHED_PORT fixed it). A watchdog ends this rank (and so, through mpirun, the job) within a second if the
    scheduler dies while training goes on."""
    global _scheduler
    os.makedirs(run_dir, exist_ok=True)
    log_path = os.path.join(run_dir, "scheduler.log")
    fixed = os.environ.get("MS_SCHED_PORT")
    for attempt in range(1 if fixed else attempts):
        port = int(fixed or _free_port(host))
        env = {k: v for k, v in os.environ.items() if k != "MS_NODE_ID"}
        env.update(MS_ROLE="MS_SCHED", MS_SCHED_HOST=host, MS_SCHED_PORT=str(port))
        with open(log_path, "ab") as log:
            _scheduler = subprocess.Popen([sys.executable, "-c", _PDEATHSIG_EXEC, str(os.getpid()), *sys.argv],
                                          env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + _SCHEDULER_START_TIMEOUT
        while not _listening(port, _scheduler.pid) and _scheduler.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        if _scheduler.poll() is None and _listening(port, _scheduler.pid):
            threading.Thread(target=_watch_scheduler, args=(log_path,), daemon=True).start()
            return port
        if _scheduler.poll() is None:
            _scheduler.kill()
        print(f"warning: the MindSpore scheduler could not listen on {host}:{port} (exit code {_scheduler.poll()};"
              f" see {log_path}){'' if fixed else '; trying another port'}", file=sys.stderr, flush=True)
    raise LaunchError(f"the MindSpore scheduler for this mpirun job did not start; see {log_path}")


def _watch_scheduler(log_path):
    code = _scheduler.wait()
    if threading.main_thread().is_alive():   # not the normal end: the scheduler leaves after the workers finalise
        print(f"error: the MindSpore scheduler of this job exited (code {code}) while training went on; stopping "
              f"this rank so that mpirun ends the job (see {log_path}). Resume with -o train.resume=auto.",
              file=sys.stderr, flush=True)
        os._exit(1)


def _listening(port, pid=None):
    """Whether a local socket listens on ``port`` (read from /proc, without connecting to it), and with ``pid``,
    whether that socket belongs to that process (not to another that took the port first)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.readlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    if not inodes or pid is None:
        return bool(inodes)
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") in {f"socket:[{i}]" for i in inodes}:
                return True
        except OSError:
            continue
    return False


def _free_port(host):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _host_address():
    address = socket.gethostbyname(socket.gethostname())
    if address.startswith("127."):
        raise LaunchError(f"mpirun over several servers: this server's name resolves to {address}; export the "
                         "address the other servers reach it by: mpirun -x MS_SCHED_HOST=<rank-0 server IP> ...")
    return address


def _warn_if_pinned(rank):
    """mpirun binds each rank to one core by default when it starts two or fewer; DeepSpeech2's feature workers
    then share that core. Say so once."""
    if rank == 0 and usable_cores() == 1 and (os.cpu_count() or 1) > 1:
        print(f"warning: mpirun bound this rank to 1 of {os.cpu_count()} cores; pass --bind-to none "
              "(scripts/run_distribute_train.sh does)", file=sys.stderr, flush=True)
