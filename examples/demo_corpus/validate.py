"""Validation and size/duration summaries of a LibriSpeech-layout corpus (see check())."""
import json
import os
import re

import numpy as np
import soundfile as sf

from grammar import TRANSCRIPT_RE
from synthesis import AUDIO_EXT, SAMPLE_RATE
from voices import SUBSETS, family_problems

FAMILIES_JSON = "families.json"  # speaker -> synthesis family, held-out-families corpus only


def corpus_bytes(root):
    """Apparent size of the audio, transcripts and SPEAKERS.TXT under root."""
    total = 0
    for dirpath, _, files in os.walk(root):
        for fn in files:
            if fn.endswith((AUDIO_EXT, ".trans.txt")) or fn == "SPEAKERS.TXT":
                total += os.path.getsize(os.path.join(dirpath, fn))
    return total


def summarize(root):
    """Per-subset table (speakers, utterances, minutes, MB, bytes per minute); returns total bytes."""
    print(f"{'subset':<16}{'spk':>4}{'utts':>6}{'min':>7}{'MB':>7}{'bytes/min':>11}")
    total_b, total_s = 0, 0.0
    for subset in SUBSETS:
        sdir = os.path.join(root, subset)
        n, secs = 0, 0.0
        for dirpath, _, files in os.walk(sdir):
            for fn in files:
                if fn.endswith(AUDIO_EXT):
                    n += 1
                    secs += sf.info(os.path.join(dirpath, fn)).frames / SAMPLE_RATE
        b = corpus_bytes(sdir)
        total_b += b
        total_s += secs
        print(f"{subset:<16}{len(os.listdir(sdir)):>4}{n:>6}{secs / 60:>7.2f}{b / 1e6:>7.2f}{b / (secs / 60):>11.0f}")
    spk_file = os.path.join(root, "SPEAKERS.TXT")
    total_b += os.path.getsize(spk_file) if os.path.exists(spk_file) else 0
    print(f"total (incl. SPEAKERS.TXT): {total_s / 60:.2f} min, {total_b / 1e6:.3f} MB ({total_b} bytes), "
          f"{total_b / (total_s / 60):.0f} bytes per minute of audio")
    return total_b


