#!/usr/bin/env bash
# Data-parallel DeepSpeech2 training on one server or several, launched with mpirun (default) or msrun.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: bash scripts/run_distribute_train.sh [options] [-o section.key=value ...] [-- more train.py arguments]

Starts train.py on several ranks that form ONE data-parallel training: gradients averaged over the ranks,
each rank trains on its own shard (the same number of batches each), every rank starts from rank 0's weights,
rank 0 writes the run directory (train.log, metrics.jsonl, checkpoints/; rank r logs to train_rank<r>.log)
and validates. train.batch_size is per rank.

Options:
  -c, --config FILE          config file (default: the repository's deepspeech2.yaml)
  -n, --nproc N              ranks (devices) per server (default: 8)
  -d, --device Ascend|CPU    sets train.device_target (default: the config's)
  -l, --launcher mpirun|msrun
                             default mpirun. mpirun starts every server's ranks from this one command;
                             msrun must be run on every server (see --nnodes)
  -H, --hostfile FILE        mpirun on several servers: OpenMPI host file, one "host slots=N" line per server;
                             N ranks are started on each (variables set here are forwarded with -x)
      --nnodes K             msrun on K servers: run this script on each with its --node-rank
      --node-rank R          msrun: this server's index, 0..K-1 (rank ids R*N .. R*N+N-1)
      --master-addr ADDR     msrun: address of server 0, where msrun's scheduler runs (default 127.0.0.1)
      --master-port PORT     msrun: scheduler port (default 8118)
      --log-dir DIR          msrun: where msrun writes scheduler.log and worker_<r>.log (default msrun_logs)
      --print                print the launch command instead of running it
  -o, --override KEY=VALUE   passed to train.py (repeatable), e.g. -o train.output_dir=runs/ds2_8p
  -h, --help                 this help

Extra mpirun options can be given in MPIRUN_ARGS (e.g. MPIRUN_ARGS="--mca btl_tcp_if_include eth0").
Arguments after -- go to train.py, e.g. -- --dry-run (compile and run the largest batch on every rank, then exit).

Timeouts exported unless already set: HCCL_EXEC_TIMEOUT=1800 (seconds a card waits for the others inside a
collective: covers rank 0 writing a ~1 GB checkpoint while the others wait; 910A rounds it down to a multiple of 68;
it must stay above MindSpore's 900 s operator timeout) and HCCL_CONNECT_TIMEOUT=600 (link set-up at start).

Examples:
  bash scripts/run_distribute_train.sh                                      # 1 server x 8 Ascend cards
  bash scripts/run_distribute_train.sh -H hosts.txt                         # every server in hosts.txt x 8 cards
  bash scripts/run_distribute_train.sh -l msrun --nnodes 2 --node-rank 0 --master-addr 10.0.0.1   # on server 0
  bash scripts/run_distribute_train.sh -l msrun --nnodes 2 --node-rank 1 --master-addr 10.0.0.1   # on server 1
  bash scripts/run_distribute_train.sh -n 2 -d CPU -c examples/demo/demo.yaml                    # CPU, 2 ranks
  bash scripts/run_distribute_train.sh -o train.resume=auto                 # continue the run in train.output_dir
  bash scripts/run_distribute_train.sh -- --dry-run                         # check new hardware in a minute
EOF
}

repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python}
config=$repo/deepspeech2.yaml nproc=8 device="" launcher=mpirun hostfile="" nnodes=1 node_rank=0
master_addr=127.0.0.1 master_port=8118 log_dir=msrun_logs print_only=0
train_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    -c|--config) config="$2"; shift 2 ;;
    -n|--nproc) nproc="$2"; shift 2 ;;
    -d|--device) device="$2"; shift 2 ;;
    -l|--launcher) launcher="$2"; shift 2 ;;
    -H|--hostfile) hostfile="$2"; shift 2 ;;
    --nnodes) nnodes="$2"; shift 2 ;;
    --node-rank|--node_rank) node_rank="$2"; shift 2 ;;
    --master-addr|--master_addr) master_addr="$2"; shift 2 ;;
    --master-port|--master_port) master_port="$2"; shift 2 ;;
    --log-dir|--log_dir) log_dir="$2"; shift 2 ;;
    --print) print_only=1; shift ;;
    -o|--override) train_args+=(-o "$2"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; train_args+=("$@"); break ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$nproc" =~ ^[1-9][0-9]*$ ]] || { echo "--nproc must be a positive integer" >&2; exit 2; }
[[ -f "$config" ]] || { echo "no config file $config" >&2; exit 2; }
if [[ -n "$device" ]]; then
  [[ "$device" == Ascend || "$device" == CPU ]] || { echo "--device must be Ascend or CPU" >&2; exit 2; }
  train_args=(-o "train.device_target=$device" "${train_args[@]}")
fi
train=("$repo/train.py" -c "$config" "${train_args[@]}")
export HCCL_EXEC_TIMEOUT=${HCCL_EXEC_TIMEOUT:-1800} HCCL_CONNECT_TIMEOUT=${HCCL_CONNECT_TIMEOUT:-600}

case "$launcher" in
  mpirun)
    command -v mpirun >/dev/null || { echo "mpirun not found (Debian: apt-get install openmpi-bin)" >&2; exit 2; }
    # --bind-to none: mpirun would otherwise pin each rank (and its feature-extraction workers) to one core
    cmd=(mpirun --bind-to none)
    [[ $EUID -eq 0 ]] && cmd+=(--allow-run-as-root)
    if [[ -n "$hostfile" ]]; then
      [[ -f "$hostfile" ]] || { echo "no host file $hostfile" >&2; exit 2; }
      servers=$(grep -cvE '^[[:space:]]*(#|$)' "$hostfile")
      cmd+=(-np $((servers * nproc)) --hostfile "$hostfile" --map-by "ppr:${nproc}:node")
      # ranks on other servers get only the variables named here: the toolchain's, MindSpore's and CANN's, and
      # LD_PRELOAD (many aarch64 Ascend servers preload libgomp)
      for var in $(compgen -e | grep -E '^(PATH|LD_LIBRARY_PATH|LD_PRELOAD|PYTHONPATH|TMPDIR|ASCEND_.*|HCCL_.*|TBE_.*|TOOLCHAIN_HOME|MS_.*|GLOG_.*|OMP_.*|MINDAUDIO_.*)$'); do
        cmd+=(-x "$var")
      done
    else
      cmd+=(-np "$nproc")
      [[ "$device" == CPU ]] && cmd+=(--oversubscribe)   # CPU ranks may outnumber the cores
    fi
    # shellcheck disable=SC2206
    cmd+=(${MPIRUN_ARGS:-} "$python" "${train[@]}")
    ;;
  msrun)
    command -v msrun >/dev/null || { echo "msrun not found (it comes with the mindspore package)" >&2; exit 2; }
    cmd=(msrun --worker_num=$((nnodes * nproc)) --local_worker_num="$nproc" --master_addr="$master_addr"
         --master_port="$master_port" --log_dir="$log_dir" --join=True)
    [[ "$nnodes" -gt 1 ]] && cmd+=(--node_rank="$node_rank")
    cmd+=("${train[@]}")
    ;;
  *) echo "--launcher must be mpirun or msrun" >&2; exit 2 ;;
esac

if [[ $print_only -eq 1 ]]; then
  printf '%q ' "${cmd[@]}"; echo
  exit 0
fi
echo "+ ${cmd[*]}" >&2
# shellcheck source=scripts/oom_report.sh
source "$repo/scripts/oom_report.sh"
run_and_report_oom "${cmd[@]}"
