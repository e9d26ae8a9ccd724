#!/usr/bin/env python3
"""Generate a small LibriSpeech-layout corpus of synthetic (espeak-ng + flite) English speech.

The corpus lets a newcomer prepare, train and evaluate a small DeepSpeech2 on CPU in
minutes without downloading anything. Layout, exactly like LibriSpeech::

    LibriSpeech/<subset>/<speaker>/<chapter>/<speaker>-<chapter>-<utt:04d>.opus
    LibriSpeech/<subset>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt
    LibriSpeech/SPEAKERS.TXT        # one line per synthetic speaker: how it was made

for the subsets ``train-clean-100``, ``dev-clean`` and ``test-clean``. The work is split by
concern: grammar.py (sentences), voices.py (speakers), synthesis.py (audio, Ogg Opus),
validate.py (checks and summaries); this driver lays the corpus out and writes it.

Two corpora:

* the bundled one (default, ``--out``): dev/test are unseen *speakers* (see voices.DEMO_VOICES);
* ``--unseen-families DIR``: a corpus of the same layout and size whose dev/test speakers
  come from synthesis *families* that training never hears (see voices.UNSEEN_FAMILIES),
  with LibriSpeech/families.json mapping every speaker to its family. Not committed.

Deterministic: everything random comes from the corpus seed; per-utterance randomness is
seeded by the utterance id, so the result does not depend on worker scheduling.
Output may still differ between espeak-ng / flite / libsndfile (libopus) versions: the
corpus is committed, this script documents how it was made.

Idempotent: the corpus is built in a temporary sibling directory and swapped in with
renames only once it is complete (and, for the bundled corpus, within the size budget).

Usage::

    python examples/demo_corpus/make_demo_corpus.py --jobs 2       # writes examples/demo_corpus/LibriSpeech
    python examples/demo_corpus/make_demo_corpus.py --out DIR      # writes DIR/LibriSpeech
    python examples/demo_corpus/make_demo_corpus.py --check-only   # validates the existing corpus
    python examples/demo_corpus/make_demo_corpus.py --unseen-families runs/unseen_corpus --jobs 2
    python examples/demo_corpus/make_demo_corpus.py --out /tmp/x --max-utts-per-speaker 2   # quick trial

Requires: espeak-ng and flite (Debian packages ``espeak-ng``, ``flite``), numpy, scipy,
soundfile >= 0.12 with libsndfile >= 1.0.29 (Opus support).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import soundfile as sf

from grammar import TRANSCRIPT_RE, make_texts
from synthesis import AUDIO_EXT, SAMPLE_RATE, synthesize, utterance_rng, write_opus
from validate import FAMILIES_JSON, check, summarize
from voices import (DEMO_CHAPTER_SIZES, DEMO_VOICES, SUBSETS, UNSEEN_CHAPTER_SIZES, UNSEEN_FAMILIES, UNSEEN_VOICES,
                    calibrate_rates, check_voices, draw_speakers, family_of_speakers, family_problems)

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20240611  # bundled corpus
UNSEEN_SEED = 20240612  # held-out-families corpus: other sentences and settings
MAX_BYTES = 10 * 1000 * 1000  # bundled corpus: audio + transcripts + SPEAKERS.TXT, apparent size


def plan(spk_table, chapter_sizes, seed, max_utts_per_speaker=None):
    """Sentences and layout, without audio: ({transcript path: content}, [utterance task]), a task
    being (subset, speaker, utterance id, audio path, text to say, voice, settings); paths are
    relative to LibriSpeech/. With max_utts_per_speaker, only each speaker's first utterances
    (the sentences are drawn for the whole corpus all the same, so every file is as in a full run)."""
    rng = np.random.default_rng(seed)
    per_subset = {s: [x for x in spk_table if x[0] == s] for s in SUBSETS}

    def sizes(subset, k):
        return chapter_sizes[subset][k % len(chapter_sizes[subset])]
    counts = [sum(sum(sizes(s, k)) for k in range(len(per_subset[s]))) for s in SUBSETS]
    texts = dict(zip(SUBSETS, make_texts(rng, *counts)))
    transcripts, tasks = {}, []
    for subset in SUBSETS:
        pos = 0
        for j, (_, spk, voice, settings) in enumerate(per_subset[subset]):
            n_spk = 0
            for k, n in enumerate(sizes(subset, j)):
                chapter = spk * 10 + k + 1  # e.g. speaker 1001 -> chapters 10011, 10012
                rel = os.path.join(subset, str(spk), str(chapter))
                lines = []
                for i, (say, text) in enumerate(texts[subset][pos:pos + n]):
                    assert TRANSCRIPT_RE.match(text), text
                    if max_utts_per_speaker is not None and n_spk >= max_utts_per_speaker:
                        break
                    n_spk += 1
                    utt_id = f"{spk}-{chapter}-{i:04d}"
                    lines.append(f"{utt_id} {text}\n")
                    tasks.append((subset, spk, utt_id, os.path.join(rel, utt_id + AUDIO_EXT), say, voice, settings))
                pos += n
                if lines:
                    transcripts[os.path.join(rel, f"{spk}-{chapter}.trans.txt")] = "".join(lines)
        assert pos == len(texts[subset])
    return transcripts, tasks


def speakers_txt(spk_table, minutes, family_of=None):
    """SPEAKERS.TXT: one line per speaker with its voice and settings (and family, if given)."""
    corpus = "held-out-families corpus" if family_of else "demo corpus"
    lines = [f"; Synthetic speakers of the {corpus}; see ../README.md and make_demo_corpus.py.\n",
             "; WARP: resampling factor (pitch and formants x WARP); TILT: first-order spectral tilt;\n",
             "; CPS: target speaking rate in characters/s; RATE: the espeak-ng words/minute or flite\n",
             "; duration_stretch giving it; PITCH: espeak-ng -p or flite int_f0_target_mean in Hz\n",
             "; (- : the voice's own); LEVEL: speech RMS."
             + (" FAMILY: see families.json.\n" if family_of else "\n"),
             ";ID  |SUBSET          |MINUTES|VOICE                    |CPS |RATE  |PITCH|WARP |TILT |LEVEL"
             + (" |FAMILY\n" if family_of else "\n")]
    for subset, spk, voice, s in spk_table:
        rate = f"{s['stretch']:.3f}" if "stretch" in s else str(s["wpm"])
        pitch = (str(s["f0"]) if s["f0"] else "-") if "stretch" in s else str(s["pitch"])
        family = f"|{family_of[spk]}" if family_of else ""
        lines.append(f"{spk:<5}|{subset:<16}|{minutes[spk]:>7.2f}|{voice:<25}|{s['cps']:<4}|{rate:<6}|{pitch:<5}|"
                     f"{s['warp']:.3f}|{s['tilt']:+.2f}|{s['level']:.4f}{family}\n")
    return "".join(lines)


def families_json(spk_table, family_of):
    """families.json: each family's subset, description, held-out traits and speakers, plus a
    flat speaker -> family map for grouping evaluation results."""
    fams = {name: {"subset": subset, "description": desc, "held_out": list(held_out),
                   "speakers": {str(spk): v for _, spk, v, _ in spk_table if family_of[spk] == name}}
            for name, subset, held_out, _, desc in UNSEEN_FAMILIES}
    return json.dumps({"families": fams, "speaker_family": {str(k): v for k, v in family_of.items()}}, indent=1) + "\n"


def build(out_root, jobs, spk_table, chapter_sizes, seed, max_utts_per_speaker=None, family_of=None):
    """Write the corpus into out_root (the LibriSpeech/ directory). Returns [(subset, speaker, seconds)]."""
    transcripts, tasks = plan(spk_table, chapter_sizes, seed, max_utts_per_speaker)
    for rel, content in transcripts.items():
        os.makedirs(os.path.join(out_root, os.path.dirname(rel)), exist_ok=True)
        with open(os.path.join(out_root, rel), "w", encoding="utf-8", newline="\n") as f:
            f.write(content)
    tmpdir = tempfile.mkdtemp(prefix="demo-synth-")

    def run(task):
        subset, spk, utt_id, rel, say, voice, settings = task
        y = synthesize(say, voice, settings, utterance_rng(seed, utt_id), tmpdir, utt_id)
        write_opus(os.path.join(out_root, rel), y, utt_id)
        return subset, spk, len(y) / SAMPLE_RATE

    try:
        with ThreadPoolExecutor(max_workers=jobs) as ex:
            results = list(ex.map(run, tasks))
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    minutes = {}
    for _, spk, dur in results:
        minutes[spk] = minutes.get(spk, 0.0) + dur / 60
    with open(os.path.join(out_root, "SPEAKERS.TXT"), "w", encoding="utf-8", newline="\n") as f:
        f.write(speakers_txt(spk_table, minutes, family_of))
    if family_of:
        with open(os.path.join(out_root, FAMILIES_JSON), "w", encoding="utf-8", newline="\n") as f:
            f.write(families_json(spk_table, family_of))
    return results


def swap_in(staging, final):
    """Replace final by staging with renames: old -> trash, staging -> final, then delete trash."""
    trash = None
    if os.path.exists(final):
        trash = tempfile.mkdtemp(prefix=".LibriSpeech.old-", dir=os.path.dirname(final))
        os.rename(final, os.path.join(trash, "LibriSpeech"))
    os.chmod(staging, 0o755)
    os.rename(staging, final)
    if trash:
        shutil.rmtree(trash)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=HERE, help="directory to hold LibriSpeech/ (default: next to this script)")
    ap.add_argument("--unseen-families", metavar="DIR",
                    help="write (or, with --check-only, validate) the held-out-families corpus in DIR/LibriSpeech "
                         "instead of the bundled one")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel synthesizer processes")
    ap.add_argument("--check-only", action="store_true", help="only validate an existing corpus")
    ap.add_argument("--max-utts-per-speaker", type=int, metavar="N",
                    help="quick trial: synthesize only each speaker's first N utterances (N >= 1; the files are "
                         "those of a full run; not into the bundled corpus, no final check)")
    args = ap.parse_args(argv)
    unseen = args.unseen_families is not None
    if unseen and args.out != HERE:
        ap.error("--unseen-families DIR names the output directory: don't also give --out")
    out = os.path.abspath(args.unseen_families if unseen else args.out)
    final = os.path.join(out, "LibriSpeech")
    partial = args.max_utts_per_speaker is not None
    max_bytes = None if unseen or partial else MAX_BYTES
    if args.check_only:
        problems = check(final, max_bytes)
        print("\n".join(problems) or "corpus OK")
        sys.exit(1 if problems else 0)
    if partial and args.max_utts_per_speaker < 1:
        ap.error("--max-utts-per-speaker must be at least 1")
    if (unseen or partial) and os.path.realpath(out) == os.path.realpath(HERE):
        ap.error("this would replace the bundled corpus: choose another directory")

    if unseen:
        voices, chapter_sizes, seed = UNSEEN_VOICES, UNSEEN_CHAPTER_SIZES, UNSEEN_SEED
        problems = family_problems([f[:4] for f in UNSEEN_FAMILIES])
        if problems:
            sys.exit("voices.UNSEEN_FAMILIES breaks its own rules:\n" + "\n".join(problems))
    else:
        voices, chapter_sizes, seed = DEMO_VOICES, DEMO_CHAPTER_SIZES, SEED
    for tool, pkg in (("espeak-ng", "espeak-ng"), ("flite", "flite")):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: apt-get install {pkg}")
    print(subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout.strip())
    print("flite " + subprocess.run(["flite", "--version"], capture_output=True, text=True).stdout.split("version:")[-1].strip())
    print(f"soundfile {sf.__version__}, libsndfile {sf.__libsndfile_version__}")
    check_voices([v for s in SUBSETS for v in voices[s]])
    spk_table = calibrate_rates(draw_speakers(voices, seed))
    family_of = family_of_speakers(spk_table) if unseen else None

    os.makedirs(out, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".LibriSpeech.tmp-", dir=out)
    t0 = time.time()
    try:
        build(staging, max(1, args.jobs), spk_table, chapter_sizes, seed, args.max_utts_per_speaker, family_of)
        print(f"synthesized in {time.time() - t0:.0f} s")
        grand = summarize(staging)
        if max_bytes is not None and grand > max_bytes:
            raise SystemExit(f"corpus would be larger than {max_bytes / 1e6:.0f} MB: "
                             "reduce the counts or the bitrate (existing corpus left unchanged)")
        swap_in(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    print(f"wrote {final}")
    if partial:
        print("partial corpus (--max-utts-per-speaker): not checked")
        return
    problems = check(final, max_bytes)
    print("\n".join(problems) or "corpus OK")
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
