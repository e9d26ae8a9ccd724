#!/usr/bin/env python
"""Train recipe variants of the demo on the bundled corpus and compare their validation CER against training time.

    python examples/demo/ablation.py                              # every variant (about 5 minutes each)
    python examples/demo/ablation.py --variants base no_specaug --epochs 8
    python examples/demo/ablation.py --plot-only                  # redraw the PNG from the JSON lines
    python examples/demo/ablation.py --corpus runs/unseen_corpus --out runs/ablation_unseen --epochs 10 \
        --variants demo demo_speed_vtlp                           # on voices of synthesis families never trained on

``--corpus`` takes another corpus of the demo's layout, prepared by the preparation command if needed, e.g. the
held-out-families corpus (``python examples/demo_corpus/make_demo_corpus.py --unseen-families runs/unseen_corpus``):
its test set is then also scored per synthesis family (``LibriSpeech/families.json``).

Each variant is ``examples/demo/demo.yaml`` plus a few overrides, trained by train.py into ``OUT/<variant>``
(``OUT`` = runs/ablation). One JSON line per variant goes to ``OUT/ablation.jsonl`` (and stdout): the overrides,
per-epoch validation CER/WER and cumulative training seconds (validation excluded), the wall time, and the test-clean
greedy CER/WER of the last epoch's checkpoint. ``OUT/ablation.png`` overlays the validation-CER curves against
training time. Variants run one after the other: never two trainings at once on a small machine.
"""
import argparse
import json
import os
import subprocess
import sys
import re
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(REPO, "examples", "demo", "demo.yaml")
CORPUS = os.path.join(REPO, "examples", "demo_corpus")
EVAL_LINE = re.compile(r"^(\S+): WER (\d+\.\d\d) CER (\d+\.\d\d)", re.M)   # eval.py's line per test manifest

# The demo recipe shipped before the ablation (the first screen's baseline, "base"): demo.yaml with these overrides.
BEFORE = ["model.conv_kernel=[41,11]", "model.rnn_hidden=128", "train.batch_size=8", "train.lr=1e-3",
          "train.warmup_steps=100", "train.schedule=cosine", "train.grad_clip=400.0", "data.sortagrad=true",
          "augment.enabled=true", "augment.freq_masks=1", "augment.freq_width=15", "augment.time_masks=1",
          "augment.time_width=10"]
# the "plain" recipe of the independent PyTorch check, on the old network: constant Adam 1e-3, no warm-up, no SpecAugment, no SortaGrad, clip 5
PLAIN = BEFORE + ["train.schedule=constant", "train.warmup_steps=0", "augment.enabled=false", "data.sortagrad=false",
                  "train.grad_clip=5.0"]

# name → overrides of demo.yaml (later overrides win): what each variant changes, and nothing else
VARIANTS = {
    "demo": [],                                               # examples/demo/demo.yaml as shipped
    "base": BEFORE,
    "warmup_0": BEFORE + ["train.warmup_steps=0"],
    "warmup_500": BEFORE + ["train.warmup_steps=500"],
    "constant_lr": BEFORE + ["train.schedule=constant"],
    "exponential_0.93": BEFORE + ["train.schedule=exponential", "train.lr_decay=0.93"],
    "lr_5e-4": BEFORE + ["train.lr=5e-4"],
    "lr_2e-3": BEFORE + ["train.lr=2e-3"],
    "no_specaug": BEFORE + ["augment.enabled=false"],
    "specaug_from_epoch_2": BEFORE + ["augment.start_epoch=2"],
    "specaug_strong": BEFORE + ["augment.freq_masks=2", "augment.time_masks=2", "augment.time_width=20"],
    "clip_1": BEFORE + ["train.grad_clip=1.0"],
    "clip_5": BEFORE + ["train.grad_clip=5.0"],
    "no_sortagrad": BEFORE + ["data.sortagrad=false"],
    "batch_16": BEFORE + ["train.batch_size=16"],
    "batch_4": BEFORE + ["train.batch_size=4"],
    "no_feature_norm": BEFORE + ["features.normalize=none"],
    "running_norm": BEFORE + ["features.normalize=running"],
    "conv_21x11": BEFORE + ["model.conv_kernel=[21,11]"],
    "hidden_256": BEFORE + ["model.rnn_hidden=256"],
    "plain": PLAIN,
    "plain_h256": PLAIN + ["model.rnn_hidden=256"],
    "plain_h256_k21": PLAIN + ["model.rnn_hidden=256", "model.conv_kernel=[21,11]"],
    "plain_h256_k21_sortagrad": PLAIN + ["model.rnn_hidden=256", "model.conv_kernel=[21,11]", "data.sortagrad=true"],
    "plain_h256_k21_b4": PLAIN + ["model.rnn_hidden=256", "model.conv_kernel=[21,11]", "train.batch_size=4"],
    "demo_specaug": ["augment.enabled=true"],
    # the waveform and spectrum perturbations (mindaudio/data/augment.py), on the shipped recipe before them
    "demo_speed": ["augment.speed_factors=[0.9,1.0,1.1]"],
    "demo_vtlp": ["augment.vtlp_warp=0.1"],
    "demo_gain": ["augment.gain_db=6"],
    "demo_speed_vtlp": ["augment.speed_factors=[0.9,1.0,1.1]", "augment.vtlp_warp=0.1"],
    "demo_speed_vtlp_specaug": ["augment.speed_factors=[0.9,1.0,1.1]", "augment.vtlp_warp=0.1",
                                "augment.enabled=true"],
    "demo_speed_vtlp_from_epoch_4": ["augment.speed_factors=[0.9,1.0,1.1]", "augment.vtlp_warp=0.1",
                                     "augment.start_epoch=4"],
    "demo_wide_speed_vtlp": ["augment.speed_factors=[0.8,0.9,1.0,1.1,1.2]", "augment.vtlp_warp=0.2"],
    "demo_wide_speed_vtlp_specaug": ["augment.speed_factors=[0.8,0.9,1.0,1.1,1.2]", "augment.vtlp_warp=0.2",
                                     "augment.enabled=true"],
    "demo_batch_2": ["train.batch_size=2"],
}


