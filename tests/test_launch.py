"""The launcher's side of data parallelism that needs no second process: the launch scripts' commands and the
environment the mpirun bridge gives a rank."""
import os
import subprocess

from tests.helpers import REPO


def test_launch_scripts_help_and_commands(tmp_path):
    scripts = os.path.join(REPO, "scripts")
    for name in ("run_distribute_train.sh", "run_standalone_train.sh"):
        out = subprocess.run(["bash", os.path.join(scripts, name), "--help"], capture_output=True, text=True)
        assert out.returncode == 0 and out.stdout.startswith("Usage:")

    def command(*args):
        out = subprocess.run(["bash", os.path.join(scripts, "run_distribute_train.sh"), "--print", *args],
                             capture_output=True, text=True,
                             env=dict(os.environ, ASCEND_HOME_PATH="/opt/cann", LD_PRELOAD="/usr/lib/libgomp.so.1"))
        assert out.returncode == 0, out.stderr
        return out.stdout.split()

    one = command()                                                   # 1 server x 8 cards
    assert one[:3] == ["mpirun", "--bind-to", "none"] and "-np" in one and one[one.index("-np") + 1] == "8"
    assert one[-2:] == ["-c", os.path.join(REPO, "deepspeech2.yaml")]
    hosts = tmp_path / "hosts"
    hosts.write_text("# two servers\nnode1 slots=8\nnode2 slots=8\n")
    two = command("-H", str(hosts), "-o", "train.resume=auto")      # 2 servers x 8 cards
    assert two[two.index("-np") + 1] == "16" and "ppr:8:node" in two and "ASCEND_HOME_PATH" in two
    assert "LD_PRELOAD" in two                                        # forwarded to the other servers too
    assert "HCCL_EXEC_TIMEOUT" in two                                 # exported, and forwarded to every server
    assert two[-2:] == ["-o", "train.resume=auto"]
    ms_cmd = command("-l", "msrun", "--nnodes", "2", "--node-rank", "1", "--master-addr", "10.0.0.1")
    assert ms_cmd[0] == "msrun" and {"--worker_num=16", "--local_worker_num=8", "--node_rank=1",
                                     "--master_addr=10.0.0.1"} <= set(ms_cmd)
    bad = subprocess.run(["bash", os.path.join(scripts, "run_distribute_train.sh"), "--launcher", "srun"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "mpirun or msrun" in bad.stderr


def test_the_mpirun_bridge_gives_each_rank_its_own_card():
    """The bridge clears OpenMPI's variables (MindSpore must not take the job for its own OpenMPI launch) after
    reading the local rank into DEVICE_ID: on Ascend each rank gets its card, not card 0."""
    from mindaudio.training import launch
    env = {"OMPI_COMM_WORLD_RANK": "5", "OMPI_COMM_WORLD_SIZE": "16", "OMPI_COMM_WORLD_LOCAL_RANK": "5",
           "OMPI_COMM_WORLD_LOCAL_SIZE": "8", "PMIX_RANK": "5", "OMPI_COMMAND": "python", "PATH": "/usr/bin",
           "LD_PRELOAD": "/usr/lib/aarch64-linux-gnu/libgomp.so.1"}
    bridged = launch.bridge_environment(env)
    assert not [k for k in bridged if k.startswith(("OMPI_", "PMIX_"))]
    assert (bridged["DEVICE_ID"], bridged["MS_NODE_ID"], bridged["MS_WORKER_NUM"]) == ("5", "5", "16")
    assert bridged["MINDAUDIO_LOCAL_RANKS"] == "8" and bridged["LD_PRELOAD"] == env["LD_PRELOAD"]
    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(bridged)
        assert launch.device_id("Ascend", 0) == 5 and launch.local_ranks() == 8
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_a_training_killed_by_sigkill_is_reported_as_likely_out_of_memory():
    """The launch scripts run the training through scripts/oom_report.sh: a process killed by SIGKILL (what the
    kernel's out-of-memory killer sends) gets a sentence with the fix, and the exit status is kept."""
    script = os.path.join(REPO, "scripts", "oom_report.sh")
    proc = subprocess.run(["bash", "-c", f"source {script}; run_and_report_oom bash -c 'kill -9 $$'"],
                          capture_output=True, text=True)
    assert proc.returncode == 137
    assert "out-of-memory killer" in proc.stderr and "data.max_frames_per_batch" in proc.stderr
    ok = subprocess.run(["bash", "-c", f"source {script}; run_and_report_oom true"], capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stderr == ""
