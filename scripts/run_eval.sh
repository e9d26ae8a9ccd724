#!/usr/bin/env bash
# Evaluate a checkpoint on the test manifests (a thin wrapper around eval.py).
set -euo pipefail
usage() {
  cat <<'USAGE'
Usage: scripts/run_eval.sh --checkpoint PATH [options] [-- extra eval.py arguments]

Evaluate a DeepSpeech2 checkpoint (file or run directory) on every manifest of data.test_manifests and print
"<name>: WER x.xx CER y.yy (N utterances, <decoder>)" per manifest.

Options:
  --checkpoint PATH    checkpoint file, or a run directory (its best checkpoint)            (required)
  -c, --config FILE    config file (default: the config stored in the checkpoint)
  --output FILE        per-utterance results (JSON lines) + FILE-stem_summary.json
                       (default: <run dir or checkpoint dir>/eval_<decoder>.jsonl)
  --manifests M...     manifests to score instead of data.test_manifests (until the next option)
  --lm FILE            KenLM ARPA/binary LM: implies --decoder beam
  --decoder NAME       greedy | beam
  --alpha A            LM weight        --beta B          word insertion bonus
  --beam-width W       beam width       --device D        CPU | Ascend (train.device_target)
  --batch-size N       eval.batch_size (results do not depend on it)
  -h, --help           this help

Examples:
  scripts/run_eval.sh --checkpoint runs/deepspeech2 -c deepspeech2.yaml
  scripts/run_eval.sh --checkpoint runs/demo --lm runs/demo/lm3.arpa --alpha 1.0 --beta 1.0
Exit status: that of eval.py (0 ok, 1 error, 2 config error, 3 some audio unreadable).
USAGE
}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
checkpoint="" output="" decoder="" config=()
overrides=() manifests=() extra=()
need() { [[ $# -ge 2 && -n "$2" ]] || { echo "error: $1 needs a value (see --help)" >&2; exit 2; }; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --checkpoint) need "$@"; checkpoint="$2"; shift 2 ;;
    -c|--config) need "$@"; config=(-c "$2"); shift 2 ;;
    --output) need "$@"; output="$2"; shift 2 ;;
    --lm) need "$@"; overrides+=(-o "eval.lm_path=$2"); decoder="${decoder:-beam}"; shift 2 ;;
    --decoder) need "$@"; decoder="$2"; shift 2 ;;
    --alpha) need "$@"; overrides+=(-o "eval.alpha=$2"); shift 2 ;;
    --beta) need "$@"; overrides+=(-o "eval.beta=$2"); shift 2 ;;
    --beam-width) need "$@"; overrides+=(-o "eval.beam_width=$2"); shift 2 ;;
    --batch-size) need "$@"; overrides+=(-o "eval.batch_size=$2"); shift 2 ;;
    --device) need "$@"; overrides+=(-o "train.device_target=$2"); shift 2 ;;
    --manifests) shift; while [[ $# -gt 0 && "$1" != -* ]]; do manifests+=("$1"); shift; done ;;
    --) shift; extra+=("$@"); break ;;
    *) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ -n "$checkpoint" ]] || { echo "error: --checkpoint is required (see --help)" >&2; exit 2; }
[[ -n "$decoder" ]] && overrides+=(-o "eval.decoder=$decoder")
if [[ -z "$output" ]]; then
  if [[ -d "$checkpoint" ]]; then dir="$checkpoint"; else dir="$(dirname "$checkpoint")"; fi
  output="$dir/eval_${decoder:-default}.jsonl"
fi
args=(--checkpoint "$checkpoint" --output "$output")
[[ ${#manifests[@]} -gt 0 ]] && args+=(--manifests "${manifests[@]}")
set -x
exec python "$here/../eval.py" ${config[@]+"${config[@]}"} ${overrides[@]+"${overrides[@]}"} "${args[@]}" \
  ${extra[@]+"${extra[@]}"}
