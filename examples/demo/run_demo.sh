#!/usr/bin/env bash
# The demo: prepare the bundled espeak-ng corpus, train a small DeepSpeech2 on CPU, evaluate it, plot the curve.
# Usage: bash examples/demo/run_demo.sh [extra train.py overrides, e.g. -o train.epochs=5]
set -euo pipefail
cd "$(dirname "$0")/../.."
python -m mindaudio.data.librispeech --root_path examples/demo_corpus --data_ready True --num_workers 2
python train.py -c examples/demo/demo.yaml -o train.resume=auto "$@"   # a rerun continues, or finds the run finished
python eval.py -c examples/demo/demo.yaml "$@" --checkpoint runs/demo --output runs/demo/test_results.jsonl
python scripts/plot_metrics.py runs/demo/metrics.jsonl -o runs/demo/curve.png --title "DeepSpeech2 demo (CPU)"
