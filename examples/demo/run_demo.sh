#!/usr/bin/env bash
# The demo: prepare the bundled corpus, train a small DeepSpeech2 on CPU, evaluate it (greedy, then beam search with a
# 3-gram LM of the training text), plot the curve.
# Usage: bash examples/demo/run_demo.sh [extra train.py/eval.py overrides, e.g. -o train.epochs=8]
set -euo pipefail
cd "$(dirname "$0")/../.."
python -m mindaudio.cli.prepare --root-path examples/demo_corpus --data-ready --num-workers 2
python train.py -c examples/demo/demo.yaml -o train.resume=auto "$@"   # a rerun continues, or finds the run finished
python eval.py -c examples/demo/demo.yaml "$@" --checkpoint runs/demo --output runs/demo/test_results.jsonl
# what a language model adds: alpha and beta tuned on the validation set (docs/decoding.md)
python scripts/build_arpa.py examples/demo_corpus/train/libri_train_manifest.json --output runs/demo/lm3.arpa --order 3
python eval.py -c examples/demo/demo.yaml "$@" --checkpoint runs/demo --output runs/demo/test_results_lm.jsonl \
    -o eval.decoder=beam -o eval.lm_path=runs/demo/lm3.arpa -o eval.alpha=1.0 -o eval.beta=3.0
python scripts/plot_metrics.py runs/demo/metrics.jsonl --output runs/demo/curve.png --title "DeepSpeech2 demo (CPU)"
cat <<'NEXT'

The demo model is in runs/demo (its learning curve: runs/demo/curve.png). Try it:
  mindaudio-transcribe --checkpoint runs/demo examples/demo_corpus/test_clean/wav/3001-30011-0000.wav --json
  mindaudio-serve --checkpoint runs/demo           # then open http://127.0.0.1:8000/ and drop or record audio
  python train.py -c examples/demo/streaming.yaml  # the streaming model (then mindaudio-transcribe ... --stream)
NEXT