def prepared_manifests(corpus):
    """The corpus's manifests, prepared by the project's own script if needed."""
    paths = {split: os.path.join(corpus, split, f"libri_{split}_manifest.json")
             for split in ("train", "val", "test_clean")}
    if not all(os.path.isfile(p) for p in paths.values()):
        subprocess.run([sys.executable, "-m", "mindaudio.cli.prepare", "--root-path", corpus,
                        "--data-ready", "--num-workers", "2", "--no-progress"], check=True)
    return paths


def family_manifests(corpus, test_manifest, out):
    """{family: test manifest of its speakers} from the corpus's families.json, or {} without one."""
    path = os.path.join(corpus, "LibriSpeech", "families.json")
    if not os.path.isfile(path):
        return {}
    with open(path) as f:
        family_of = json.load(f)["speaker_family"]
    with open(test_manifest) as f:
        lines = f.readlines()
    os.makedirs(os.path.join(out, "families"), exist_ok=True)
    manifests = {}
    for family in sorted({family_of[json.loads(line)["id"].split("-")[0]] for line in lines}):
        manifests[family] = os.path.join(out, "families", f"{family}.json")
        with open(manifests[family], "w") as f:
            f.writelines(line for line in lines if family_of[json.loads(line)["id"].split("-")[0]] == family)
    return manifests


def run_variant(name, overrides, out, epochs, manifests, families):
    run_dir = os.path.join(out, name)
    data = [f"data.train_manifest={manifests['train']}", f"data.val_manifest={manifests['val']}"]
    common = data + [f"train.output_dir={run_dir}", "train.resume=auto"]
    common += [f"train.epochs={epochs}"] if epochs else []
    cmd = [sys.executable, os.path.join(REPO, "train.py"), "-c", DEMO]
    for o in common + overrides:
        cmd += ["-o", o]
    start = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    wall = time.time() - start
    if proc.returncode:
        raise RuntimeError(f"{name}: train.py failed:\n{proc.stderr[-3000:]}")
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        rows = [json.loads(line) for line in f]
    val = [r for r in rows if "val_cer" in r]
    last = sorted(f for f in os.listdir(os.path.join(run_dir, "checkpoints")) if f.startswith("step_"))[-1]
    tests = [manifests["test_clean"], *families.values()]
    test = subprocess.run([sys.executable, os.path.join(REPO, "eval.py"), "--checkpoint",
                           os.path.join(run_dir, "checkpoints", last), "-o",
                           f"data.test_manifests=[{','.join(tests)}]"], capture_output=True, text=True, cwd=REPO)
    scores = {m.group(1): (float(m.group(2)), float(m.group(3))) for m in EVAL_LINE.finditer(test.stdout)}
    words = scores.get("test_clean")
    row = {"variant": name, "overrides": overrides, "corpus": os.path.relpath(os.path.dirname(os.path.dirname(
               manifests["train"])), REPO), "epochs": len(val), "wall_s": round(wall, 1),
           "train_s": [r.get("train_s") for r in val], "val_cer": [round(r["val_cer"], 2) for r in val],
           "val_wer": [round(r["val_wer"], 2) for r in val],
           "test_cer": words[1] if words else None, "test_wer": words[0] if words else None}
    if families:
        row["test_cer_by_family"] = {f: scores[f][1] for f in families if f in scores}
    return row


def plot(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(9, 5.5))
    for r in results:
        ax.plot(r["train_s"], r["val_cer"], marker="o", ms=3, lw=2.2 if r["variant"] in ("base", "demo") else 1.2,
                label=f"{r['variant']} (test CER {r['test_cer']})")
    ax.axvline(300, color="grey", ls=":", lw=1)
    ax.set_xlabel("training time on this machine (s), validation excluded")
    ax.set_ylabel("validation CER (%), greedy, unseen voices")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("DeepSpeech2 demo recipe ablation")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=list(VARIANTS))
    p.add_argument("--epochs", type=int, default=0, help="train.epochs for every variant (default: demo.yaml's)")
    p.add_argument("--out", default=os.path.join(REPO, "runs", "ablation"))
    p.add_argument("--corpus", default=CORPUS, help="a corpus of the demo's layout (default: the bundled one)")
    p.add_argument("--plot-only", action="store_true")
    p.add_argument("--also", nargs="*", default=[], help="more ablation.jsonl files to draw (e.g. another --out's)")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    table = os.path.join(args.out, "ablation.jsonl")
    if not args.plot_only:
        manifests = prepared_manifests(args.corpus)
        families = family_manifests(args.corpus, manifests["test_clean"], args.out)
        for name in args.variants:
            result = run_variant(name, VARIANTS[name], args.out, args.epochs, manifests, families)
            print(json.dumps(result), flush=True)
            with open(table, "a") as f:
                f.write(json.dumps(result) + "\n")
    latest = {}
    for path in args.also + [table]:
        with open(path) as f:
            for line in f:
                r = json.loads(line)
                latest[r["variant"]] = r
    plot(list(latest.values()), os.path.join(args.out, "ablation.png"))
    print(f"wrote {os.path.join(args.out, 'ablation.png')}")


if __name__ == "__main__":
    main()