def check(root, max_bytes=None):
    """Validate a LibriSpeech-layout tree; print the duration distribution, the size table and, if
    the tree has a families.json, the per-family table. Returns a list of problems."""
    problems = []
    durs, texts, spk_of = {}, {}, {}
    for subset in SUBSETS:
        sdir = os.path.join(root, subset)
        if not os.path.isdir(sdir):
            problems.append(f"missing subset {subset}")
            continue
        durs[subset], texts[subset], spk_of[subset] = [], [], set(os.listdir(sdir))
        for spk in sorted(os.listdir(sdir)):
            for chap in sorted(os.listdir(os.path.join(sdir, spk))):
                cdir = os.path.join(sdir, spk, chap)
                trans = os.path.join(cdir, f"{spk}-{chap}.trans.txt")
                audio = {f[:-len(AUDIO_EXT)] for f in os.listdir(cdir) if f.endswith(AUDIO_EXT)}
                others = [f for f in os.listdir(cdir) if not f.endswith(AUDIO_EXT) and f != os.path.basename(trans)]
                if others:
                    problems.append(f"{cdir}: unexpected files {others}")
                if not os.path.isfile(trans):
                    problems.append(f"{cdir}: no {os.path.basename(trans)}")
                    continue
                ids = []
                with open(trans, encoding="utf-8") as f:
                    for lineno, line in enumerate(f, 1):
                        utt, _, text = line.rstrip("\n").partition(" ")
                        ids.append(utt)
                        texts[subset].append(text)
                        if not re.fullmatch(rf"{spk}-{chap}-\d{{4}}", utt):
                            problems.append(f"{trans}:{lineno}: bad utterance id {utt!r}")
                        if not TRANSCRIPT_RE.match(text) or "  " in text or text != text.strip():
                            problems.append(f"{trans}:{lineno}: text outside A-Z, apostrophe, single spaces: {text!r}")
                for utt in sorted(set(ids) - audio):
                    problems.append(f"{trans}: {utt} has no {AUDIO_EXT}")
                for utt in sorted(audio - set(ids)):
                    problems.append(f"{cdir}/{utt}{AUDIO_EXT} has no transcript line")
                if len(ids) != len(set(ids)):
                    problems.append(f"{trans}: duplicate utterance ids")
                for utt in sorted(audio):
                    path = os.path.join(cdir, utt + AUDIO_EXT)
                    try:
                        info = sf.info(path)
                        x, _ = sf.read(path, dtype="float32")
                    except RuntimeError as e:
                        problems.append(f"{path}: unreadable ({e})")
                        continue
                    if (info.samplerate, info.channels, info.format, info.subtype) != (SAMPLE_RATE, 1, "OGG", "OPUS"):
                        problems.append(f"{path}: {info.samplerate} Hz, {info.channels} ch, {info.format}/{info.subtype}")
                    if len(x) == 0 or len(x) != info.frames or np.max(np.abs(x)) >= 0.999:
                        problems.append(f"{path}: empty, truncated or clipped")
                    durs[subset].append(len(x) / SAMPLE_RATE)
    # cross-subset properties
    if len(texts) == len(SUBSETS):
        all_texts = [t for s in SUBSETS for t in texts[s]]
        if len(all_texts) != len(set(all_texts)):
            problems.append(f"{len(all_texts) - len(set(all_texts))} sentences occur more than once")
        vocab = {w for t in texts["train-clean-100"] for w in t.split()}
        for s in SUBSETS[1:]:
            oov = {w for t in texts[s] for w in t.split()} - vocab
            if oov:
                problems.append(f"{s}: words not in the training text: {sorted(oov)[:10]}")
        for a, b in (("train-clean-100", "dev-clean"), ("train-clean-100", "test-clean"), ("dev-clean", "test-clean")):
            if spk_of[a] & spk_of[b]:
                problems.append(f"speakers in both {a} and {b}: {sorted(spk_of[a] & spk_of[b])}")
        n_apos = sum("'" in t for t in all_texts)
        print(f"text: {len(all_texts)} sentences, {len(vocab)} distinct training words, "
              f"{100 * n_apos / max(1, len(all_texts)):.0f} % with an apostrophe, "
              f"{np.mean([len(t.split()) for t in all_texts]):.1f} words on average")
    edges = [0, 1, 1.5, 2, 2.5, 3, 3.5, 4, 5, 100]
    print("duration histogram (s):  " + "  ".join(f"{a:g}-{b:g}" if b < 100 else f">{a:g}" for a, b in zip(edges, edges[1:])))
    for subset, d in durs.items():
        hist, _ = np.histogram(d, bins=edges)
        q = np.percentile(d, [0, 10, 50, 90, 100]) if d else [0] * 5
        print(f"  {subset:<16}" + "  ".join(f"{h:>5d}" for h in hist)
              + "   min/p10/median/p90/max " + "/".join(f"{v:.2f}" for v in q))
    if os.path.isdir(root) and not problems:
        total = summarize(root)
        if max_bytes is not None and total > max_bytes:
            problems.append(f"corpus is {total} bytes, over the {max_bytes} budget")
    if os.path.isfile(os.path.join(root, FAMILIES_JSON)):
        problems += check_families(root, spk_of)
    return problems


def check_families(root, spk_of):
    """Check families.json against the tree (every speaker in exactly one family, in the family's
    subset) and the held-out rules (voices.family_problems); print utterances and minutes per family."""
    with open(os.path.join(root, FAMILIES_JSON), encoding="utf-8") as f:
        fams = json.load(f)["families"]
    problems = [f"{FAMILIES_JSON}: {p}" for p in family_problems(
        [(name, fam["subset"], fam["held_out"], list(fam["speakers"].values())) for name, fam in fams.items()])]
    listed = {}
    for name, fam in fams.items():
        for spk in fam["speakers"]:
            if spk in listed:
                problems.append(f"{FAMILIES_JSON}: speaker {spk} in families {listed[spk]} and {name}")
            listed[spk] = name
            if spk not in spk_of.get(fam["subset"], set()):
                problems.append(f"{FAMILIES_JSON}: speaker {spk} of {name} is not in {fam['subset']}")
    unlisted = sorted(set().union(*spk_of.values()) - set(listed)) if spk_of else []
    if unlisted:
        problems.append(f"{FAMILIES_JSON}: speakers without a family: {unlisted[:10]}")
    print(f"{'family':<24}{'subset':<16}{'spk':>4}{'utts':>6}{'min':>7}")
    for name, fam in fams.items():
        n, secs = 0, 0.0
        for spk in fam["speakers"]:
            for dirpath, _, files in os.walk(os.path.join(root, fam["subset"], str(spk))):
                for fn in files:
                    if fn.endswith(AUDIO_EXT):
                        n += 1
                        secs += sf.info(os.path.join(dirpath, fn)).frames / SAMPLE_RATE
        print(f"{name:<24}{fam['subset']:<16}{len(fam['speakers']):>4}{n:>6}{secs / 60:>7.2f}")
    return problems
