#!/usr/bin/env bash
# DeepSpeech2 training on one device (one Ascend card, or the CPU).
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: bash scripts/run_standalone_train.sh [options] [-o section.key=value ...] [-- more train.py arguments]

Trains on a single device: python train.py -c CONFIG [-o ...]. For several devices use
scripts/run_distribute_train.sh.

Options:
  -c, --config FILE          config file (default: the repository's deepspeech2.yaml)
  -d, --device Ascend|CPU    sets train.device_target (default: the config's)
  -i, --device-id N          sets train.device_id, the card to use (default: the config's, 0)
      --print                print the command instead of running it
  -o, --override KEY=VALUE   passed to train.py (repeatable), e.g. -o train.batch_size=32
  -h, --help                 this help

Examples:
  bash scripts/run_standalone_train.sh -i 3                               # Ascend card 3, full recipe
  bash scripts/run_standalone_train.sh -d CPU -c examples/demo/demo.yaml  # the demo on CPU
  bash scripts/run_standalone_train.sh -o train.resume=auto               # continue the run in train.output_dir
EOF
}

repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python}
config=$repo/deepspeech2.yaml print_only=0
train_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    -c|--config) config="$2"; shift 2 ;;
    -d|--device)
      [[ "$2" == Ascend || "$2" == CPU ]] || { echo "--device must be Ascend or CPU" >&2; exit 2; }
      train_args+=(-o "train.device_target=$2"); shift 2 ;;
    -i|--device-id|--device_id)
      [[ "$2" =~ ^[0-9]+$ ]] || { echo "--device-id must be a card number" >&2; exit 2; }
      train_args+=(-o "train.device_id=$2"); shift 2 ;;
    --print) print_only=1; shift ;;
    -o|--override) train_args+=(-o "$2"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; train_args+=("$@"); break ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ -f "$config" ]] || { echo "no config file $config" >&2; exit 2; }
cmd=("$python" "$repo/train.py" -c "$config" "${train_args[@]}")
if [[ $print_only -eq 1 ]]; then
  printf '%q ' "${cmd[@]}"; echo
  exit 0
fi
echo "+ ${cmd[*]}" >&2
# shellcheck source=scripts/oom_report.sh
source "$repo/scripts/oom_report.sh"
run_and_report_oom "${cmd[@]}"
